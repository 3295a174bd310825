"""The Kaggle arXiv metadata snapshot (``arxiv-metadata-oai-snapshot.json``), streamed.

The file is JSON Lines and large (over 4 GB), so it is read in chunks of lines and never held
whole. Each chunk comes back with the byte offset and line number after it, so an ingest can
store a chunk and its position together and resume there. Filters (categories, last update
date) apply while reading; lines that are not JSON objects are handed back for quarantine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipeline.sources.files import MAX_LINE_BYTES, decode_json_line, json_lines

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEFAULT_CHUNK_LINES = 5_000


@dataclass(frozen=True)
class SnapshotPosition:
    """Where reading stopped: the next line's byte offset and number (1-based lines)."""

    offset: int = 0
    line: int = 0

    def token(self) -> str:
        """The position as text (stored as the ingest's resume token)."""
        return f"{self.offset}:{self.line}"

    @classmethod
    def parse(cls, token: str | None) -> SnapshotPosition:
        """Read a position written by :meth:`token` (None: the start of the file)."""
        if not token:
            return cls()
        offset, _, line = token.partition(":")
        return cls(int(offset), int(line or 0))


@dataclass(frozen=True)
class SnapshotFilter:
    """Which records to take.

    Any of ``categories`` (an archive such as ``cs`` takes all its categories), last updated
    on or after ``since``.
    """

    categories: tuple[str, ...] = ()
    since: date | None = None

    def keeps(self, obj: dict) -> bool:
        """Whether a record passes (records whose fields cannot be read are kept for checks)."""
        if self.categories:
            cats = obj.get("categories")
            if not isinstance(cats, str) or not any(
                category_matches(c, self.categories) for c in cats.split()
            ):
                return False
        if self.since is not None:
            updated = obj.get("update_date")
            if isinstance(updated, str) and _ISO_DAY.match(updated):
                return updated >= self.since.isoformat()
        return True


def category_matches(category: str, wanted: Sequence[str]) -> bool:
    """``cs.AI`` matches ``cs.AI`` and ``cs``; ``hep-th`` matches ``hep-th``."""
    return any(category == w or category.startswith(w + ".") for w in wanted)


@dataclass
class SnapshotChunk:
    """Up to ``chunk_lines`` lines of the snapshot, split into what to ingest and what not."""

    records: list[dict] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)  # each kept record's line, as read
    unreadable: list[tuple[int, str, str]] = field(default_factory=list)
    skipped: int = 0  # records the filter left out (not received)
    end: SnapshotPosition = field(default_factory=SnapshotPosition)
    max_update_date: str | None = None
    last: bool = False  # the file ends after this chunk


def read_snapshot_chunks(
    path: Path,
    *,
    start: SnapshotPosition | None = None,
    chunk_lines: int = DEFAULT_CHUNK_LINES,
    keep: SnapshotFilter | None = None,
) -> Iterator[SnapshotChunk]:
    """Yield the snapshot in chunks of ``chunk_lines`` lines, from ``start``.

    Memory stays bounded by one chunk. Kept records get a ``primary_category`` (the first
    listed category, as in arXiv's own metadata) unless they have one.
    """
    if chunk_lines < 1:
        raise ValueError("chunk_lines must be at least 1")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    keep = keep or SnapshotFilter()
    position = start or SnapshotPosition()
    with path.open("rb") as fh:
        fh.seek(position.offset)
        offset, lineno = position.offset, position.line
        chunk = SnapshotChunk()
        n_lines = 0
        for size, raw in json_lines(fh):  # a line over MAX_LINE_BYTES: quarantined by size
            offset += size
            lineno += 1
            n_lines += 1
            if size > MAX_LINE_BYTES or raw.strip():
                obj, line, problem = decode_json_line(raw, size)
                if obj is None:
                    chunk.unreadable.append((lineno, line, problem or "unreadable"))
                elif not keep.keeps(obj):
                    chunk.skipped += 1
                else:
                    _add(chunk, obj, line)
            if n_lines >= chunk_lines:
                chunk.end = SnapshotPosition(offset, lineno)
                yield chunk
                chunk, n_lines = SnapshotChunk(), 0
        chunk.end = SnapshotPosition(offset, lineno)
        chunk.last = True
        yield chunk  # the rest of the file (maybe nothing), marked as the end


def _add(chunk: SnapshotChunk, obj: dict, line: str) -> None:
    cats = obj.get("categories")
    if "primary_category" not in obj and isinstance(cats, str) and cats.split():
        obj["primary_category"] = cats.split()[0]
    chunk.records.append(obj)
    chunk.payloads.append(line)
    updated = obj.get("update_date")
    if (
        isinstance(updated, str)
        and _ISO_DAY.match(updated)
        and (chunk.max_update_date is None or updated > chunk.max_update_date)
    ):
        chunk.max_update_date = updated
