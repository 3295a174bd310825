"""Swap a freshly rendered site in at its output folder, and clean up after killed renders.

A render writes a build folder beside the target (``.<name>-XXXXXXXX``) and makes the target a
symlink to it with one atomic rename, so readers see the old site or the new one.

Renders of one folder may run at once (two homes, two operators, a DAG and a person). Two lock
files beside the target keep them apart without making either wait for the other's render:

- ``.<name>.renders``: every render holds a shared lock on it from :func:`remove_stale_builds`
  (its start) to the end of :func:`swap_in`. Builds of killed renders are removed only by a
  render that gets it exclusively, i.e. when no other render is running: a build folder of a
  running render is never deleted (its owner may be another process, or another home).
- ``.<name>.lock``: held exclusively for the few milliseconds of a swap or a clean-up, so the
  build that the target points at is read and replaced by one process at a time and the live
  site is never deleted.

flock locks go with their process: a killed render holds nothing, and its build is removed by
the next render that runs alone. A build is deleted with its marker last, so a deletion cut
short leaves a folder that is still recognised as a build, and removed next time.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import shutil
import threading
from collections.abc import Iterator
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


def _lock_file(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.{kind}")


# This process's render registrations: (target, thread) -> descriptor of its .renders file.
_RENDERS: dict[tuple[str, int], int] = {}


def _render_key(target: Path) -> tuple[str, int]:
    return (str(target.absolute()), threading.get_ident())


def _release_render(target: Path) -> None:
    fd = _RENDERS.pop(_render_key(target), None)
    if fd is not None:
        os.close(fd)  # closing drops the flock


@contextlib.contextmanager
def _swap_lock(target: Path) -> Iterator[None]:
    """Exclusive hold of ``target`` for one swap or clean-up (blocks while another holds it)."""
    fd = os.open(_lock_file(target, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _remove_build(entry: Path) -> None:
    """Delete a build folder, its marker last (a deletion cut short is finished next time)."""
    for child in entry.iterdir():
        if child.name == SITE_MARKER:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    (entry / SITE_MARKER).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        entry.rmdir()


def remove_stale_builds(target: Path) -> None:
    """Register a render of ``target``; remove what killed renders left, if no other runs.

    Called as a render starts. The render stays registered (a shared lock) until its
    :func:`swap_in`, so other renders leave its build folder alone. Build folders and links
    beside ``target`` are removed only when this is the one render running; the folder the site
    link points at is always kept.
    """
    target = Path(target)
    _release_render(target)  # an earlier render of this thread that never reached its swap
    fd = os.open(_lock_file(target, "renders"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another render is running: its build must stay
            fcntl.flock(fd, fcntl.LOCK_SH)
        else:
            with _swap_lock(target):
                _remove_stale(target)
            fcntl.flock(fd, fcntl.LOCK_SH)
    except BaseException:
        os.close(fd)
        raise
    _RENDERS[_render_key(target)] = fd


def _remove_stale(target: Path) -> None:
    current = target.resolve() if target.is_symlink() else None
    names = _build_names(target)
    for entry in target.parent.iterdir():
        if names.match(entry.name) and entry.is_symlink():
            entry.unlink(missing_ok=True)  # a link a killed swap left
        elif _is_build(entry, target) and entry.resolve() != current:
            _remove_build(entry)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_in(new_dir: Path, target: Path) -> None:
    """Make ``target`` point at ``new_dir`` atomically (a symlink replaced with rename).

    The previous build is removed afterwards (only a build folder of ours, never what a user's
    link points at). A real directory at ``target`` (an older layout's site, or an empty
    folder) is exchanged with the link in one step where the kernel can, else moved aside
    first; anything else there is refused (:func:`check_site_target`). Ends the render's
    registration (:func:`remove_stale_builds`).
    """
    target = Path(target)
    try:
        with _swap_lock(target):
            _swap(Path(new_dir), target)
    finally:
        _release_render(target)


def _swap(new_dir: Path, target: Path) -> None:
    check_site_target(target)
    tmp_link = target.with_name(f".{target.name}-link-{os.getpid()}")
    if tmp_link.is_symlink():
        tmp_link.unlink()
    tmp_link.symlink_to(new_dir.name)
    if target.exists() and not target.is_symlink():
        aside = target.with_name(f".{target.name}-old-{os.getpid()}")
        if _exchange(tmp_link, target):  # the link is live; the old folder is at tmp_link
            tmp_link.rename(aside)
        else:
            target.rename(aside)
            tmp_link.replace(target)
        shutil.rmtree(aside, ignore_errors=True)
        return
    previous = target.resolve() if target.is_symlink() else None
    tmp_link.replace(target)
    if (
        previous
        and previous != new_dir.resolve()
        and previous.parent == target.parent.resolve()
        and _is_build(previous, target)
    ):
        _remove_build(previous)
