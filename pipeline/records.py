"""Raw records into paper rows (pure, no I/O): column mapping, batches and in-batch dedupe.

Which of a record's keys holds each paper column (:func:`resolve_columns`) and the batch every
record leaves as a paper row or a rejection (:func:`prepare_batch`) are here; the checks of one
record's fields are :mod:`pipeline.fields`, whose names are re-exported here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

import pandas as pd

from pipeline.fields import FUTURE_MARGIN_DAYS as FUTURE_MARGIN_DAYS
from pipeline.fields import MAX_ABSTRACT as MAX_ABSTRACT
from pipeline.fields import MAX_AUTHORS as MAX_AUTHORS
from pipeline.fields import MAX_TITLE as MAX_TITLE
from pipeline.fields import MIN_ABSTRACT as MIN_ABSTRACT
from pipeline.fields import RecordError as RecordError
from pipeline.fields import decision_of as decision_of
from pipeline.fields import prepare_record as prepare_record
from pipeline.normalize import payload_hash

# Canonical column -> names it is found under, in order of preference.
DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "paper_id", "arxiv_id", "doi"),
    "title": ("title",),
    "abstract": ("abstract", "summary"),
    "published": ("published", "published_date", "date", "year"),
    "date_precision": ("date_precision",),
    "categories": ("categories",),
    "primary_category": ("primary_category",),
    "venue": ("venue", "journal"),
    "authors": ("authors",),
    "url": ("url", "link"),
    "version": ("version", "arxiv_version"),
    # arXiv version history (Kaggle snapshot): first-submission date and latest version number
    "versions": ("versions",),
    # review outcome of a conference paper (e.g. Poster, Oral, Reject): see decision_of
    "decision": ("decision", "status"),
}
PAPER_COLUMNS = [
    "paper_id",
    "source",
    "title",
    "abstract",
    "published",
    "date_precision",
    "categories",
    "primary_category",
    "venue",
    "authors",
    "url",
    "version",
    "content_hash",
    "decision",
]


class Quarantined(NamedTuple):
    """A received record that a source could not even turn into fields (e.g. malformed XML)."""

    record_key: str | None
    payload: str  # the record as received (for XML, the record's XML text)
    reason: str  # short machine-readable code, e.g. ``malformed_xml``
    detail: str


@dataclass
class PreparedBatch:
    """Outcome of preparing one batch of raw records."""

    raw: pd.DataFrame  # source, payload_hash, record_key, payload
    papers: pd.DataFrame  # PAPER_COLUMNS, one row per paper_id
    rejected: pd.DataFrame  # source, payload_hash, record_key, reason, detail
    received: int = 0
    n_rejected: int = 0
    notes: list[str] = field(default_factory=list)


def resolve_columns(
    available: Iterable[str], column_map: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Map canonical names to the record's own keys (explicit map first, then aliases)."""
    available = list(available)
    resolved: dict[str, str] = {}
    for canon, aliases in DEFAULT_ALIASES.items():
        for alias in aliases:
            if alias in available:
                resolved[canon] = alias
                break
    present = set(available)
    for canon, own in (column_map or {}).items():
        if canon not in DEFAULT_ALIASES:
            raise ValueError(f"unknown target column {canon!r}; known: {sorted(DEFAULT_ALIASES)}")
        if present and own not in present:  # else every record would be quarantined for it
            shown = ", ".join(sorted(map(str, present))[:20])
            raise ValueError(f"--map {canon}={own}: the records have no column {own!r} ({shown})")
        resolved[canon] = own
    return resolved


