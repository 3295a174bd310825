"""Which records of a paper file an ingest takes: a date window and deterministic samples.

A sample keeps the papers whose keys hash lowest, so the same file and size always give the
same papers and a larger sample is a superset of a smaller one. A sample per period draws that
many papers from each period at the records' own precision (years for a year-precision corpus,
months for a daily one), so a corpus whose recent years are large still keeps its early ones.
Planning a sample is one streamed pass over the file that holds only the chosen keys.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipeline.normalize import paper_key, parse_date
from pipeline.records import resolve_columns
from pipeline.sources.files import read_paper_chunks


def _rank(key: str) -> int:
    """A paper key's place in the deterministic sample order (its hash)."""
    return int(hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest(), 16)


def sample_records(records: list[dict], n: int, id_field: str = "id") -> list[dict]:
    """Keep a deterministic sample of ``n`` records: those whose paper key hashes lowest.

    The same file and ``n`` always give the same sample, and a larger ``n`` is a superset.
    """
    if n >= len(records):
        return records

    def rank(rec: dict) -> int:
        return _rank(paper_key(str(rec.get(id_field, "")))[0])

    keep = {id(r) for r in sorted(records, key=rank)[:n]}
    return [r for r in records if id(r) in keep]


def _record_date(rec: Mapping, cols: Mapping[str, str]) -> tuple[date | None, str]:
    """A record's published date and precision; ``(None, 'unknown')`` when unreadable."""
    column = cols.get("published")
    hint = rec.get(cols.get("date_precision", ""))
    try:
        return parse_date(
            rec.get(column) if column else None, hint if isinstance(hint, str) else None
        )
    except ValueError:
        return None, "unknown"


def record_period(rec: Mapping, cols: Mapping[str, str]) -> str:
    """The period a record's date falls in, at its own precision: ``2018`` or ``2025-06``.

    Year-precision records fall in their year; month- and day-precision ones in their month;
    undated ones in ``undated``.
    """
    published, precision = _record_date(rec, cols)
    if published is None:
        return "undated"
    return str(published.year) if precision == "year" else f"{published:%Y-%m}"


@dataclass(frozen=True)
class FileSelection:
    """Which records of a file an ingest takes (all of them by default).

    Attributes:
        sample: Keep the ``sample`` papers whose keys hash lowest (deterministic; a larger
            sample is a superset of a smaller one).
        sample_per_period: Keep that many papers per period of the records' own precision
            (a year for year-precision sources, a month for day-precision ones), chosen the
            same way: a sample stratified over time, so that sparse early years keep papers.
        published_from: Keep records published on or after this day.
        published_to: Keep records published on or before this day.
        column_map: Canonical column -> the file's own, for names the aliases miss.

    """

    sample: int | None = None
    sample_per_period: int | None = None
    published_from: date | None = None
    published_to: date | None = None
    column_map: Mapping[str, str] | None = None

    @property
    def windowed(self) -> bool:
        """Whether a published-date window applies."""
        return self.published_from is not None or self.published_to is not None

    @property
    def sampled(self) -> bool:
        """Whether a sample applies."""
        return self.sample is not None or self.sample_per_period is not None

    def params(self) -> dict:
        """The selection as run parameters (a rerun resumes only with the same ones)."""
        out: dict = {
            "sample": self.sample,
            "column_map": dict(self.column_map) if self.column_map else None,
        }
        if self.sample_per_period is not None:
            out["sample_per_period"] = self.sample_per_period
        if self.windowed:
            out["published_from"] = self.published_from
            out["published_to"] = self.published_to
        return out


def published_between(
    records: list[dict],
    published_from: date | None,
    published_to: date | None,
    column_map: Mapping[str, str] | None = None,
) -> list[dict]:
    """Keep the records published in ``[published_from, published_to]`` (inclusive days).

    A window is for incremental loads (a DAG run's data interval): records without a readable
    date have no place in it and are left for a full ingest, which quarantines them.
    """
    if published_from is None and published_to is None:
        return records
    keys = set().union(*(r.keys() for r in records)) if records else set()
    column = resolve_columns(keys, column_map).get("published")
    if column is None:
        raise ValueError("a date window needs a published-date column; none was found")
    lo, hi = published_from or date.min, published_to or date.max
    kept = []
    for rec in records:
        try:
            published, _ = parse_date(rec.get(column))
        except ValueError:
            continue
        if published is not None and lo <= published <= hi:
            kept.append(rec)
    return kept


def plan_sample(path: Path, selection: FileSelection, chunk_rows: int) -> frozenset[str]:
    """The paper keys a sampled ingest of ``path`` keeps, from one streamed pass over the file.

    Memory holds one chunk and the chosen keys (``sample``, or ``sample_per_period`` per
    period), never the file. Within the date window only; records without an id rank as ''.
    """
    wanted = selection.sample if selection.sample is not None else selection.sample_per_period
    heaps: dict[str, list[tuple[int, str]]] = {}  # per stratum: max-heap of the lowest ranks
    chosen: dict[str, set[str]] = {}
    for chunk in read_paper_chunks(path, chunk_rows=chunk_rows):
        records = chunk.records
        if selection.windowed:
            records = published_between(
                records, selection.published_from, selection.published_to, selection.column_map
            )
        if not records:
            continue
        keys = set().union(*(r.keys() for r in records))
        cols = resolve_columns(keys, selection.column_map)
        for rec in records:
            key = paper_key(str(rec.get(cols.get("id", ""), "") or ""))[0]
            stratum = "" if selection.sample is not None else record_period(rec, cols)
            heap, keys_in = heaps.setdefault(stratum, []), chosen.setdefault(stratum, set())
            if key in keys_in:
                continue
            item = (-_rank(key), key)
            if len(heap) < wanted:
                heapq.heappush(heap, item)
                keys_in.add(key)
            elif item > heap[0]:
                keys_in.discard(heapq.heapreplace(heap, item)[1])
                keys_in.add(key)
    return frozenset(key for heap in heaps.values() for _, key in heap)


def in_sample(
    records: list[dict], keys: frozenset[str], column_map: Mapping[str, str] | None
) -> list[dict]:
    """The records whose paper key is among ``keys``."""
    if not records:
        return records
    cols = resolve_columns(set().union(*(r.keys() for r in records)), column_map)
    id_col = cols.get("id", "")
    return [r for r in records if paper_key(str(r.get(id_col, "") or ""))[0] in keys]
