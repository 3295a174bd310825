"""Render the static site from the store's marts, atomically."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import plotly
import plotly.io as pio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from pipeline.config import REPORTS_DIR
from pipeline.faults import crash_point
from pipeline.report.charts import (
    corpus_figure,
    period_text,
    share_figure,
    small_multiples_figure,
    sparkline_figure,
    topic_map_figure,
)
from pipeline.report.track_record import TrackRecord, load_track_record, write_track_record
from pipeline.store import Store, load_sql
from pipeline.topics.persistence import current_topic_run

MAIN_CHART_TOPICS = 6
STATUS_HELP = {
    "new": "almost no papers in the earlier half of the window, enough in the later half",
    "emerging": "a significant rise (p < 0.05) to 1.5x the earlier share or more, from a low share",
    "growing": "a significant rise (p < 0.05)",
    "stable": "no significant trend",
    "declining": "a significant fall (p < 0.05)",
    "fading": "a significant fall (p < 0.05) to at most half the earlier share",
    "insufficient": "too few papers in the window (below the minimum support of the grain) to "
    "call any trend",
}
# What a reader sees for a status; the marts keep the short codes.
STATUS_NAMES = {"insufficient": "too little evidence"}
DECISIONS_TEXT = {
    "accepted": "Accepted papers and papers without a review outcome (arXiv); rejected and "
    "withdrawn submissions are left out",
    "all": "Every paper, accepted and rejected submissions alike",
}
SITE_MARKER = ".trends-site"  # in every rendered site: tells it from a folder of anything else
HEADLINE_TOPICS = 5
MIN_HEADLINE_PAPERS = 20
# A day-precision source also gets a long (yearly) view once it spans this many readable years.
LONG_MIN_YEARS = 3
# The recent view shows the last few years of a source's periods (a month chart of 30 years of
# arXiv would be unreadable; the long view holds the years).
RECENT_YEARS = 3
# Header comments of the marts whose rules the About page quotes.
RULE_MARTS = ("corpus_periods", "series_growth", "series_status")


class ReportError(ValueError):
    """A page that could not be rendered; the message names the page and the reason."""


@dataclass(frozen=True)
class ReportOptions:
    """How the report reads the marts: the recent view's grain and the long view's base year."""

    grain: str = "month"
    since: int = 2015


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


@dataclass(frozen=True)
class SiteSummary:
    """What one render produced."""

    out_dir: Path
    pages: int
    bytes: int
    seconds: float

    def line(self) -> str:
        """One-line summary for the CLI and logs."""
        return (
            f"report: {self.pages} pages, {self.bytes / 1e6:.1f} MB in {self.out_dir}, "
            f"{self.seconds:.1f}s"
        )


def script_safe(json_text: str) -> str:
    """JSON with every character that could end a script element or start markup escaped."""
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        json_text = json_text.replace(char, escape)
    return json_text


def figure_json(fig: object) -> Markup:
    """Plotly JSON safe to embed in a ``<script type="application/json">`` element."""
    text = script_safe(pio.to_json(fig, validate=False, pretty=False))
    return Markup(text)  # noqa: S704 - every character that could end the element is escaped


def _status_name(status: object) -> str:
    return "" if status is None else STATUS_NAMES.get(str(status), str(status))


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(REPORTS_DIR / "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["figure_json"] = figure_json
    env.filters["status_name"] = _status_name
    env.globals["status_help"] = STATUS_HELP
    env.globals["status_names"] = STATUS_NAMES
    env.filters["pct"] = lambda v, d=1: "" if v is None or pd.isna(v) else f"{v * 100:.{d}f}%"
    env.filters["num"] = lambda v, d=2: "" if v is None or pd.isna(v) else f"{v:.{d}f}"
    env.filters["count"] = lambda v: "" if v is None or pd.isna(v) else f"{int(v):,}"
    env.filters["web_url"] = lambda v: isinstance(v, str) and v.startswith(("https://", "http://"))
    env.filters["period"] = lambda v, grain: "" if v is None else period_text(v, grain)
    return env


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
    themes: pd.DataFrame
    theme_topics: pd.DataFrame
    theme_papers: pd.DataFrame
    map_points: pd.DataFrame
    search_papers: pd.DataFrame
    lineage: pd.DataFrame

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
        build=records(store.query_file("report/mart_build"))[0],
        options=options,
        views=views,
        topics=store.query_file("report/topic_table", params),
        series=per_grain("topic_series"),
        theme_series=per_grain("theme_series"),
        corpus=per_grain("corpus_overview"),
        stats=store.query_file("report/series_stats"),
        decisions=store.query_file("report/decision_counts"),
        papers=store.query_file("report/representative_papers", params),
        themes=store.query_file("report/theme_table", params),
        theme_topics=store.query_file("report/theme_topics", params),
        theme_papers=store.query_file("report/theme_papers", params),
        map_points=store.query_file("report/map_points", params),
        search_papers=store.query_file("report/search_papers", params),
        lineage=store.query_file("report/topic_lineage", params),
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


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(frame: pd.DataFrame) -> str:
    """A chart's rows as CSV; text cells that a spreadsheet would run as a formula are quoted.

    Labels and titles come from papers, so a cell such as ``=HYPERLINK(...)`` gets a leading
    apostrophe (the OWASP advice against CSV injection); numbers are left as they are.
    """

    def guard(value: object) -> object:
        if isinstance(value, str) and value.startswith(_FORMULA_START):
            return "'" + value
        return value

    clean = frame.copy()
    for column in clean.columns:
        dtype = clean[column].dtype
        if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            clean[column] = clean[column].map(guard)
    return clean.to_csv(index=False, lineterminator="\n")


def render_site(store: Store, out_dir: Path, options: ReportOptions | None = None) -> SiteSummary:
    """Render the whole site into a fresh folder, then swap it in at ``out_dir``.

    Readers see the old site or the new one, never a half-written one. A page that cannot be
    rendered raises :class:`ReportError` naming it (the CLI prints that one line).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    check_site_target(out_dir)
    data = load_report_data(store, options)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_builds(out_dir)
    build = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    build.chmod(0o755)  # mkdtemp makes it private; a static file server must read it
    try:
        (build / SITE_MARKER).write_text("A site rendered by `trends report`.\n")
        pages = _write_pages(data, build, load_track_record(store))
        crash_point("middle")  # test-only crash points (pipeline/faults.py)
        _copy_assets(build)
        size = sum(f.stat().st_size for f in build.rglob("*") if f.is_file())
        crash_point("before_commit")
        swap_in(build, out_dir)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return SiteSummary(out_dir, pages, size, time.perf_counter() - started)