def _storable(text: str) -> str:
    """Text that any store can hold: lone surrogates become backslash escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _payload(rec: Mapping[str, object]) -> str:
    """Lossless JSON of a record; ASCII-escaped when it holds characters UTF-8 cannot carry."""
    payload = json.dumps(rec, sort_keys=True, default=str, ensure_ascii=False)
    try:
        payload.encode("utf-8")
    except UnicodeEncodeError:
        payload = json.dumps(rec, sort_keys=True, default=str, ensure_ascii=True)
    return payload


def prepare_batch(
    records: list[dict],
    source: str,
    column_map: Mapping[str, str] | None = None,
    unreadable: Iterable[tuple[int, str, str]] = (),
    *,
    payloads: Sequence[str] | None = None,
    quarantined: Iterable[Quarantined] = (),
    paper_source: str | None = None,
    today: date | None = None,
) -> PreparedBatch:
    """Validate, normalise and dedupe a batch; every record ends as a paper row or a rejection.

    Within the batch one row per paper survives: the highest version, ties going to the later
    record; the survivor keeps the earliest date seen. The others are rejected as
    ``duplicate_in_batch`` (their payloads stay in ``raw_records``).

    Args:
        records: The records' fields, one dict per record.
        source: Name of the channel the records came through (``raw_records.source``).
        column_map: Canonical column -> the records' own key, for keys the aliases miss.
        unreadable: ``(line number, text, reason)`` of lines a file reader could not parse.
        payloads: The records as received, parallel to ``records`` (e.g. a JSON line or an
            XML element's text); by default each record's JSON is its payload.
        quarantined: Records a source received but could not turn into fields.
        paper_source: ``papers.source`` of the stored papers (default: ``source``). Every
            channel of the arXiv uses ``arxiv``, so its papers form one corpus in the marts.
        today: The ingest day that later dates are checked against (default: today, UTC).

    """
    unreadable = list(unreadable)
    if payloads is not None and len(payloads) != len(records):
        raise ValueError(f"{len(payloads)} payloads for {len(records)} records")
    keys = set().union(*(r.keys() for r in records)) if records else set()
    cols = resolve_columns(keys, column_map)
    raw_rows, ok_rows, rejected = [], [], []
    for i, rec in enumerate(records):
        payload = _payload(rec) if payloads is None else _storable(payloads[i])
        phash = payload_hash(payload)
        record_key = rec.get(cols.get("id", ""))
        record_key = None if record_key is None else _storable(str(record_key)[:200])
        raw_rows.append((source, phash, record_key, payload))
        try:
            row = prepare_record(rec, cols, paper_source or source, today=today)
        except RecordError as exc:
            rejected.append((source, phash, record_key, exc.reason, _storable(exc.detail)))
            continue
        row["_payload_hash"] = phash
        ok_rows.append(row)
    for lineno, text, reason in unreadable:
        phash = payload_hash(text)
        text = _storable(text)
        raw_rows.append((source, phash, f"line {lineno}", text))
        rejected.append((source, phash, f"line {lineno}", "unreadable", reason))
    n_quarantined = 0
    for item in quarantined:
        n_quarantined += 1
        phash = payload_hash(item.payload)
        key = None if item.record_key is None else _storable(item.record_key[:200])
        raw_rows.append((source, phash, key, _storable(item.payload)))
        rejected.append((source, phash, key, item.reason, _storable(item.detail)))

    papers = pd.DataFrame(ok_rows, columns=[*PAPER_COLUMNS, "_payload_hash"])
    if len(papers) and not papers["paper_id"].is_unique:
        papers["_order"] = range(len(papers))
        earliest = papers.groupby("paper_id")["published"].transform(
            lambda s: s.dropna().min() if s.notna().any() else None
        )
        papers["published"] = earliest
        papers = papers.sort_values(["paper_id", "version", "_order"])
        dup_mask = papers.duplicated("paper_id", keep="last")
        for _, dup in papers[dup_mask].iterrows():
            rejected.append(
                (
                    source,
                    dup["_payload_hash"],
                    dup["paper_id"],
                    "duplicate_in_batch",
                    f"another record of {dup['paper_id']} in this batch has a later version",
                )
            )
        papers = papers[~dup_mask].sort_values("_order")
    n_rejected = len(rejected)
    raw = pd.DataFrame(raw_rows, columns=["source", "payload_hash", "record_key", "payload"])
    raw = raw.drop_duplicates(["source", "payload_hash"])
    rej = pd.DataFrame(
        rejected, columns=["source", "payload_hash", "record_key", "reason", "detail"]
    ).drop_duplicates(["source", "payload_hash"])
    return PreparedBatch(
        raw=raw,
        papers=papers[PAPER_COLUMNS].reset_index(drop=True),
        rejected=rej,
        received=len(records) + len(unreadable) + n_quarantined,
        n_rejected=n_rejected,
    )
