"""One error guard for every command: any failure becomes one line on stderr and exit status 1.

Expected failures (bad input, a locked store, a source that refused, a missing or unwritable
file) print their own message; an ``OSError`` names its file and its reason (``disk full`` for
errno 28). Anything else is a bug or an unforeseen condition: one line with the exception's type
and message and a hint that ``TRENDS_DEBUG=1`` shows the traceback. Usage errors and explicit
exits pass through to typer unchanged (exit status 2 and the command's own status).
"""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.text import Text

from pipeline.cli.app import console

P = ParamSpec("P")
R = TypeVar("R")
DEBUG_ENV = "TRENDS_DEBUG"
DEBUG_HINT = f"{DEBUG_ENV}=1 shows the traceback"
MAX_LINE = 2_000  # a message quoting a whole record must not flood the log


def _expected() -> tuple[type[BaseException], ...]:
    """Failures whose message already says what went wrong and what to do."""
    from duckdb import Error as DuckDBError

    from pipeline.records import RecordError
    from pipeline.sources.fetch import SourceError
    from pipeline.sources.files import SourceFormatError
    from pipeline.store import StoreLockedError

    return (
        StoreLockedError,
        SourceFormatError,
        SourceError,
        RecordError,
        DuckDBError,
        ValueError,
    )


def _os_line(exc: OSError) -> str:
    """An OSError as "<file>: <reason> [errno N]", or its own message when it names no file."""
    if exc.errno == errno.ENOSPC:
        reason = "disk full (no space left on device)"
    else:
        reason = exc.strerror or str(exc)
    where = [str(name) for name in (exc.filename, exc.filename2) if name is not None]
    code = f" [errno {exc.errno}]" if exc.errno is not None else ""
    if where:
        return f"{' -> '.join(where)}: {reason}{code}"
    if exc.errno is None:  # raised by the pipeline with its own message (e.g. no database)
        return str(exc)
    return f"{reason}{code} ({DEBUG_HINT})"


def failure_line(exc: BaseException) -> str:
    """The one line printed for a command that failed with ``exc``."""
    if isinstance(exc, OSError):
        line = _os_line(exc)
    elif isinstance(exc, _expected()):
        line = str(exc)
    else:
        message = str(exc) or "(no message)"
        line = f"{type(exc).__name__}: {message} (unexpected; {DEBUG_HINT})"
    line = " ".join(line.split())  # one line, however the message was wrapped
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."


def fail(exc: BaseException) -> None:
    """Print the failure line and exit with status 1."""
    # one line however narrow the terminal: logs and DAG task output keep it greppable
    console.print(Text("error:", style="bold red"), failure_line(exc), soft_wrap=True)
    raise typer.Exit(1)


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a command; turn any failure into one clear line and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own exits and usage errors (exit 2) keep their meaning
        except Exception as exc:
            if os.environ.get(DEBUG_ENV, "").strip() not in ("", "0"):
                raise
            fail(exc)
            raise AssertionError("unreachable") from exc  # fail() always exits

    return wrapper
