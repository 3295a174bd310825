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
    share_figure,
    sparkline_figure,
    topic_map_figure,
)
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
    "insufficient": "fewer than 30 papers in the window: too few to call a trend",
}
SITE_MARKER = ".trends-site"  # in every rendered site: tells it from a folder of anything else
HEADLINE_TOPICS = 5
MIN_HEADLINE_PAPERS = 20


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


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(REPORTS_DIR / "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["figure_json"] = figure_json
    env.globals["status_help"] = STATUS_HELP
    env.filters["pct"] = lambda v, d=1: "" if v is None or pd.isna(v) else f"{v * 100:.{d}f}%"
    env.filters["num"] = lambda v, d=2: "" if v is None or pd.isna(v) else f"{v:.{d}f}"
    return env


@dataclass
class ReportData:
    """Everything the templates show, read from the store once."""

    run: dict
    topics: pd.DataFrame
    series: pd.DataFrame
    papers: pd.DataFrame
    corpus: pd.DataFrame
    main_source: str | None
    themes: pd.DataFrame
    theme_series: pd.DataFrame
    theme_topics: pd.DataFrame
    theme_papers: pd.DataFrame
    map_points: pd.DataFrame
    search_papers: pd.DataFrame
    lineage: pd.DataFrame


def load_report_data(store: Store) -> ReportData:
    """Read the marts and the fit the site shows."""
    run_id = current_topic_run(store)
    if run_id is None or not store.table_exists("mart_builds"):
        raise ValueError("nothing to report yet; run `trends topics` and `trends analyze` first")
    params = {"topic_run_id": run_id}
    run = store.query_file("report/run_info", params)
    if run.empty or run["topic_run_id"].iloc[0] != run_id:
        raise ValueError("the marts were built from an older fit; run `trends analyze` first")
    series = store.query_file("report/topic_series", params)
    counts = series.groupby("source")["papers"].sum()
    return ReportData(
        # a missing date (no as-of date) is None, not NaT, so the pages leave it out
        run={k: None if v is pd.NaT else v for k, v in run.iloc[0].to_dict().items()},
        topics=store.query_file("report/topic_table", params),
        series=series,
        papers=store.query_file("report/representative_papers", params),
        corpus=store.query_file("report/corpus_overview", params),
        main_source=str(counts.idxmax()) if len(counts) else None,
        themes=store.query_file("report/theme_table", params),
        theme_series=store.query_file("report/theme_series", params),
        theme_topics=store.query_file("report/theme_topics", params),
        theme_papers=store.query_file("report/theme_papers", params),
        map_points=store.query_file("report/map_points", params),
        search_papers=store.query_file("report/search_papers", params),
        lineage=store.query_file("report/topic_lineage", params),
    )


def headline_topics(topics: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rising and fading topics: steepest share slopes among topics with enough papers."""
    ok = topics[(topics["topic_id"] != -1) & (topics["window_papers"] >= MIN_HEADLINE_PAPERS)]
    ok = ok.dropna(subset=["log_share_slope"])
    rising = ok[ok["log_share_slope"] > 0].nlargest(HEADLINE_TOPICS, "log_share_slope")
    fading = ok[ok["log_share_slope"] < 0].nsmallest(HEADLINE_TOPICS, "log_share_slope")
    return rising, fading


def render_site(store: Store, out_dir: Path) -> SiteSummary:
    """Render the whole site into a fresh folder, then swap it in at ``out_dir``.

    Readers see the old site or the new one, never a half-written one.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    check_site_target(out_dir)
    data = load_report_data(store)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_builds(out_dir)
    build = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    build.chmod(0o755)  # mkdtemp makes it private; a static file server must read it
    try:
        (build / SITE_MARKER).write_text("A site rendered by `trends report`.\n")
        pages = _write_pages(data, build)
        crash_point("middle")  # test-only crash points (pipeline/faults.py)
        _copy_assets(build)
        size = sum(f.stat().st_size for f in build.rglob("*") if f.is_file())
        crash_point("before_commit")
        swap_in(build, out_dir)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return SiteSummary(out_dir, pages, size, time.perf_counter() - started)


def _write_pages(data: ReportData, build: Path) -> int:
    env = _environment()
    source = data.main_source
    series = data.series[data.series["source"] == source] if source else data.series.iloc[:0]
    real = data.topics[data.topics["topic_id"] != -1]
    top_ids = real.nlargest(MAIN_CHART_TOPICS, "size")["topic_id"].tolist()
    rising, fading = headline_topics(data.topics)
    sparks = {
        int(t): sparkline_figure(series[series["topic_id"] == t])
        for t in pd.concat([rising, fading])["topic_id"]
    }
    common = {
        "run": data.run,
        "source": source,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    pages = 0

    def write(rel: str, template: str, **ctx: object) -> None:
        nonlocal pages
        depth = rel.count("/")
        html = env.get_template(template).render(root="../" * depth, **common, **ctx)
        path = build / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        pages += 1

    theme_series = (
        data.theme_series[data.theme_series["source"] == source]
        if source
        else data.theme_series.iloc[:0]
    )
    themes = data.themes.to_dict("records")
    feeders = {t: g.to_dict("records") for t, g in data.theme_topics.groupby("theme_id")}
    related: dict[int, list[dict]] = {}
    for row in data.theme_topics.itertuples():
        related.setdefault(int(row.topic_id), []).append(
            {"theme_id": row.theme_id, "papers": int(row.papers)}
        )
    theme_names = dict(zip(data.themes["theme_id"], data.themes["name"], strict=True))
    main_series = series[series["topic_id"].isin(top_ids)]
    main_series = (
        main_series.set_index("topic_id").loc[top_ids].reset_index() if top_ids else main_series
    )
    write(
        "index.html",
        "index.html.j2",
        corpus_fig=corpus_figure(data.corpus),
        main_fig=share_figure(main_series),
        rising=rising.to_dict("records"),
        fading=fading.to_dict("records"),
        sparks=sparks,
        topics=data.topics.to_dict("records"),
        themes=themes,
        themes_fig=share_figure(theme_series, key="theme_id") if len(theme_series) else None,
    )
    papers_by_topic = {int(t): g.to_dict("records") for t, g in data.papers.groupby("topic_id")}
    lineage_by_topic = {int(t): g.to_dict("records") for t, g in data.lineage.groupby("topic_id")}
    for topic in data.topics.to_dict("records"):
        tid = int(topic["topic_id"])
        write(
            f"topics/{tid}.html",
            "topic.html.j2",
            topic=topic,
            fig=share_figure(series[series["topic_id"] == tid]) if source else None,
            papers=papers_by_topic.get(tid, []),
            lineage=lineage_by_topic.get(tid, []),
            related_themes=[
                {**r, "name": theme_names.get(r["theme_id"], r["theme_id"])}
                for r in sorted(related.get(tid, []), key=lambda r: -r["papers"])
            ],
        )
    papers_by_theme = {t: g.to_dict("records") for t, g in data.theme_papers.groupby("theme_id")}
    for theme in themes:
        rows = theme_series[theme_series["theme_id"] == theme["theme_id"]]
        write(
            f"themes/{theme['theme_id']}.html",
            "theme.html.j2",
            theme=theme,
            fig=share_figure(rows, key="theme_id") if len(rows) else None,
            feeders=feeders.get(theme["theme_id"], []),
            papers=papers_by_theme.get(theme["theme_id"], []),
        )
    write(
        "map.html",
        "map.html.j2",
        map_fig=topic_map_figure(data.map_points) if len(data.map_points) else None,
        n_points=len(data.map_points),
    )
    _write_search_index(data, build)
    write(
        "about.html",
        "about.html.j2",
        params=json.loads(data.run["params"]) if data.run.get("params") else {},
        queries={
            name: load_sql(f"report/{name}")
            for name in (
                "topic_series",
                "topic_table",
                "theme_series",
                "theme_table",
                "theme_topics",
                "representative_papers",
                "corpus_overview",
            )
        },
    )
    return pages


def _write_search_index(data: ReportData, build: Path) -> None:
    """A script that defines the search index, so search works from file:// under the CSP."""
    index = {
        "topics": [
            {"id": int(t.topic_id), "label": t.label, "terms": list(t.terms[:8])}
            for t in data.topics.itertuples()
        ],
        "themes": [{"id": t.theme_id, "label": t.name} for t in data.themes.itertuples()],
        "papers": [
            [p.title, p.published or "", p.url or "", int(p.topic_id)]
            for p in data.search_papers.itertuples()
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
