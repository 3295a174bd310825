"""Crashes: SIGKILL every stage at its start, in its middle and just before it commits.

A home holds a complete run on 40 real papers (``seed``). Each test copies it and runs
``trends run A B`` (20 more papers: ingest, embed, topics, analyze, report, publish) with
``TRENDS_FAULT=STAGE:POINT`` (``pipeline/faults.py``), which kills the process there. Then:

- the published database and the site are byte for byte those of the seed, and the published
  database opens read-only with tables that agree with each other;
- ``trends run A B`` again succeeds, and the working database, the published database, the
  site and the home's file listing equal those of an uninterrupted ``trends run A B``
  (``baseline``), apart from the columns that record when and by which attempt a row was
  written (``crashkit.VOLATILE_COLUMNS``).

The incremental run places new papers into the seed's fit; the first fit of a fresh home is
killed separately (:func:`test_kill_first_topic_fit_and_rerun`).

Two writers: a second ``trends run`` while one holds the store refuses at once with a message
naming the holder, and two runs started together leave the store of one run. Readers querying
the published database while a run writes are tested in
``tests/integration/test_end_to_end.py`` (``test_readers_are_never_blocked_during_a_run``).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from conftest import ARXIV
from crashkit import (
    copy_home,
    file_hash,
    home_listing,
    published_state,
    run_trends,
    site_digest,
    start_trends,
    store_checksums,
)

from pipeline.faults import POINTS, STAGES

pytestmark = [pytest.mark.reliability, pytest.mark.e2e]  # real runs: not in `make test-fast`
HOSTILE_TITLE = '<script>alert("x")</script> <img src=x onerror=alert(1)> & Co: a title'


@dataclass(frozen=True)
class Snapshot:
    """What a finished run left in a home."""

    home: Path
    work: dict
    published: dict
    published_sha: str
    site: dict
    listing: list[str]


def snapshot(home: Path) -> Snapshot:
    db, work = home / "trends.duckdb", home / "work" / "trends.duckdb"
    return Snapshot(
        home,
        store_checksums(work),
        store_checksums(db),
        file_hash(db),
        site_digest(home / "site", db),
        home_listing(home),
    )


@pytest.fixture(scope="module")
def slices(tmp_path_factory) -> tuple[Path, Path]:
    """60 real papers spread over the year: A (40) and B (20, one with a hostile title)."""
    folder = tmp_path_factory.mktemp("slices")
    frame = pd.read_parquet(ARXIV).sort_values("arxiv_id", ignore_index=True)
    picked = frame.iloc[:: len(frame) // 60].head(60).reset_index(drop=True)
    a, b = picked[picked.index % 3 != 2], picked[picked.index % 3 == 2].copy()
    b.loc[b.index[0], "title"] = HOSTILE_TITLE
    paths = folder / "a.parquet", folder / "b.parquet"
    a.to_parquet(paths[0])
    b.to_parquet(paths[1])
    return paths


@pytest.fixture(scope="module")
def seed(slices, tmp_path_factory) -> Snapshot:
    home = tmp_path_factory.mktemp("seed") / "home"
    code, log = run_trends(home, "run", str(slices[0]))
    assert code == 0, log
    return snapshot(home)


@pytest.fixture(scope="module")
def baseline(seed, slices, tmp_path_factory) -> Snapshot:
    home = copy_home(seed.home, tmp_path_factory.mktemp("baseline") / "home")
    code, log = run_trends(home, "run", *map(str, slices))
    assert code == 0, log
    assert "received 20 = stored 20 (new 20" in log and "embedded 20 papers" in log, log
    return snapshot(home)


def test_baseline_adds_the_papers_and_escapes_the_hostile_title(seed, baseline):
    assert published_state(seed.home / "trends.duckdb")["papers"] == 40
    assert published_state(baseline.home / "trends.duckdb")["papers"] == 60
    site = (baseline.home / "site").resolve()
    texts = {p: p.read_text() for p in site.rglob("*") if p.suffix in (".html", ".js")}
    assert not [p for p, t in texts.items() if "<script>alert" in t or "<img src=x" in t]
    index = texts[site / "assets" / "search-index.js"]
    assert r"\u003cscript\u003ealert" in index  # the title is there, as data


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("stage", STAGES)
def test_kill_and_rerun(stage, point, seed, baseline, slices, tmp_path):
    home = copy_home(seed.home, tmp_path / "home")
    code, log = run_trends(home, "run", *map(str, slices), fault=f"{stage}:{point}")
    assert code == -signal.SIGKILL, log

    # readers saw nothing of the killed run: the published database is the seed's, and so is
    # the site unless the report stage finished before the kill (it swaps the site in itself)
    assert file_hash(home / "trends.duckdb") == seed.published_sha
    assert published_state(home / "trends.duckdb")["papers"] == 40
    site = site_digest(home / "site", home / "trends.duckdb")
    assert site == (baseline.site if stage == "publish" else seed.site)

    code, log = run_trends(home, "run", *map(str, slices))
    assert code == 0, log
    after = snapshot(home)
    assert after.work == baseline.work
    assert after.published == baseline.published
    assert after.site == baseline.site
    assert after.listing == baseline.listing  # nothing left behind (temporary files, folders)


def test_kill_first_topic_fit_and_rerun(seed, slices, tmp_path):
    # the fit is computed and about to commit: the rerun fits again, to the same topics
    home = tmp_path / "home"
    code, log = run_trends(home, "run", str(slices[0]), fault="topics:before_commit")
    assert code == -signal.SIGKILL, log
    assert not (home / "trends.duckdb").exists() and not (home / "site").exists()

    code, log = run_trends(home, "run", str(slices[0]))
    assert code == 0, log
    after = snapshot(home)
    assert after.work == seed.work
    assert after.published == seed.published
    assert after.site == seed.site
    assert after.listing == seed.listing


# -- two writers ----------------------------------------------------------------------------------
def stopped(pid: int) -> bool:
    """Whether a process is stopped (SIGSTOP), from /proc."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:  # gone
        return False
    return state in ("T", "t")


