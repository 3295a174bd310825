"""The atomic database copy that publish makes for readers."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from pipeline.faults import crash_point


def copy_database(source: Path, dest: Path) -> int:
    """Copy the database file ``source`` to ``dest`` atomically; return its size in bytes.

    The caller holds the writer lock and has checkpointed, so nothing writes during the copy.
    The copy is written beside ``dest`` and renamed over it: a reader opening ``dest`` gets the
    old complete file or the new complete file, and a reader that has it open keeps reading the
    old one. A failed copy (a full disk) leaves no temporary file and the old ``dest`` intact.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Copies a killed publish left behind (each one as big as the database); no other
    # publish runs now, since the caller holds the writer lock.
    stale = re.compile(rf"^\.{re.escape(dest.name)}\.\d+\.tmp$")
    for leftover in dest.parent.iterdir():
        if stale.match(leftover.name) and leftover.is_file():
            leftover.unlink(missing_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o444)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        crash_point("before_commit")
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest.stat().st_size
