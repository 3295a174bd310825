"""The report's data (pure reads and frames): its views, and everything it shows, read once.

``load_report_data`` is the only function here that touches the store (through named SQL files
of ``sql/report/``); the rest turns those frames into the figures a page shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from pipeline.store import Store
from pipeline.topics.persistence import current_topic_run

HEADLINE_TOPICS = 5
MIN_HEADLINE_PAPERS = 20
# A day-precision source also gets a long (yearly) view once it spans this many readable years.
LONG_MIN_YEARS = 3
# The recent view shows the last few years of a source's periods (a month chart of 30 years of
# arXiv would be unreadable; the long view holds the years).
RECENT_YEARS = 3


@dataclass(frozen=True)
class ReportOptions:
    """How the report reads the marts, and how it splits its search index.

    The recent view's grain, the long view's base year, papers per search file.
    """

    grain: str = "month"
    since: int = 2015
    search_chunk: int = 50_000


@dataclass(frozen=True)
class View:
    """One source read at one grain: the long view (years) or the recent view (report grain)."""

    key: str  # "long" or "recent"
    source: str
    grain: str

    @property
    def slug(self) -> str:
        """A file-name-safe id, unique per view."""
        return re.sub(r"[^a-z0-9]+", "-", f"{self.key}-{self.source}-{self.grain}".lower())

    @property
    def title(self) -> str:
        """How a heading names the view."""
        every = {"year": "by year", "quarter": "by quarter", "month": "by month"}[self.grain]
        return f"{self.source}, {every}"


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with every missing value (NaN, NaT, NA) as None.

    Optional fields (authors, url, venue, categories) are missing for many sources; templates
    test them with ``if``, which a float NaN would pass.
    """
    clean = frame.astype(object).where(frame.notna(), None)
    return clean.to_dict("records")


@dataclass
class ReportData:
    """Everything the templates show, read from the store once."""

    run: dict
    build: dict
    options: ReportOptions
    views: list[View]
    topics: pd.DataFrame
    series: dict[str, pd.DataFrame]  # per grain
    theme_series: dict[str, pd.DataFrame]  # per grain
    corpus: dict[str, pd.DataFrame]  # per grain
    stats: pd.DataFrame
    decisions: pd.DataFrame
    papers: pd.DataFrame
    topic_papers: pd.DataFrame  # every paper of the fit, for its topic's page
    themes: pd.DataFrame
    theme_topics: pd.DataFrame
    theme_papers: pd.DataFrame
    map_points: pd.DataFrame
    search_papers: pd.DataFrame
    lineage: pd.DataFrame
    retired: pd.DataFrame  # stable topics no longer in the fit (sql/report/retired_topics.sql)
    areas: pd.DataFrame  # area_id, name, n_topics of the fit (empty before areas)
    area_series: dict[str, pd.DataFrame]  # per grain
    fit_corpus: dict = field(default_factory=dict)  # papers, median_words, sources of the fit

    def view_rows(self, frame_by_grain: dict[str, pd.DataFrame], view: View) -> pd.DataFrame:
        """The rows of one view: its source at its grain (the recent view: last few years)."""
        frame = frame_by_grain[view.grain]
        rows = frame[frame["source"] == view.source]
        if view.key == "recent" and len(rows):
            last = pd.Timestamp(rows["period_start"].max())
            rows = rows[
                pd.to_datetime(rows["period_start"]) > last - pd.DateOffset(years=RECENT_YEARS)
            ]
        return rows

    def view_stats(self, view: View, kind: str) -> pd.DataFrame:
        """Growth and status of every series of ``kind`` in one view, by series id."""
        st = self.stats
        rows = st[(st["kind"] == kind) & (st["source"] == view.source)]
        return rows[rows["period_grain"] == view.grain].set_index("series_id")


def plan_views(source_grains: pd.DataFrame, grain: str) -> list[View]:
    """The report's views: long (yearly) views first, then recent views at ``grain``.

    A year-precision source is read by year (long view). A day-precision source is read at
    ``grain`` (recent view), and by year as well once it spans ``LONG_MIN_YEARS`` readable years
    (the Kaggle arXiv snapshot, not one year of arXiv). Sources with more papers come first.
    """
    long: list[tuple[int, View]] = []
    recent: list[tuple[int, View]] = []
    for source, rows in source_grains.groupby("source", sort=True):
        by_grain = rows.set_index("period_grain")
        papers = -int(rows["papers"].max())
        if "month" in by_grain.index:
            recent.append((papers, View("recent", str(source), grain)))
            years = by_grain["readable_periods"].get("year", 0)
            if grain != "year" and years >= LONG_MIN_YEARS:
                long.append((papers, View("long", str(source), "year")))
        elif "year" in by_grain.index:
            long.append((papers, View("long", str(source), "year")))
    return [v for _, v in sorted(long, key=lambda x: x[0])] + [
        v for _, v in sorted(recent, key=lambda x: x[0])
    ]


