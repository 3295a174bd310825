"""What a failed stage's exception means for an operator: retry it, or fail now, and why.

A retry helps only where the cause may pass: the writer lock held by another process, I/O, the
network. Bad input, bad parameters and code errors fail the same way on every try, so the DAGs
fail them at once (``trends_common.FailFast``), and the notifications and the task log say it
in one line. Exceptions are recognised by class name along their MRO, so this module imports
neither DuckDB nor httpx.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_LINE = 400


class FailureKind(StrEnum):
    """Why a stage failed, as far as retrying goes."""

    transient = "transient"  # may pass on a later try: retried with backoff
    input = "input"  # bad input file or parameter: fix it, then run again
    code = "code"  # a bug: retrying repeats it

    def describe(self) -> str:
        """A few words for the log and the notification."""
        return {
            FailureKind.transient: "a transient failure (retried with backoff)",
            FailureKind.input: "bad input or parameters (not retried)",
            FailureKind.code: "a code error (not retried)",
        }[self]


# Classes (module.qualname, matched along the MRO) whose failures may pass on a later try.
TRANSIENT = {
    "pipeline.store.lock.StoreLockedError",  # another writer holds the lock
    "pipeline.sources.fetch.RetryableStatusError",  # 5xx / 429 after the source's own retries
    "httpx.TransportError",  # connection refused, reset, timeouts
    "_duckdb.IOException",  # DuckDB could not read or write its files
    "builtins.ConnectionError",
    "builtins.TimeoutError",
    "builtins.BlockingIOError",
    "builtins.InterruptedError",
    "builtins.MemoryError",  # other processes may have held the memory
}
# OSErrors that name a wrong path rather than a passing condition.
INPUT_OS_ERRORS = {
    "builtins.FileNotFoundError",
    "builtins.IsADirectoryError",
    "builtins.NotADirectoryError",
    "builtins.PermissionError",
}
# Raised by the DAGs themselves for a parameter (its message says which) and never retried.
INPUT = {"airflow.sdk.exceptions.AirflowFailException", "pipeline.runner.ParamsError"}


@dataclass(frozen=True)
class Failure:
    """An exception, classified, with one line that says what failed and where."""

    kind: FailureKind
    line: str

    @property
    def retry(self) -> bool:
        """Whether a later try may succeed."""
        return self.kind is FailureKind.transient


def _names(exc: BaseException) -> set[str]:
    return {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__}


def classify(exc: BaseException) -> Failure:
    """Classify ``exc`` and describe it in one line."""
    names = _names(exc)
    if names & (INPUT | INPUT_OS_ERRORS):
        kind = FailureKind.input
    elif names & TRANSIENT or "builtins.OSError" in names:  # other OSErrors: disk full, EIO
        kind = FailureKind.transient
    elif isinstance(exc, ValueError) and type(exc).__module__.startswith("pipeline."):
        kind = FailureKind.input  # the pipeline's own checks of files, records and themes
    else:
        kind = FailureKind.code
    return Failure(kind, error_line(exc, with_place=kind is FailureKind.code))


def error_line(exc: BaseException, *, with_place: bool = True) -> str:
    """``Type: first line of the message`` and, for code errors, the project line that raised."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    text = message if name in {"AirflowFailException", "ParamsError"} else f"{name}: {message}"
    place = _project_frame(exc) if with_place else None
    if place:
        text = f"{text} (at {place})"
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 3] + "..."


def _project_frame(exc: BaseException) -> str | None:
    """``path:line in function`` of the innermost traceback frame in this repository."""
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if path.is_relative_to(REPO_ROOT) and ".venv" not in path.parts:
            found = f"{path.relative_to(REPO_ROOT)}:{frame.lineno} in {frame.name}"
    return found
