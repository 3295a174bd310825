"""Paper files: Parquet, JSON Lines and CSV, read in bounded chunks.

A file of any size is read ``chunk_rows`` records at a time and never held whole. Each chunk
comes back with the position after it (a resume token: rows read for Parquet and CSV, byte
offset and line number for JSON Lines), so an ingest can store a chunk and its position in one
transaction and resume there after a crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

SUFFIX_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
}
DEFAULT_CHUNK_ROWS = 5_000
# The longest JSON Lines line read as a record. Longer lines are quarantined by their size
# without being read whole or parsed: a 200 MB line used to take gigabytes and fail the file.
# Far above any real record (a record's text is capped at well under 1 MB).
MAX_LINE_BYTES = 16 * 2**20
LINE_HEAD_BYTES = 1_024  # what is kept of an oversized line (for the audit trail)

Unreadable = tuple[int, str, str]  # (line number, raw text, reason)


class SourceFormatError(ValueError):
    """A file that cannot be read as the format it claims to be."""


def detect_format(path: Path) -> str:
    """Tell the file format from its suffix."""
    fmt = SUFFIX_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise SourceFormatError(
            f"{path}: unknown file type {Path(path).suffix!r}; "
            f"expected one of {sorted(SUFFIX_FORMATS)}"
        )
    return fmt


@dataclass
class FileChunk:
    """Up to ``chunk_rows`` records of a file, and where reading stopped."""

    records: list[dict] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    end: str = "0"  # resume token of the position after this chunk
    last: bool = False  # the file ends with this chunk


def json_lines(fh: BinaryIO, max_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes]]:
    """Each line of a binary file as ``(its size in bytes, its bytes)``.

    At most ``max_bytes`` of a line are held: a longer line comes back as its first
    :data:`LINE_HEAD_BYTES` and its full size, the rest skipped unread
    (:func:`decode_json_line` quarantines it by size).
    """
    while raw := fh.readline(max_bytes + 1):
        size = len(raw)
        if size <= max_bytes or raw.endswith(b"\n"):
            yield size, raw
            continue
        head = raw[:LINE_HEAD_BYTES]
        del raw
        while rest := fh.readline(2**16):
            size += len(rest)
            if rest.endswith(b"\n"):
                break
        yield size, head


def decode_json_line(
    raw: bytes, size: int | None = None, max_bytes: int = MAX_LINE_BYTES
) -> tuple[dict | None, str, str | None]:
    """``(object, text, why unreadable)`` of one JSON Lines line (``object`` None if unreadable).

    ``size`` is the line's size from :func:`json_lines`: a line over ``max_bytes`` is not parsed
    (``raw`` is only its head then) and comes back unreadable, naming its size.
    """
    if size is not None and size > max_bytes:
        head = raw[:LINE_HEAD_BYTES].decode("utf-8", "replace")
        return (
            None,
            head,
            (
                f"line of {size:,} bytes is over the {max_bytes:,}-byte limit of one record "
                f"(not parsed; its first {min(len(raw), LINE_HEAD_BYTES):,} bytes kept)"
            ),
        )
    try:
        # A BOM (U+FEFF) opens files saved by some editors; JSON itself may not start with one.
        line = raw.decode("utf-8").rstrip("\r\n").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        return None, raw.decode("utf-8", "replace").rstrip("\r\n"), f"invalid UTF-8: {exc}"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, line, f"broken JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return None, line, "broken JSON: nested too deeply"
    if not isinstance(obj, dict):
        return None, line, "JSON line is not an object"
    return obj, line, None


def read_paper_chunks(
    path: Path,
    *,
    start: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[FileChunk]:
    """Yield a paper file in chunks of ``chunk_rows`` records (lines for JSON Lines).

    ``start`` is a chunk's :attr:`FileChunk.end` from an earlier read of the same file: reading
    continues after that chunk. Memory stays bounded by one chunk (and, for Parquet, one of the
    reader's batches). The last chunk has ``last`` set; an empty file gives one empty last chunk.
    A JSON Lines line over ``max_line_bytes`` is not read whole: it comes back unreadable.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    fmt = detect_format(path)
    chunks = (
        _jsonl_chunks(path, start, chunk_rows, max_line_bytes)
        if fmt == "jsonl"
        else _table_chunks(path, fmt, int(start or 0), chunk_rows)
    )
    previous: FileChunk | None = None
    for chunk in chunks:
        if previous is not None:
            yield previous
        previous = chunk
    if previous is None:
        previous = FileChunk(end=start or "0")
    previous.last = True
    yield previous


def peek_records(path: Path, n: int = 50) -> list[dict]:
    """The first ``n`` readable records of a file (to name its source)."""
    for chunk in read_paper_chunks(path, chunk_rows=n):
        return chunk.records
    return []


def read_paper_file(path: Path) -> tuple[list[dict], list[Unreadable]]:
    """Every record of a (small) paper file, and the lines that could not be parsed.

    For tests and small files; ingests stream with :func:`read_paper_chunks`.
    """
    records: list[dict] = []
    broken: list[Unreadable] = []
    for chunk in read_paper_chunks(path):
        records += chunk.records
        broken += chunk.unreadable
    return records, broken


def _table_chunks(path: Path, fmt: str, skip: int, chunk_rows: int) -> Iterator[FileChunk]:
    """Parquet or CSV rows in chunks, after the first ``skip`` rows; the token counts rows."""
    import pandas as pd
    import pyarrow as pa

    done = 0
    pending: list[dict] = []
    try:
        for rows in _table_batches(path, fmt, chunk_rows):
            if done + len(rows) <= skip:
                done += len(rows)
                continue
            if done < skip:
                rows = rows[skip - done :]
                done = skip
            pending += rows
            done += len(rows)
            while len(pending) >= chunk_rows:
                records, pending = pending[:chunk_rows], pending[chunk_rows:]
                yield FileChunk(records, end=str(done - len(pending)))
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise SourceFormatError(f"{path}: cannot read as {fmt}: {exc}") from exc
    if pending:
        yield FileChunk(pending, end=str(done))


def _table_batches(path: Path, fmt: str, chunk_rows: int) -> Iterator[list[dict]]:
    import pandas as pd  # here, not at the top: `trends --help` stays quick
    import pyarrow.parquet as pq

    if fmt == "parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield [_plain(rec) for rec in batch.to_pylist()]
        return
    try:
        reader = pd.read_csv(path, dtype=str, chunksize=chunk_rows)
    except pd.errors.EmptyDataError as exc:
        raise SourceFormatError(f"{path}: cannot read as csv: {exc}") from exc
    with reader:
        for frame in reader:
            frame = frame.astype(object).where(frame.notna(), None)
            yield [_plain(rec) for rec in frame.to_dict(orient="records")]


def _jsonl_chunks(
    path: Path, start: str | None, chunk_lines: int, max_bytes: int
) -> Iterator[FileChunk]:
    """JSON Lines in chunks of lines; the token is ``byte offset:line number``."""
    offset_text, _, line_text = (start or "0:0").partition(":")
    offset, lineno = int(offset_text), int(line_text or 0)
    with path.open("rb") as fh:
        fh.seek(offset)
        chunk, n_lines = FileChunk(), 0
        for size, raw in json_lines(fh, max_bytes):
            offset += size
            lineno += 1
            n_lines += 1
            if size > max_bytes or raw.strip():
                obj, text, problem = decode_json_line(raw, size, max_bytes)
                if obj is None:
                    chunk.unreadable.append((lineno, text, problem or "unreadable"))
                else:
                    chunk.records.append(obj)
            if n_lines >= chunk_lines:
                chunk.end = f"{offset}:{lineno}"
                yield chunk
                chunk, n_lines = FileChunk(), 0
        if n_lines:
            chunk.end = f"{offset}:{lineno}"
            yield chunk


def _plain(rec: dict) -> dict:
    """Plain Python values (no numpy, NaN as None) so records serialise as JSON."""
    out = {}
    for key, value in rec.items():
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and value != value:
            value = None
        out[str(key)] = value
    return out
