"""Analyze stage: build the SQL marts of topic shares and growth from the current fit."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pipeline.store import Store
from pipeline.topics.persistence import current_topic_run

# Built in this order; each file states its grain in its header.
MARTS = (
    "corpus_periods",
    "topic_shares",
    "theme_shares",
    "series_growth",
    "series_status",
    "mart_builds",
)
GROWTH_WINDOW = 6
MIN_SUPPORT = 30


@dataclass(frozen=True)
class AnalyzeSummary:
    """What one analyze run built."""

    topic_run_id: str
    as_of: date | None
    rows: dict[str, int]
    seconds: float

    def line(self) -> str:
        """One-line summary for the CLI and logs."""
        built = ", ".join(f"{name} {n:,}" for name, n in self.rows.items())
        as_of = self.as_of.isoformat() if self.as_of else "all dates"
        return (
            f"analyze (as of {as_of}, fit {self.topic_run_id}): {built} rows, {self.seconds:.1f}s"
        )


def build_marts(store: Store, as_of: date | None = None) -> AnalyzeSummary:
    """Rebuild every mart from papers published up to ``as_of`` (all when None), atomically."""
    started = time.perf_counter()
    run_id = current_topic_run(store)
    if run_id is None:
        raise ValueError("no topic fit yet; run `trends topics` before `trends analyze`")
    params = {
        "topic_run_id": run_id,
        "as_of": as_of,
        "window": GROWTH_WINDOW,
        "min_support": MIN_SUPPORT,
        # Fixed for an as-of build so that rebuilding it gives identical tables.
        "built_at": datetime.combine(as_of, datetime.min.time())
        if as_of
        else datetime.now(UTC).replace(tzinfo=None),
    }
    rows = {}
    with store.transaction():
        for mart in MARTS:
            store.run_file(f"marts/{mart}", params)
            rows[mart] = int(store.scalar(f"select count(*) from {mart}"))  # names from MARTS only
    return AnalyzeSummary(run_id, as_of, rows, time.perf_counter() - started)
