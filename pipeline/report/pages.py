"""The site's pages: one function that writes every page, each kind of page its own helper."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from pipeline.report.assets import write_search_index
from pipeline.report.changes import EditionLog, edition_changes
from pipeline.report.charts import (
    corpus_figure,
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
from pipeline.report.writer import ReportError, SiteWriter, chart
from pipeline.store import load_sql

MAIN_CHART_TOPICS = 6
DECISIONS_TEXT = {
    "accepted": "Accepted papers and papers without a review outcome (arXiv); rejected and "
    "withdrawn submissions are left out",
    "all": "Every paper, accepted and rejected submissions alike",
}
# Header comments of the marts whose rules the About page quotes.
RULE_MARTS = ("corpus_periods", "series_growth", "series_status")


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


def _view_charts(view: View, frames: _ViewFrames, shown: pd.DataFrame, out: SiteWriter) -> dict:
    """The charts every view has, each with its CSV.

    Theme small multiples, a sparkline per ``shown`` topic, and papers per period.
    """
    themes, topics, corpus = frames.themes, frames.topics, frames.corpus
    return {
        "themes_chart": chart(
            small_multiples_figure(themes, key="theme_id"), out.csv(f"{view.slug}-themes", themes)
        )
        if len(themes)
        else None,
        "sparks": {
            int(t): sparkline_figure(topics[topics["topic_id"] == t]) for t in shown["topic_id"]
        },
        "sparks_csv": out.csv(f"{view.slug}-topics", topics) if len(topics) else None,
        "corpus_chart": chart(corpus_figure(corpus), out.csv(f"{view.slug}-papers", corpus)),
    }


def _long_view(data: ReportData, view: View, out: SiteWriter) -> dict:
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


def _recent_view(data: ReportData, view: View, out: SiteWriter) -> dict:
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
        "main_chart": chart(share_figure(main), out.csv(f"{view.slug}-top-topics", main))
        if len(main)
        else None,
    }


def _series_panels(
    data: ReportData, frames: dict[str, pd.DataFrame], kind: str, key: str, series_id: object,
    out: SiteWriter,
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
                "chart": chart(share_figure(rows, key=key), out.csv(name, rows)),
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
    out = SiteWriter(build, common)
    _write_index(data, out)
    _write_topic_pages(data, out, pages)
    _write_theme_pages(data, out)
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
    _write_about(data, out)
    write_track_record(out, track or TrackRecord(pd.DataFrame(), pd.DataFrame(), pd.DataFrame()))
    return out.pages


def _decisions(data: ReportData) -> dict:
    """Which review outcomes the marts counted, and the sentence that says so."""
    decisions = data.build.get("decisions")
    text = DECISIONS_TEXT.get(str(decisions), "") if decisions else ""
    return {"decisions": decisions, "decisions_text": text}


def _write_index(data: ReportData, out: SiteWriter) -> None:
    """The overview: the long view first, then the recent one, areas and every topic."""
    views = [
        _long_view(data, v, out) if v.key == "long" else _recent_view(data, v, out)
        for v in data.views
    ]
    # status of every topic in every view, for the all-topics table
    topic_status = {v.slug: data.view_stats(v, "topic")["status"].to_dict() for v in data.views}
    out.page(
        "index.html",
        "index.html.j2",
        "overview",
        views=views,
        topics=records(data.topics),
        topic_status=topic_status,
        **_decisions(data),
        decision_counts=records(data.decisions),
        areas=area_overview(data.areas, data.topics),
        area_charts=[
            {"view": view, "chart": chart(small_multiples_figure(rows, key="area_id"), csv)}
            for view, rows, csv in _area_rows(data, out)
        ],
    )


def _write_topic_pages(data: ReportData, out: SiteWriter, pages: dict[int, str]) -> None:
    """A page per current topic (by stable id) and one per ended topic a link may still name."""
    related: dict[int, list[dict]] = {}
    for row in data.theme_topics.itertuples():
        related.setdefault(int(row.topic_id), []).append(
            {"theme_id": row.theme_id, "papers": int(row.papers)}
        )
    theme_names = dict(zip(data.themes["theme_id"], data.themes["name"], strict=True))
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


def _write_theme_pages(data: ReportData, out: SiteWriter) -> None:
    """A page per theme: its share in every view, the topics that feed it, its top papers."""
    feeders = {t: records(g) for t, g in data.theme_topics.groupby("theme_id")}
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


ABOUT_QUERIES = (
    "topic_series",
    "theme_series",
    "series_stats",
    "topic_table",
    "theme_table",
    "theme_topics",
    "representative_papers",
    "corpus_overview",
)


def _write_about(data: ReportData, out: SiteWriter) -> None:
    """The About page: the fit as it was made, its quality, the rules and the SQL of each chart."""
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
        **_decisions(data),
        rules={name: _header_comment(load_sql(f"marts/{name}")) for name in RULE_MARTS},
        queries={name: load_sql(f"report/{name}") for name in ABOUT_QUERIES},
    )


def _write_changes(data: ReportData, out: SiteWriter, log: EditionLog) -> None:
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


def _area_rows(data: ReportData, out: SiteWriter) -> list[tuple[View, pd.DataFrame, str]]:
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
