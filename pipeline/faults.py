"""Crash points for the reliability tests: ``TRENDS_FAULT=STAGE:POINT`` stops the process there.

The tests kill a stage at named points to prove that a crash anywhere leaves the store, the
published database and the site as they were, and that running again finishes the job. When
``TRENDS_FAULT`` is unset (always, outside those tests) every point is a no-op.

The value is ``STAGE:POINT`` or ``STAGE:POINT:stop``. STAGE is one of :data:`STAGES`; the
process sends itself SIGKILL at the first POINT it reaches in that stage (``stop``: SIGSTOP,
so that a test can hold a process at a known place and let it go on with SIGCONT). Points:

- ``start``: the stage has begun and done nothing.
- ``middle``: part of the stage's work is done. For a stage that writes the store this is
  right after its first transaction commits (ingest: the first input file; embed: the first
  chunk; analyze: the theme scores, before the marts); for report, the pages are written into
  the new folder but the folder is not complete; for publish, the working database has been
  checkpointed but not copied.
- ``before_commit``: the first transaction of the stage holds all its writes and is about to
  commit; for report, the new folder is complete and about to be swapped in; for publish, the
  copy is complete and about to be renamed over the published database.
"""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

FAULT_ENV = "TRENDS_FAULT"
STAGES = ("ingest", "embed", "topics", "analyze", "report", "publish")
POINTS = ("start", "middle", "before_commit")

P = ParamSpec("P")
R = TypeVar("R")
_stage: ContextVar[str | None] = ContextVar("trends_stage", default=None)
_fired: set[str] = set()  # a stopped process that is let go passes its point from then on


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Mark the code of one stage (the stage's points fire only inside it)."""
    token = _stage.set(name)
    try:
        crash_point("start")
        yield
    finally:
        _stage.reset(token)


def in_stage(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a stage function: its body runs inside :func:`stage`."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with stage(name):
                return fn(*args, **kwargs)

        return run

    return wrap


def crash_point(point: str) -> None:
    """Stop the process here if ``TRENDS_FAULT`` names the current stage and this point."""
    wanted = os.environ.get(FAULT_ENV)
    if not wanted:
        return
    current = _stage.get()
    stage_name, _, rest = wanted.partition(":")
    name, _, action = rest.partition(":")
    if current is None or (stage_name, name) != (current, point) or wanted in _fired:
        return
    _fired.add(wanted)
    os.kill(os.getpid(), signal.SIGSTOP if action == "stop" else signal.SIGKILL)
