"""Render the static site from the store's marts, atomically.

The site's data is read by :mod:`pipeline.report.data`, its pages written by
:mod:`pipeline.report.pages`, its CSV, search index and static files by
:mod:`pipeline.report.assets`; this module renders into a fresh folder and swaps it in.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.faults import crash_point
from pipeline.report.assets import copy_assets, csv_text
from pipeline.report.data import ReportOptions, growth_since, load_report_data, plan_views
from pipeline.report.pages import ReportError, figure_json, write_pages
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

SITE_MARKER = ".trends-site"  # in every rendered site: tells it from a folder of anything else


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
        pages = write_pages(data, build)
        crash_point("middle")  # test-only crash points (pipeline/faults.py)
        copy_assets(build)
        size = sum(f.stat().st_size for f in build.rglob("*") if f.is_file())
        crash_point("before_commit")
        swap_in(build, out_dir)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return SiteSummary(out_dir, pages, size, time.perf_counter() - started)


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
