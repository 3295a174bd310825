"""Analyze stage: build the SQL marts of shares and growth, at every grain, from the current fit.

The rules the marts apply (which papers count, when a period is too thin to read, the growth
window and minimum support of each grain) are one :class:`MartRules`; every build records them
in ``mart_builds``. ``docs/trends.md`` explains each rule and shows example queries.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime

from pipeline.config import Decisions
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


@dataclass(frozen=True)
class MartRules:
    """How the marts count papers, mark thin periods and measure growth, per grain.

    Attributes:
        decisions: ``accepted`` counts accepted papers and papers with no review outcome
            (arXiv); ``all`` counts rejected and withdrawn submissions too.
        thin_min_papers: A period whose denominator is below this is thin (is_thin): below
            30 papers a 95% interval of a share spans more than +-15 points.
        thin_fraction: A period is also thin when its denominator is below this fraction of
            the median denominator of the source's periods at that grain: the first
            conference years (50-204 papers against a median near 1,600) are cut so their
            wide intervals do not drown the later rise.
        window_year, window_quarter, window_month: Growth window of each grain, in calendar
            periods back from the last readable one. Years are few and large (a decade),
            months many and small (half a year).
        min_support_year, min_support_quarter, min_support_month: Papers a series needs in
            its window for a trend status; below it the status is ``insufficient`` ("too
            little evidence"). A month needs about 10 papers on average (60 in 6 months):
            with fewer, a month's count varies by more than a third from chance alone, and
            a theme such as RL for finance on arXiv 2025 (45 papers) would be called stable.
        min_periods: Readable periods a window needs for a trend status (no trend runs
            through two points); fewer also read ``insufficient``.
        trend_alpha: A rise or fall is significant when the Cochran-Armitage test's two-sided
            p-value is below this (``growing``, ``emerging``, ``declining``, ``fading``).
        emerging_ratio: ``emerging`` needs the recent half's share at least this many times
            the earlier half's.
        emerging_share_quantile: ... and a recent share at or below this quantile of the
            recent shares of its kind, source and grain (0.5: the median): small but rising.
        fading_ratio: ``fading`` is a significant fall to at most this fraction of the
            earlier half's share.

    """

    decisions: Decisions = Decisions.accepted
    thin_min_papers: int = 30
    thin_fraction: float = 0.25
    window_year: int = 10
    window_quarter: int = 8
    window_month: int = 6
    min_support_year: int = 60
    min_support_quarter: int = 40
    min_support_month: int = 60
    min_periods: int = 3
    trend_alpha: float = 0.05
    emerging_ratio: float = 1.5
    emerging_share_quantile: float = 0.5
    fading_ratio: float = 0.5

    def params(self) -> dict[str, object]:
        """The rules as the marts' bound parameters."""
        out: dict[str, object] = asdict(self)
        out["decisions"] = Decisions(self.decisions).value
        return out


@dataclass(frozen=True)
class AnalyzeSummary:
    """What one analyze run built."""

    topic_run_id: str
    as_of: date | None
    rows: dict[str, int]
    seconds: float
    decisions: str = Decisions.accepted.value

    def line(self) -> str:
        """One-line summary for the CLI and logs."""
        built = ", ".join(f"{name} {n:,}" for name, n in self.rows.items())
        as_of = self.as_of.isoformat() if self.as_of else "all dates"
        return (
            f"analyze (as of {as_of}, fit {self.topic_run_id}, {self.decisions} papers):"
            f" {built} rows, {self.seconds:.1f}s"
        )


def build_marts(
    store: Store, as_of: date | None = None, rules: MartRules | None = None
) -> AnalyzeSummary:
    """Rebuild every mart from papers published up to ``as_of`` (all when None), atomically."""
    started = time.perf_counter()
    rules = rules or MartRules()
    run_id = current_topic_run(store)
    if run_id is None:
        raise ValueError("no topic fit yet; run `trends topics` before `trends analyze`")
    params = {
        "topic_run_id": run_id,
        "as_of": as_of,
        **rules.params(),
        # Fixed for an as-of build so that rebuilding it gives identical tables.
        "built_at": datetime.combine(as_of, datetime.min.time())
        if as_of
        else datetime.now(UTC).replace(tzinfo=None),
    }
    with store.transaction():
        for mart in MARTS:
            store.run_file(f"marts/{mart}", params)
        # what this build showed, for the next report's "since last report" (report/changes.py)
        recorded_at = datetime.now(UTC).replace(tzinfo=None)
        store.run_file("analyze/record_edition", {**params, "recorded_at": recorded_at})
        counts = store.query_file("analyze/mart_rows")
    rows = {str(r.mart): int(r.n) for r in counts.itertuples()}
    return AnalyzeSummary(run_id, as_of, rows, time.perf_counter() - started, params["decisions"])