class _SiteWriter:
    """Writes pages and chart data files into one build folder, counting pages."""

    def __init__(self, build: Path, common: dict) -> None:
        self.build = build
        self.common = common
        self.env = _environment()
        self.pages = 0

    def page(self, rel: str, template: str, what: str, **ctx: object) -> None:
        depth = rel.count("/")
        try:
            html = self.env.get_template(template).render(root="../" * depth, **self.common, **ctx)
        except Exception as exc:  # one line naming the page, never a traceback
            raise ReportError(
                f"report: cannot render {rel} ({what}): {type(exc).__name__}: {exc}"
            ) from exc
        path = self.build / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        self.pages += 1

    def csv(self, name: str, frame: pd.DataFrame) -> str:
        """Write a chart's rows to ``data/<name>.csv``; returns the path from the site root."""
        rel = f"data/{name}.csv"
        (self.build / "data").mkdir(exist_ok=True)
        (self.build / rel).write_text(csv_text(frame), encoding="utf-8")
        return rel


def _chart(fig: object, csv: str | None) -> dict:
    return {"fig": fig, "csv": csv}


def _long_view(data: ReportData, view: View, out: _SiteWriter) -> dict:
    """The long view of one source: theme small multiples by year, growth since, movers."""
    themes = data.view_rows(data.theme_series, view)
    topics = data.view_rows(data.series, view)
    corpus = data.view_rows(data.corpus, view)
    theme_stats = data.view_stats(view, "theme")
    topic_stats = data.view_stats(view, "topic")
    theme_growth = growth_since(themes, "theme_id", data.options.since) if len(themes) else None
    topic_growth = growth_since(topics, "topic_id", data.options.since) if len(topics) else None
    rows = []
    for theme in records(data.themes):
        tid = theme["theme_id"]
        g = (
            theme_growth.loc[tid]
            if theme_growth is not None and tid in theme_growth.index
            else None
        )
        st = theme_stats.loc[tid] if tid in theme_stats.index else None
        rows.append(
            {
                **theme,
                "status": None if st is None else st["status"],
                "growth": None if g is None else records(g.to_frame().T)[0],
            }
        )
    grew, faded = (
        movers_since(data.topics, topic_growth, topic_stats)
        if topic_growth is not None and len(topic_growth)
        else (data.topics.iloc[:0], data.topics.iloc[:0])
    )
    sparks = {
        int(t): sparkline_figure(topics[topics["topic_id"] == t])
        for t in pd.concat([grew, faded])["topic_id"]
    }
    return {
        "view": view,
        "themes": rows,
        "themes_chart": _chart(
            small_multiples_figure(themes, key="theme_id"), out.csv(f"{view.slug}-themes", themes)
        )
        if len(themes)
        else None,
        "grew": records(grew),
        "faded": records(faded),
        "sparks": sparks,
        "sparks_csv": out.csv(f"{view.slug}-topics", topics) if len(topics) else None,
        "corpus_chart": _chart(corpus_figure(corpus), out.csv(f"{view.slug}-papers", corpus)),
        "base_year": data.options.since,
    }


