"""Render the static site from the store's marts, atomically.

The site's data is read by :mod:`pipeline.report.data`, its pages written by
:mod:`pipeline.report.pages`, its CSV, search index and static files by
:mod:`pipeline.report.assets`; this module renders into a fresh folder and swaps it in.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.faults import crash_point
from pipeline.report.assets import copy_assets, csv_text
from pipeline.report.changes import load_edition_log
from pipeline.report.data import ReportOptions, growth_since, load_report_data, plan_views
from pipeline.report.pages import write_pages
from pipeline.report.swap import SITE_MARKER, check_site_target, remove_stale_builds, swap_in
from pipeline.report.track_record import load_track_record
from pipeline.report.writer import ReportError, figure_json
from pipeline.store import Store

__all__ = [
    "ReportError",
    "ReportOptions",
    "SiteSummary",
    "check_site_target",
    "csv_text",
    "figure_json",
    "growth_since",
    "plan_views",
    "remove_stale_builds",
    "render_site",
    "swap_in",
]


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
        editions = load_edition_log(store, str(data.run["topic_run_id"]))
        pages = write_pages(data, build, load_track_record(store), editions)
        crash_point("middle")  # test-only crash points (pipeline/faults.py)
        copy_assets(build)
        size = sum(f.stat().st_size for f in build.rglob("*") if f.is_file())
        crash_point("before_commit")
        swap_in(build, out_dir)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return SiteSummary(out_dir, pages, size, time.perf_counter() - started)
