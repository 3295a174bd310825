"""How a page is written: the Jinja environment and the writer of the build folder.

The environment carries the report's filters; the writer renders a template into the build
folder, with one error line naming a page that fails.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.io as pio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from pipeline.config import REPORTS_DIR
from pipeline.report.assets import csv_text, script_safe
from pipeline.report.charts import period_text

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


class SiteWriter:
    """Writes pages and chart data files into one build folder, counting pages."""

    def __init__(self, build: Path, common: dict) -> None:
        self.build = build
        self.common = common
        self.env = _environment()
        self.pages = 0

    def page(self, rel: str, template: str, what: str, **ctx: object) -> None:
        """Render ``template`` into ``rel`` (``what`` names the page in an error)."""
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


def chart(fig: object, csv: str | None) -> dict:
    """A chart as the templates take it: the figure and its CSV's path."""
    return {"fig": fig, "csv": csv}