def _recent_view(data: ReportData, view: View, out: _SiteWriter) -> dict:
    """The recent view of one source at the report grain: themes, headline topics, shares."""
    themes = data.view_rows(data.theme_series, view)
    topics = data.view_rows(data.series, view)
    corpus = data.view_rows(data.corpus, view)
    theme_stats = data.view_stats(view, "theme")
    topic_stats = data.view_stats(view, "topic")
    rising, fading = headline_topics(data.topics, topic_stats)
    sparks = {
        int(t): sparkline_figure(topics[topics["topic_id"] == t])
        for t in pd.concat([rising, fading])["topic_id"]
    }
    real = data.topics[data.topics["topic_id"] != -1]
    top_ids = real.nlargest(MAIN_CHART_TOPICS, "size")["topic_id"].tolist()
    main = topics[topics["topic_id"].isin(top_ids)]
    main = main.set_index("topic_id").loc[top_ids].reset_index() if len(main) else main
    rows = []
    missing = dict.fromkeys(theme_stats.columns)  # a theme without figures in this view
    for theme in records(data.themes):
        st = theme_stats.loc[theme["theme_id"]] if theme["theme_id"] in theme_stats.index else None
        rows.append({**theme, **(missing if st is None else records(st.to_frame().T)[0])})
    return {
        "view": view,
        "themes": rows,
        "themes_chart": _chart(
            small_multiples_figure(themes, key="theme_id"), out.csv(f"{view.slug}-themes", themes)
        )
        if len(themes)
        else None,
        "rising": records(rising),
        "fading": records(fading),
        "sparks": sparks,
        "sparks_csv": out.csv(f"{view.slug}-topics", topics) if len(topics) else None,
        "main_chart": _chart(share_figure(main), out.csv(f"{view.slug}-top-topics", main))
        if len(main)
        else None,
        "corpus_chart": _chart(corpus_figure(corpus), out.csv(f"{view.slug}-papers", corpus)),
    }


def _series_panels(
    data: ReportData, frames: dict[str, pd.DataFrame], kind: str, key: str, series_id: object,
    out: _SiteWriter,
) -> list[dict]:  # fmt: skip
    """One chart per view for a single topic or theme, with its status and growth in that view."""
    panels = []
    for view in data.views:
        rows = data.view_rows(frames, view)
        rows = rows[rows[key] == series_id]
        if rows.empty:
            continue
        stats = data.view_stats(view, kind)
        st = stats.loc[str(series_id)] if str(series_id) in stats.index else None
        growth = None
        if view.key == "long":
            g = growth_since(rows, key, data.options.since)
            growth = records(g)[0] if len(g) else None
        name = f"{kind}-{re.sub(r'[^a-z0-9]+', '-', str(series_id).lower())}-{view.slug}"
        panels.append(
            {
                "view": view,
                "stats": None if st is None else records(st.to_frame().T)[0],
                "growth": growth,
                "chart": _chart(share_figure(rows, key=key), out.csv(name, rows)),
                "id": name,
            }
        )
    return panels


