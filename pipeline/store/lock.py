"""The writer lock: one writing process per working database, and a clear message naming it.

A second writer gets :class:`StoreLockedError` naming the process that writes (its pid and
command line) instead of DuckDB's lock error; a lock left by a killed writer is recovered.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class StoreLockedError(RuntimeError):
    """Another process is writing to the working database."""


@contextmanager
def writer_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``lock_path``; the file records the holder's pid.

    A forked child inherits the lock with the descriptor and keeps it after the writer that took
    it was killed: such a stale lock (its recorded writer is gone) is recovered by replacing the
    lock file. Otherwise the message names the processes that really hold it.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            recorded, holders = _recorded_pid(fd), _lock_holders(fd)
            stale = recorded is not None and recorded not in holders and not _alive(recorded)
            if stale and attempt < 2 and _retire_stale(lock_path, fd, recorded):
                os.close(fd)
                continue
            os.close(fd)
            raise StoreLockedError(_locked_message(lock_path, recorded, holders)) from None
        if _same_file(fd, lock_path):
            break
        os.close(fd)  # a recovery replaced the file between our open and our lock
    else:
        raise StoreLockedError(f"could not take the writer lock {lock_path}; try again")
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _recorded_pid(fd: int) -> int | None:
    text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has closed its files already
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _lock_holders(fd: int) -> list[int]:
    """Pids whose open descriptors hold a flock on the file of ``fd`` (from Linux's /proc)."""
    me = os.fstat(fd)
    holders = set()
    for link in Path("/proc").glob("[0-9]*/fd/[0-9]*"):
        try:
            st = link.stat()
            if (st.st_dev, st.st_ino) != (me.st_dev, me.st_ino):
                continue
            info = (link.parent.parent / "fdinfo" / link.name).read_text()
        except OSError:  # gone meanwhile, or another user's
            continue
        if any(line.startswith("lock:") and "FLOCK" in line for line in info.splitlines()):
            holders.add(int(link.parent.parent.name))
    return sorted(holders)


def _retire_stale(lock_path: Path, fd: int, recorded: int) -> bool:
    """Remove the lock file ``fd`` holds open if it is still the stale one; one process at a time.

    The recorded pid is read again after a moment: a writer that has just taken the lock writes
    its pid right after, and its lock is not stale.
    """
    time.sleep(0.2)
    if _recorded_pid(fd) != recorded:
        return False
    guard = os.open(lock_path.parent, os.O_RDONLY)
    try:
        fcntl.flock(guard, fcntl.LOCK_EX)  # serialises recoveries, never writers
        if not _same_file(fd, lock_path):
            return True  # another process recovered it already
        lock_path.unlink()
        return True
    finally:
        os.close(guard)


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)[:100]


def _locked_message(lock_path: Path, recorded: int | None, holders: list[int]) -> str:
    """Name the holder: the recorded writer if it holds the lock, else who really holds it."""
    main = recorded if recorded in holders or not holders else holders[0]
    notes = [f"also held by pid {pid}" for pid in holders if pid != main]
    if holders and recorded is not None and recorded not in holders:
        notes.append(f"the lock file names pid {recorded}, which no longer holds it")
    command = _command(main) if main is not None else ""
    if command:
        notes.insert(0, command)
    extra = f" [{'; '.join(notes)}]" if notes else ""
    return (
        f"another trends process (pid {main if main is not None else 'unknown'}) is writing to "
        f"{lock_path.parent}{extra}; wait for it to finish (readers can use `trends sql` "
        "meanwhile)"
    )