def test_second_writer_refuses_while_the_first_holds_the_store(seed, baseline, slices, tmp_path):
    home = copy_home(seed.home, tmp_path / "home")
    args = ("run", *map(str, slices))
    # the first run stops itself where it holds the writer lock, at the start of its ingest
    first = start_trends(home, *args, fault="ingest:start:stop", log=tmp_path / "first.log")
    while first.exitcode is None and not stopped(first.pid):
        time.sleep(0.05)
    assert first.exitcode is None, first.log.read_text()
    code, log = run_trends(home, *args)
    assert code == 1, log
    assert " ".join(log.split()).startswith(
        f"error: another trends process (pid {first.pid}) is writing to {home / 'work'}"
    ), log
    assert "Traceback" not in log
    os.kill(first.pid, signal.SIGCONT)
    first.join()
    assert first.exitcode == 0, first.log.read_text()
    after = snapshot(home)
    assert (after.work, after.published, after.site) == (
        baseline.work,
        baseline.published,
        baseline.site,
    )


def test_two_runs_started_together_leave_one_result(seed, baseline, slices, tmp_path):
    home = copy_home(seed.home, tmp_path / "home")
    args = ("run", *map(str, slices))
    runs = [start_trends(home, *args, log=tmp_path / f"run{i}.log") for i in (1, 2)]
    for run in runs:
        run.join()
    logs = [run.log.read_text() for run in runs]
    assert sorted(run.exitcode for run in runs) in ([0, 0], [0, 1]), logs
    for run, log in zip(runs, logs, strict=True):
        if run.exitcode == 1:  # refused at once, naming the run that holds the store
            (winner,) = [r for r in runs if r is not run]
            assert f"error: another trends process (pid {winner.pid}) is writing" in log, log
        assert "Traceback" not in log
    after = snapshot(home)
    assert (after.work, after.published, after.site) == (
        baseline.work,
        baseline.published,
        baseline.site,
    )
