"""Swap a freshly rendered site in at its output folder, and clean up after killed renders.

A render writes a build folder beside the target (``.<name>-XXXXXXXX``) and makes the target a
symlink to it with one atomic rename, so readers see the old site or the new one.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

SITE_MARKER = ".trends-site"  # in every rendered site: tells it from a folder of anything else


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
