"""The writer lock names the process that really holds it, and recovers a stale one.

Holders run in child processes, as a second `trends` process or DAG task would.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline.store import StoreLockedError, open_writer

# Takes the writer lock, optionally forks a child that inherits it, prints the pids, then waits.
HOLDER = """
import os, sys, time
from pathlib import Path
from pipeline.store import open_writer
work = Path(sys.argv[1])
with open_writer(work / "trends.duckdb", work / "writer.lock"):
    child = os.fork() if sys.argv[2] == "fork" else None
    if child == 0:  # the child keeps the inherited descriptor, and so the lock
        time.sleep(600)
        os._exit(0)
    print(os.getpid(), child or "", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path):
    started: list[int] = []

    def start(mode: str = "plain") -> tuple[int, int | None]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(tmp_path), mode],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        parts = proc.stdout.readline().split()
        started.append(proc.pid)
        child = int(parts[1]) if len(parts) > 1 else None
        if child:
            started.append(child)
        return int(parts[0]), child

    yield start
    for pid in started:  # only the processes this test started
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def wait_dead(pid: int) -> None:
    for _ in range(200):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def test_the_message_names_the_live_holder_and_its_command(tmp_path, holder):
    pid, _ = holder()
    with pytest.raises(StoreLockedError) as info:
        with open_writer(tmp_path / "trends.duckdb", tmp_path / "writer.lock"):
            pass
    message = str(info.value)
    assert f"(pid {pid})" in message
    assert "python" in message and "-c" in message  # what that process is
    assert str(tmp_path) in message


def test_a_lock_inherited_by_a_child_names_both_while_the_writer_lives(tmp_path, holder):
    pid, child = holder("fork")
    with pytest.raises(StoreLockedError) as info:
        with open_writer(tmp_path / "trends.duckdb", tmp_path / "writer.lock"):
            pass
    assert f"(pid {pid})" in str(info.value)
    assert f"also held by pid {child}" in str(info.value)


def test_a_stale_lock_of_a_killed_writer_is_recovered(tmp_path, holder):
    """The writer is killed; its forked child still holds the lock it inherited."""
    pid, child = holder("fork")
    os.kill(pid, signal.SIGKILL)
    wait_dead(pid)
    os.kill(child, 0)  # the child is alive and holds the old lock
    with open_writer(tmp_path / "trends.duckdb", tmp_path / "writer.lock") as store:
        store.execute("create table t as select 1 as x")
        assert (tmp_path / "writer.lock").read_text() == str(os.getpid())
        # and this process's lock is a real one: another writer is refused, naming us
        with pytest.raises(StoreLockedError, match=rf"\(pid {os.getpid()}\)"):
            with open_writer(tmp_path / "trends.duckdb", tmp_path / "writer.lock"):
                pass


def test_a_killed_writer_without_children_leaves_no_lock(tmp_path, holder):
    pid, _ = holder()
    os.kill(pid, signal.SIGKILL)
    wait_dead(pid)
    with open_writer(tmp_path / "trends.duckdb", tmp_path / "writer.lock"):
        pass