def load_report_data(store: Store, options: ReportOptions | None = None) -> ReportData:
    """Read the marts and the fit the site shows."""
    options = options or ReportOptions()
    run_id = current_topic_run(store)
    if run_id is None or not store.table_exists("mart_builds"):
        raise ValueError("nothing to report yet; run `trends topics` and `trends analyze` first")
    params: dict[str, object] = {"topic_run_id": run_id}
    run = store.query_file("report/run_info", params)
    if run.empty or run["topic_run_id"].iloc[0] != run_id:
        raise ValueError("the marts were built from an older fit; run `trends analyze` first")
    views = plan_views(store.query_file("report/source_grains"), options.grain)
    grains = sorted({v.grain for v in views})

    def per_grain(name: str) -> dict[str, pd.DataFrame]:
        return {g: store.query_file(f"report/{name}", {**params, "grain": g}) for g in grains}

    return ReportData(
        run=records(run)[0],
        build=_clock_times(records(store.query_file("report/mart_build"))[0]),
        options=options,
        views=views,
        topics=store.query_file("report/topic_table", params),
        series=per_grain("topic_series"),
        theme_series=per_grain("theme_series"),
        corpus=per_grain("corpus_overview"),
        stats=store.query_file("report/series_stats"),
        decisions=store.query_file("report/decision_counts"),
        papers=store.query_file("report/representative_papers", params),
        topic_papers=store.query_file("report/topic_papers", params),
        themes=store.query_file("report/theme_table", params),
        theme_topics=store.query_file("report/theme_topics", params),
        theme_papers=store.query_file("report/theme_papers", params),
        map_points=store.query_file("report/map_points", params),
        search_papers=store.query_file("report/search_papers", params),
        lineage=store.query_file("report/topic_lineage", params),
        retired=store.query_file("report/retired_topics", params),
        areas=store.query_file("report/topic_areas", params),
        area_series=per_grain("area_series"),
        fit_corpus=records(store.query_file("report/fit_corpus", params))[0],
    )


def growth_since(series: pd.DataFrame, key: str, since: int) -> pd.DataFrame:
    """Each series' share in its base period and its last readable period, and the change.

    The base period is the first readable period (neither partial nor thin) in or after the
    year ``since`` (the first readable one when none is that late); the last is the latest
    readable period. ``ratio`` compares the shares smoothed by half a paper, so a series that
    starts from zero papers gets a finite ratio; it is None when base and last coincide or
    both hold no paper of the series.
    One row per series id in ``key``, indexed by it.
    """
    columns = ["base_start", "base_papers", "base_denominator", "base_share", "base_low",
               "base_high", "last_start", "last_papers", "last_denominator", "last_share",
               "last_low", "last_high", "ratio"]  # fmt: skip
    out = {}
    for series_id, rows in series.groupby(key, sort=False):
        rows = rows.sort_values("period_start")
        ok = rows[~rows["is_partial"].astype(bool) & ~rows["is_thin"].astype(bool)]
        if ok.empty:
            continue
        years = pd.to_datetime(ok["period_start"]).dt.year
        base = ok[years >= since].iloc[0] if (years >= since).any() else ok.iloc[0]
        last = ok.iloc[-1]
        ratio = None
        if base["period_start"] != last["period_start"] and base["papers"] + last["papers"] > 0:
            ratio = ((last["papers"] + 0.5) / last["denominator"]) / (
                (base["papers"] + 0.5) / base["denominator"]
            )
        out[series_id] = [
            base["period_start"], base["papers"], base["denominator"], base["share"],
            base["ci_low"], base["ci_high"], last["period_start"], last["papers"],
            last["denominator"], last["share"], last["ci_low"], last["ci_high"], ratio,
        ]  # fmt: skip
    return pd.DataFrame.from_dict(out, orient="index", columns=columns)


def _by_series_id(topics: pd.DataFrame) -> pd.DataFrame:
    """Real topics (outliers dropped) with ``series_id``, the text key of series_stats."""
    real = topics[topics["topic_id"] != -1]
    return real.assign(series_id=real["topic_id"].astype(str))


def headline_topics(topics: pd.DataFrame, stats: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rising and fading topics of one view: steepest share slopes among well-supported ones.

    ``stats`` is the view's series_stats rows of kind 'topic', indexed by series id.
    """
    joined = _by_series_id(topics).join(stats, on="series_id", rsuffix="_stats")
    ok = joined[joined["window_papers"].fillna(0) >= MIN_HEADLINE_PAPERS]
    ok = ok.dropna(subset=["log_share_slope"])
    rising = ok[ok["log_share_slope"] > 0].nlargest(HEADLINE_TOPICS, "log_share_slope")
    fading = ok[ok["log_share_slope"] < 0].nsmallest(HEADLINE_TOPICS, "log_share_slope")
    return rising, fading


def movers_since(
    topics: pd.DataFrame, growth: pd.DataFrame, stats: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Topics that grew or faded most since the base year, among those with enough evidence.

    ``growth`` comes from :func:`growth_since` (indexed by topic id), ``stats`` is the view's
    series_stats for topics (indexed by series id); a topic whose status is 'insufficient' (or
    that has none) is never a mover.
    """
    joined = _by_series_id(topics).join(growth, on="topic_id")
    joined = joined.join(stats[["status"]], on="series_id")
    ok = joined[joined["ratio"].notna() & joined["status"].notna()]
    ok = ok[ok["status"] != "insufficient"]
    ok = ok.assign(ratio=ok["ratio"].astype(float))
    grew = ok[ok["ratio"] > 1].nlargest(HEADLINE_TOPICS, "ratio")
    faded = ok[ok["ratio"] < 1].nsmallest(HEADLINE_TOPICS, "ratio")
    return grew, faded


def _clock_times(row: dict) -> dict:
    """Timestamps as the rest of the site shows them (to the minute, UTC), not raw microseconds."""
    return {
        k: v.strftime("%Y-%m-%d %H:%M UTC") if isinstance(v, pd.Timestamp | datetime) else v
        for k, v in row.items()
    }
