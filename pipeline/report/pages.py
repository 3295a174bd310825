"""The site's pages: the Jinja environment, and one function that writes every page."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import plotly.io as pio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from pipeline.config import REPORTS_DIR
from pipeline.report.assets import csv_text, script_safe, write_search_index
from pipeline.report.changes import EditionLog, edition_changes
from pipeline.report.charts import (
    corpus_figure,
    period_text,
    share_figure,
    small_multiples_figure,
    sparkline_figure,
    topic_map_figure,
)
from pipeline.report.data import (
    LONG_MIN_YEARS,
    RECENT_YEARS,
    ReportData,
    View,
    growth_since,
    headline_topics,
    movers_since,
    records,
)
from pipeline.report.feed import render_feed
from pipeline.report.fit_quality import fit_quality
from pipeline.report.topic_pages import (
    area_overview,
    paper_lists,
    retired_topics,
    topic_page_names,
    topic_page_of,
)
from pipeline.report.track_record import TrackRecord, write_track_record
from pipeline.store import load_sql

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
# Header comments of the marts whose rules the About page quotes.
RULE_MARTS = ("corpus_periods", "series_growth", "series_status")


class ReportError(ValueError):
    """A page that could not be rendered; the message names the page and the reason."""


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
    env.filters["clock"] = lambda v: (
        v.strftime("%Y-%m-%d %H:%M UTC") if hasattr(v, "strftime") else v
    )
    return env


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


@dataclass(frozen=True)
class _ViewFrames:
    """What one view of one source plots: series, papers per period and the status figures."""

    themes: pd.DataFrame
    topics: pd.DataFrame
    corpus: pd.DataFrame
    theme_stats: pd.DataFrame
    topic_stats: pd.DataFrame

    @classmethod
    def of(cls, data: ReportData, view: View) -> _ViewFrames:
        return cls(
            themes=data.view_rows(data.theme_series, view),
            topics=data.view_rows(data.series, view),
            corpus=data.view_rows(data.corpus, view),
            theme_stats=data.view_stats(view, "theme"),
            topic_stats=data.view_stats(view, "topic"),
        )


def _view_charts(view: View, frames: _ViewFrames, shown: pd.DataFrame, out: _SiteWriter) -> dict:
    """The charts every view has, each with its CSV.

    Theme small multiples, a sparkline per ``shown`` topic, and papers per period.
    """
    themes, topics, corpus = frames.themes, frames.topics, frames.corpus
    return {
        "themes_chart": _chart(
            small_multiples_figure(themes, key="theme_id"), out.csv(f"{view.slug}-themes", themes)
        )
        if len(themes)
        else None,
        "sparks": {
            int(t): sparkline_figure(topics[topics["topic_id"] == t]) for t in shown["topic_id"]
        },
        "sparks_csv": out.csv(f"{view.slug}-topics", topics) if len(topics) else None,
        "corpus_chart": _chart(corpus_figure(corpus), out.csv(f"{view.slug}-papers", corpus)),
    }


def _long_view(data: ReportData, view: View, out: _SiteWriter) -> dict:
    """The long view of one source: theme small multiples by year, growth since, movers."""
    frames = _ViewFrames.of(data, view)
    themes, topics, theme_stats = frames.themes, frames.topics, frames.theme_stats
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
        movers_since(data.topics, topic_growth, frames.topic_stats)
        if topic_growth is not None and len(topic_growth)
        else (data.topics.iloc[:0], data.topics.iloc[:0])
    )
    return {
        "view": view,
        "themes": rows,
        "grew": records(grew),
        "faded": records(faded),
        **_view_charts(view, frames, pd.concat([grew, faded]), out),
        "base_year": data.options.since,
    }


def _recent_view(data: ReportData, view: View, out: _SiteWriter) -> dict:
    """The recent view of one source at the report grain: themes, headline topics, shares."""
    frames = _ViewFrames.of(data, view)
    topics, theme_stats = frames.topics, frames.theme_stats
    rising, fading = headline_topics(data.topics, frames.topic_stats)
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
        "rising": records(rising),
        "fading": records(fading),
        **_view_charts(view, frames, pd.concat([rising, fading]), out),
        "main_chart": _chart(share_figure(main), out.csv(f"{view.slug}-top-topics", main))
        if len(main)
        else None,
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


def write_pages(
    data: ReportData, build: Path, track: TrackRecord | None = None, log: EditionLog | None = None
) -> int:
    """Every page of the site into ``build``, with ``feed.xml``.

    ``track``: the backtests' track record, if any; ``log``: the latest report editions
    (:func:`pipeline.report.changes.load_edition_log`), for "Since last report" and the feed.
    """
    pages = topic_page_names(data.topics)
    common = {
        "topic_page": topic_page_of(pages),
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
        areas=area_overview(data.areas, data.topics),
        area_charts=[
            {"view": view, "chart": _chart(small_multiples_figure(rows, key="area_id"), csv)}
            for view, rows, csv in _area_rows(data, out)
        ],
    )
    papers_by_topic = {int(t): records(g) for t, g in data.papers.groupby("topic_id")}
    lineage_by_topic = {int(t): records(g) for t, g in data.lineage.groupby("topic_id")}
    all_papers = paper_lists(data.topic_papers)
    for topic in records(data.topics):
        tid = int(topic["topic_id"])
        out.page(
            f"topics/{pages[tid]}.html",
            "topic.html.j2",
            f"topic {tid}",
            topic=topic,
            panels=_series_panels(data, data.series, "topic", "topic_id", tid, out)
            if tid != -1
            else [],
            papers=papers_by_topic.get(tid, []),
            paper_list=all_papers.get(tid),
            lineage=lineage_by_topic.get(tid, []),
            related_themes=[
                {**r, "name": theme_names.get(r["theme_id"], r["theme_id"])}
                for r in sorted(related.get(tid, []), key=lambda r: -r["papers"])
            ],
        )
    for ended in retired_topics(data.retired, set(pages.values())):
        out.page(
            f"topics/{ended['stable_id']}.html",
            "topic_retired.html.j2",
            f"ended topic {ended['stable_id']}",
            topic=ended,
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
        map_fig=topic_map_figure(data.map_points, pages=pages) if len(data.map_points) else None,
        map_csv=out.csv("map", data.map_points) if len(data.map_points) else None,
        n_points=len(data.map_points),
    )
    write_search_index(data, build, pages, data.options.search_chunk)
    _write_changes(data, out, log or EditionLog([], None))
    out.page(
        "about.html",
        "about.html.j2",
        "about",
        params=json.loads(data.run["params"]) if data.run.get("params") else {},
        quality=fit_quality(data.run, data.fit_corpus),
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


def _write_changes(data: ReportData, out: _SiteWriter, log: EditionLog) -> None:
    """The "Since last report" page and ``feed.xml``: each edition against the one before."""
    views = {(v.source, v.grain) for v in data.views}
    changes = [edition_changes(frames, views) for frames in log.editions]
    out.page(
        "changes.html", "changes.html.j2", "since last report", c=changes[0] if changes else {}
    )
    run_id = str(data.run["topic_run_id"])
    try:
        text = render_feed(out.env, log, changes, run_id)
    except Exception as exc:  # one line naming the file, never a traceback
        raise ReportError(f"report: cannot render feed.xml: {type(exc).__name__}: {exc}") from exc
    (out.build / "feed.xml").write_text(text, encoding="utf-8")


def _area_rows(data: ReportData, out: _SiteWriter) -> list[tuple[View, pd.DataFrame, str]]:
    """Each view's area shares with the path of their CSV (views without areas left out)."""
    found = []
    for view in data.views:
        rows = data.view_rows(data.area_series, view)
        if len(rows):
            found.append((view, rows, out.csv(f"{view.slug}-areas", rows)))
    return found


def _header_comment(sql: str) -> str:
    """The leading comment block of a SQL file, without the comment markers."""
    lines = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].removeprefix(" "))
    return "\n".join(lines)
