"""What a page links to besides itself: chart data as CSV, the search index, static assets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import plotly

from pipeline.config import REPORTS_DIR
from pipeline.report.data import ReportData, records


def script_safe(json_text: str) -> str:
    """JSON with every character that could end a script element or start markup escaped."""
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        json_text = json_text.replace(char, escape)
    return json_text


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


def write_search_index(
    data: ReportData, build: Path, pages: dict[int, str], chunk: int = 50_000
) -> None:
    """Scripts that define the search index, so search works from file:// under the CSP.

    ``assets/search-index.js`` holds the topics, the themes and the newest ``chunk`` papers
    (newest first, as ``report/search_papers`` orders them) and says how many files of papers
    there are; ``assets/search-papers-N.js`` (N >= 1) holds the next ``chunk`` each, which
    ``search.js`` loads only while a query has fewer matches than it shows. A paper is
    [title, date, link, its topic's page name (``topics/<name>.html``)].
    """
    papers = [
        [
            p["title"],
            p["published"] or "",
            p["url"] or "",
            pages.get(int(p["topic_id"]), str(int(p["topic_id"]))),
        ]
        for p in records(data.search_papers)
    ]
    parts = [papers[start : start + chunk] for start in range(0, len(papers), chunk)] or [[]]
    assets = build / "assets"
    assets.mkdir(exist_ok=True)
    for number, part in enumerate(parts[1:], start=1):
        text = script_safe(json.dumps(part, ensure_ascii=False, separators=(",", ":")))
        (assets / f"search-papers-{number}.js").write_text(
            "(window.TRENDS_SEARCH_PARTS = window.TRENDS_SEARCH_PARTS || {})"
            f"[{number}] = {text};\n",
            encoding="utf-8",
        )
    index = {
        "topics": [
            {
                "id": int(t["topic_id"]),
                "page": pages[int(t["topic_id"])],
                "label": t["label"],
                "terms": list(t["terms"][:8]),
            }
            for t in records(data.topics)
        ],
        "themes": [{"id": t.theme_id, "label": t.name} for t in data.themes.itertuples()],
        "papers": parts[0],
        "parts": len(parts),
        "total": len(papers),
    }
    text = script_safe(json.dumps(index, ensure_ascii=False, separators=(",", ":")))
    (assets / "search-index.js").write_text(f"window.TRENDS_SEARCH = {text};\n", encoding="utf-8")


def copy_assets(build: Path) -> None:
    """The static files (scripts, styles) and plotly.js into ``build/assets``: no CDN."""
    assets = build / "assets"
    shutil.copytree(REPORTS_DIR / "static", assets, dirs_exist_ok=True)
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    shutil.copy2(plotly_js, assets / "plotly.min.js")
