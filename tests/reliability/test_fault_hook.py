"""The crash points the crash tests use (``TRENDS_FAULT``): where they fire, and only there."""

from __future__ import annotations

import signal

import pytest

from pipeline import faults

pytestmark = pytest.mark.reliability


@pytest.fixture
def signals(monkeypatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(faults.os, "kill", lambda pid, sig: sent.append(sig))
    monkeypatch.setattr(faults, "_fired", set())
    return sent


def test_a_point_fires_only_in_its_stage(monkeypatch, signals):
    monkeypatch.setenv(faults.FAULT_ENV, "embed:middle")
    faults.crash_point("middle")  # outside any stage
    with faults.stage("ingest"):
        faults.crash_point("middle")
    with faults.stage("embed"):
        faults.crash_point("before_commit")
        assert signals == []
        faults.crash_point("middle")
    assert signals == [signal.SIGKILL]


def test_start_fires_on_entering_the_stage_and_stop_fires_once(monkeypatch, signals):
    monkeypatch.setenv(faults.FAULT_ENV, "report:start:stop")

    @faults.in_stage("report")
    def render() -> str:
        return "rendered"

    assert render() == "rendered" and render() == "rendered"
    assert signals == [signal.SIGSTOP]  # let go with SIGCONT, the process runs on


def test_unset_or_empty_is_a_no_op(monkeypatch, signals):
    for value in (None, ""):
        if value is None:
            monkeypatch.delenv(faults.FAULT_ENV, raising=False)
        else:
            monkeypatch.setenv(faults.FAULT_ENV, value)
        for stage in faults.STAGES:
            with faults.stage(stage):
                for point in faults.POINTS:
                    faults.crash_point(point)
    assert signals == []


def test_store_commits_pass_the_points(monkeypatch, signals, store):
    monkeypatch.setenv(faults.FAULT_ENV, "ingest:before_commit")
    with faults.stage("ingest"), store.transaction():
        store.execute("create table t (x integer)")
    assert signals == [signal.SIGKILL]
