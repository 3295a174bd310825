"""What long stages write into a task's log: progress, and summaries that fit the log viewer.

Airflow's log viewer cuts a line off at its edge, so summaries are split into short lines.
Progress goes through :mod:`logging` at INFO (logger ``pipeline.<stage>``): Airflow puts it in
the task log, while the CLI, which draws its own progress bars, leaves INFO unprinted.
"""

from __future__ import annotations

import logging
import textwrap
import time
from collections.abc import Callable

# Wider lines than this run past the log viewer's edge at common window sizes.
LOG_WIDTH = 110


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


class ProgressLog:
    """Log ``done / total`` with the rate and an ETA each time another ``step`` percent is done.

    Args:
        label: What is counted, e.g. ``"embed: papers"``.
        logger: Where the lines go.
        step: Percent between two lines (5: about twenty lines a run, however long).
        clock: Seconds, monotonic (a test passes its own).

    """

    def __init__(
        self,
        label: str,
        logger: logging.Logger,
        step: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.logger, self.step, self.clock = label, logger, step, clock
        self.started = clock()
        self.next_pct = step

    def __call__(self, done: int, total: int) -> None:
        """Record progress; logs only when a step is crossed, or at the end."""
        if total <= 0:
            return
        pct = 100.0 * done / total
        if pct < self.next_pct and done < total:
            return
        while self.next_pct <= pct:
            self.next_pct += self.step
        elapsed = self.clock() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = _duration((total - done) / rate) if rate > 0 else "unknown"
        self.logger.info(
            "%s %s / %s (%.0f%%), %s/s, ETA %s",
            self.label,
            f"{done:,}",
            f"{total:,}",
            pct,
            f"{rate:,.1f}",
            eta if done < total else "done",
        )


def summary_lines(line: str, width: int = LOG_WIDTH) -> list[str]:
    """A stage's one-line summary as log lines: split at ``; `` and wrapped at ``width``.

    Continuation lines are indented, so the parts of one summary read as one entry.
    """
    lines: list[str] = []
    for i, part in enumerate(p.strip() for p in line.split("; ") if p.strip()):
        lines.extend(
            textwrap.wrap(
                part,
                width,
                initial_indent="" if i == 0 else "  ",
                subsequent_indent="    ",
                break_on_hyphens=False,
            )
        )
    return lines


def log_summary(line: str, say: Callable[[str], None] = print) -> str:
    """Print a summary as :func:`summary_lines` (a task's stdout goes to its log); return it."""
    for part in summary_lines(line):
        say(part)
    return line