def _write_pages(data: ReportData, build: Path, track: TrackRecord | None = None) -> int:
    common = {
        "run": data.run,
        "build_info": data.build,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    out = _SiteWriter(build, common)
    views = [
        _long_view(data, v, out) if v.key == "long" else _recent_view(data, v, out)
        for v in data.views
    ]
    # status of every topic in every view, for the all-topics table
    topic_status = {v.slug: data.view_stats(v, "topic")["status"].to_dict() for v in data.views}
    feeders = {t: records(g) for t, g in data.theme_topics.groupby("theme_id")}
    related: dict[int, list[dict]] = {}
    for row in data.theme_topics.itertuples():
        related.setdefault(int(row.topic_id), []).append(
            {"theme_id": row.theme_id, "papers": int(row.papers)}
        )
    theme_names = dict(zip(data.themes["theme_id"], data.themes["name"], strict=True))
    decisions = data.build.get("decisions")
    out.page(
        "index.html",
        "index.html.j2",
        "overview",
        views=views,
        topics=records(data.topics),
        topic_status=topic_status,
        decisions=decisions,
        decisions_text=DECISIONS_TEXT.get(str(decisions), "") if decisions else "",
        decision_counts=records(data.decisions),
    )
    papers_by_topic = {int(t): records(g) for t, g in data.papers.groupby("topic_id")}
    lineage_by_topic = {int(t): records(g) for t, g in data.lineage.groupby("topic_id")}
    for topic in records(data.topics):
        tid = int(topic["topic_id"])
        out.page(
            f"topics/{tid}.html",
            "topic.html.j2",
            f"topic {tid}",
            topic=topic,
            panels=_series_panels(data, data.series, "topic", "topic_id", tid, out)
            if tid != -1
            else [],
            papers=papers_by_topic.get(tid, []),
            lineage=lineage_by_topic.get(tid, []),
            related_themes=[
                {**r, "name": theme_names.get(r["theme_id"], r["theme_id"])}
                for r in sorted(related.get(tid, []), key=lambda r: -r["papers"])
            ],
        )
    papers_by_theme = {t: records(g) for t, g in data.theme_papers.groupby("theme_id")}
    for theme in records(data.themes):
        theme_id = theme["theme_id"]
        out.page(
            f"themes/{theme_id}.html",
            "theme.html.j2",
            f"theme {theme_id}",
            theme=theme,
            panels=_series_panels(data, data.theme_series, "theme", "theme_id", theme_id, out),
            feeders=feeders.get(theme_id, []),
            papers=papers_by_theme.get(theme_id, []),
            base_year=data.options.since,
        )
    out.page(
        "map.html",
        "map.html.j2",
        "topic map",
        map_fig=topic_map_figure(data.map_points) if len(data.map_points) else None,
        map_csv=out.csv("map", data.map_points) if len(data.map_points) else None,
        n_points=len(data.map_points),
    )
    _write_search_index(data, build)
    out.page(
        "about.html",
        "about.html.j2",
        "about",
        params=json.loads(data.run["params"]) if data.run.get("params") else {},
        views=data.views,
        options=data.options,
        long_min_years=LONG_MIN_YEARS,
        recent_years=RECENT_YEARS,
        decisions=decisions,
        decisions_text=DECISIONS_TEXT.get(str(decisions), "") if decisions else "",
        rules={name: _header_comment(load_sql(f"marts/{name}")) for name in RULE_MARTS},
        queries={
            name: load_sql(f"report/{name}")
            for name in (
                "topic_series",
                "theme_series",
                "series_stats",
                "topic_table",
                "theme_table",
                "theme_topics",
                "representative_papers",
                "corpus_overview",
            )
        },
    )
    write_track_record(out, track or TrackRecord(pd.DataFrame(), pd.DataFrame(), pd.DataFrame()))
    return out.pages


def _header_comment(sql: str) -> str:
    """The leading comment block of a SQL file, without the comment markers."""
    lines = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].removeprefix(" "))
    return "\n".join(lines)


