"""Validation and normalisation of raw records into paper rows (pure, no I/O)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd

from pipeline.normalize import (
    clean_text,
    content_hash,
    paper_key,
    parse_date,
    parse_version,
    payload_hash,
    version_history,
)

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
_SURROGATE = re.compile("[\ud800-\udfff]")  # unpaired surrogates (no UTF-8 for them)
MAX_TITLE = 1_000
MAX_ABSTRACT = 20_000
MIN_ABSTRACT = 30
MAX_VERSION = 2**31 - 1  # papers.version is a 32-bit integer

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
# Statuses of a submission still in review: no outcome yet (as no status at all).
PENDING_STATUSES = frozenset({"active", "pending", "submitted", "under review", "under_review"})


class RecordError(ValueError):
    """A record that cannot become a paper; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


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
    for canon, own in (column_map or {}).items():
        if canon not in DEFAULT_ALIASES:
            raise ValueError(f"unknown target column {canon!r}; known: {sorted(DEFAULT_ALIASES)}")
        resolved[canon] = own
    return resolved


def _text(value: object, what: str, limit: int) -> str:
    if value is None or (isinstance(value, float) and value != value):
        raise RecordError(f"missing_{what}", f"no {what}")
    if not isinstance(value, str):
        raise RecordError(f"non_text_{what}", f"{what} is {type(value).__name__}, not text")
    if "\x00" in value or _SURROGATE.search(value):
        raise RecordError(f"non_text_{what}", f"{what} holds NUL or unpaired surrogate characters")
    cleaned = clean_text(value)
    if not cleaned:
        raise RecordError(f"missing_{what}", f"{what} is empty")
    if not any(unicodedata.category(c)[0] in "LNPS" for c in cleaned):
        raise RecordError(f"missing_{what}", f"{what} has no visible characters")
    if len(cleaned) > limit:
        raise RecordError(
            f"too_long_{what}", f"{what} has {len(cleaned):,} characters (max {limit:,})"
        )
    return cleaned


def _categories(value: object) -> list[str] | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):
        parts = value.replace(",", " ").split()
    elif isinstance(value, list | tuple):
        parts = [str(v) for v in value]
    else:
        return None
    return [p.strip("[]'\" ") for p in parts if p.strip("[]'\" ")] or None


def _optional(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = clean_text(str(value))
    return text or None


def decision_of(status: object) -> str | None:
    """Review outcome a status names: ``'accepted'``, ``'rejected'`` or None (no outcome).

    Anything that says reject or withdraw (Reject, Desk Reject, Withdraw) is rejected; a
    status of a paper still in review (:data:`PENDING_STATUSES`) or no status has no outcome;
    any other status is the track an accepted paper was presented in (Poster, Oral,
    Spotlight, Main, Findings, Workshop, ...). The SQL macro ``decision_of`` of migration 012
    applies the same rule to papers stored before it.
    """
    text = _optional(status)
    if text is None:
        return None
    lowered = text.lower()
    if "reject" in lowered or "withdraw" in lowered:
        return "rejected"
    if lowered in PENDING_STATUSES:
        return None
    return "accepted"


def prepare_record(rec: Mapping[str, object], cols: Mapping[str, str], source: str) -> dict:
    """Validate one record and return its paper row; raise :class:`RecordError` if unfit."""
    raw_id = rec.get(cols.get("id", ""), None)
    if raw_id is None or str(raw_id).strip() == "":
        raise RecordError("missing_id", "no identifier")
    key, id_version = paper_key(str(raw_id))
    title = _text(rec.get(cols.get("title", "")), "title", MAX_TITLE)
    abstract = _text(rec.get(cols.get("abstract", "")), "abstract", MAX_ABSTRACT)
    if len(abstract) < MIN_ABSTRACT:
        raise RecordError("too_short_abstract", f"abstract has {len(abstract)} characters")
    raw_published = rec.get(cols.get("published", ""))
    undated = raw_published is None or str(raw_published).strip() == ""
    history_version = None
    if "versions" in cols and rec.get(cols["versions"]) is not None:
        try:
            first_submitted, history_version = version_history(rec.get(cols["versions"]))
        except ValueError as exc:
            if undated:  # the history was to date the record: without it, quarantine
                raise RecordError("bad_versions", str(exc)) from None
        else:
            if undated:
                raw_published = first_submitted
    precision_hint = rec.get(cols.get("date_precision", ""))
    try:
        published, precision = parse_date(
            raw_published, precision_hint if isinstance(precision_hint, str) else None
        )
    except ValueError as exc:
        raise RecordError("bad_date", str(exc)) from None
    version = parse_version(rec.get(cols.get("version", ""))) or history_version or id_version or 1
    if version > MAX_VERSION:
        raise RecordError("bad_version", f"version {version} is above {MAX_VERSION:,}")
    url = _optional(rec.get(cols.get("url", "")))
    if url is None and key.startswith("arxiv:"):
        url = f"https://arxiv.org/abs/{key.removeprefix('arxiv:')}"
    return {
        "paper_id": key,
        "source": source,
        "title": title,
        "abstract": abstract,
        "published": published,
        "date_precision": precision,
        "categories": _categories(rec.get(cols.get("categories", ""))),
        "primary_category": _optional(rec.get(cols.get("primary_category", ""))),
        "venue": _optional(rec.get(cols.get("venue", ""))),
        "authors": _optional(rec.get(cols.get("authors", ""))),
        "url": url,
        "version": version,
        "content_hash": content_hash(title, abstract),
        "decision": decision_of(rec.get(cols.get("decision", ""))),
    }


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
            row = prepare_record(rec, cols, paper_source or source)
        except RecordError as exc:
            rejected.append((source, phash, record_key, exc.reason, exc.detail))
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