def _write_search_index(data: ReportData, build: Path) -> None:
    """A script that defines the search index, so search works from file:// under the CSP."""
    index = {
        "topics": [
            {"id": int(t["topic_id"]), "label": t["label"], "terms": list(t["terms"][:8])}
            for t in records(data.topics)
        ],
        "themes": [{"id": t.theme_id, "label": t.name} for t in data.themes.itertuples()],
        "papers": [
            [p["title"], p["published"] or "", p["url"] or "", int(p["topic_id"])]
            for p in records(data.search_papers)
        ],
    }
    text = script_safe(json.dumps(index, ensure_ascii=False, separators=(",", ":")))
    (build / "assets").mkdir(exist_ok=True)
    (build / "assets" / "search-index.js").write_text(
        f"window.TRENDS_SEARCH = {text};\n", encoding="utf-8"
    )


def _copy_assets(build: Path) -> None:
    assets = build / "assets"
    shutil.copytree(REPORTS_DIR / "static", assets, dirs_exist_ok=True)
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    shutil.copy2(plotly_js, assets / "plotly.min.js")


def _is_site(folder: Path) -> bool:
    """A folder this renderer made (or an older layout's site, which had no marker)."""
    return (folder / SITE_MARKER).is_file() or (
        (folder / "index.html").is_file() and (folder / "assets" / "search-index.js").is_file()
    )


def check_site_target(target: Path) -> None:
    """Refuse an output folder whose contents a render would delete.

    A render replaces its output folder: that is fine for a site link, an earlier site, an
    empty folder or a new path, never for a file or for a folder of something else (``--out
    ~`` or ``--out ../../etc`` must not delete the folder).
    """
    target = Path(target)
    if target.is_symlink() or not target.exists():
        return
    if target.is_dir() and (_is_site(target) or not any(target.iterdir())):
        return
    kind = "folder" if target.is_dir() else "file"
    raise ValueError(
        f"{target} is a {kind} that is not a Research Trends site; the report replaces its "
        "output folder, so name a new or empty folder (or an earlier site)"
    )


def _build_names(target: Path) -> re.Pattern[str]:
    """Names of the build folders and links a render makes beside ``target``."""
    return re.compile(rf"^\.{re.escape(target.name)}-(?:[a-z0-9_]{{8}}|old-\d+|link-\d+)$")


def _is_build(entry: Path, target: Path) -> bool:
    """A build folder of ours beside ``target``: its name, and a site (or empty) inside."""
    return (
        _build_names(target).match(entry.name) is not None
        and entry.is_dir()
        and not entry.is_symlink()
        and ((entry / SITE_MARKER).is_file() or not any(entry.iterdir()))
    )


def remove_stale_builds(target: Path) -> None:
    """Remove build folders and links that a killed render left beside ``target``.

    The caller holds the writer lock, so no other render is running; the folder the site
    link points at is kept.
    """
    target = Path(target)
    current = target.resolve() if target.is_symlink() else None
    names = _build_names(target)
    for entry in target.parent.iterdir():
        if names.match(entry.name) and entry.is_symlink():
            entry.unlink(missing_ok=True)  # a link a killed swap left
        elif _is_build(entry, target) and entry.resolve() != current:
            shutil.rmtree(entry, ignore_errors=True)


def swap_in(new_dir: Path, target: Path) -> None:
    """Make ``target`` point at ``new_dir`` atomically (a symlink replaced with rename).

    The previous build is removed afterwards (only a build folder of ours, never what a user's
    link points at). A real directory at ``target`` (an older layout's site, or an empty
    folder) is moved aside first; anything else there is refused (:func:`check_site_target`).
    """
    target = Path(target)
    check_site_target(target)
    if target.exists() and not target.is_symlink():
        aside = target.with_name(f".{target.name}-old-{os.getpid()}")
        target.rename(aside)
        shutil.rmtree(aside, ignore_errors=True)
    previous = target.resolve() if target.is_symlink() else None
    tmp_link = target.with_name(f".{target.name}-link-{os.getpid()}")
    if tmp_link.is_symlink():
        tmp_link.unlink()
    tmp_link.symlink_to(new_dir.name)
    tmp_link.replace(target)
    if (
        previous
        and previous != new_dir.resolve()
        and previous.parent == target.parent.resolve()
        and _is_build(previous, target)
    ):
        shutil.rmtree(previous, ignore_errors=True)
