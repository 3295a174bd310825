"""Checks of one record's fields: each becomes a paper column or a :class:`RecordError`.

Pure, no I/O. Every field is validated: text holds no NUL or unpaired surrogate, ids are
printable ASCII once normalised, links are http(s) with a host, lengths are capped, and a date
after the ingest day (plus a margin) is quarantined. Which record key holds each field is
decided before (:func:`pipeline.records.resolve_columns`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

from pipeline.normalize import (
    clean_text,
    content_hash,
    normalize_id,
    paper_key,
    parse_date,
    parse_version,
    version_history,
)

_SURROGATE = re.compile("[\ud800-\udfff]")  # unpaired surrogates (no UTF-8 for them)
MAX_TITLE = 1_000
MAX_ABSTRACT = 20_000
MIN_ABSTRACT = 30
MAX_VERSION = 2**31 - 1  # papers.version is a 32-bit integer
MAX_ID = 200
MAX_URL = 2_048
MAX_FIELD = 1_000  # venue, primary category, one category
# A collaboration paper lists thousands of authors (50,061 characters in the cs.AI file); past
# this the list is cut at a name and ends "; et al.", so the paper is kept.
MAX_AUTHORS = 100_000
# A date later than the ingest day by more than this is quarantined (``future_date``); the
# margin covers time zones ahead of UTC and a listing dated the next day.
FUTURE_MARGIN_DAYS = 2
LINK_SCHEMES = ("http", "https")
_NOT_IN_URL = re.compile(r"[\s\x00-\x1f\x7f]")

# Statuses of a submission still in review: no outcome yet (as no status at all).
PENDING_STATUSES = frozenset({"active", "pending", "submitted", "under review", "under_review"})


class RecordError(ValueError):
    """A record that cannot become a paper; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _require_text(value: str, what: str) -> str:
    """``value`` unless it holds NUL or an unpaired surrogate (no store can hold those)."""
    if "\x00" in value or _SURROGATE.search(value):
        raise RecordError(f"non_text_{what}", f"{what} holds NUL or unpaired surrogate characters")
    return value


def _text(value: object, what: str, limit: int) -> str:
    if value is None or (isinstance(value, float) and value != value):
        raise RecordError(f"missing_{what}", f"no {what}")
    if not isinstance(value, str):
        raise RecordError(f"non_text_{what}", f"{what} is {type(value).__name__}, not text")
    _require_text(value, what)
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
    for part in parts:
        _require_text(part, "categories")
        if len(part) > MAX_FIELD:
            raise RecordError("too_long_categories", f"a category has {len(part):,} characters")
    return [p.strip("[]'\" ") for p in parts if p.strip("[]'\" ")] or None


def _optional(value: object, what: str, limit: int | None = MAX_FIELD) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = clean_text(_require_text(str(value), what))
    if limit is not None and len(text) > limit:
        raise RecordError(
            f"too_long_{what}", f"{what} has {len(text):,} characters (max {limit:,})"
        )
    return text or None


def _authors(value: object) -> str | None:
    """The author list, cut at a name and ended with "et al." past :data:`MAX_AUTHORS`."""
    text = _optional(value, "authors", limit=None)
    if text is None or len(text) <= MAX_AUTHORS:
        return text
    sep = "; " if "; " in text[:MAX_AUTHORS] else ", "
    head = text[: MAX_AUTHORS - len(sep) - len("et al.")]
    cut = head.rfind(sep)
    return (head[:cut] if cut > 0 else head) + sep + "et al."


def _url_problem(url: str) -> str | None:
    """Why ``url`` is not an http(s) link with a host (None when it is one)."""
    if len(url) > MAX_URL:
        return f"has {len(url):,} characters (max {MAX_URL:,})"
    if _NOT_IN_URL.search(url):
        return "holds blanks or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        return f"cannot be read ({exc})"
    if parts.scheme.lower() not in LINK_SCHEMES:
        return f"has scheme {parts.scheme or '(none)'!r}, not {' or '.join(LINK_SCHEMES)}"
    return None if host else "has no host"


def _link(value: object) -> str | None:
    """An http(s) URL with a host, or None; anything else is quarantined as ``bad_url``.

    A ``javascript:``, ``data:``, ``vbscript:`` or ``file:`` URL (however it is cased or
    broken by blanks) would become a live link in the report and the search index.
    """
    if _optional(value, "url", limit=None) is None:
        return None
    url = str(value).strip()
    problem = _url_problem(url)
    if problem:
        raise RecordError("bad_url", f"url {url[:80]!r} {problem}")
    return url


def decision_of(status: object) -> str | None:
    """Review outcome a status names: ``'accepted'``, ``'rejected'`` or None (no outcome).

    Anything that says reject or withdraw (Reject, Desk Reject, Withdraw) is rejected; a
    status of a paper still in review (:data:`PENDING_STATUSES`) or no status has no outcome;
    any other status is the track an accepted paper was presented in (Poster, Oral,
    Spotlight, Main, Findings, Workshop, ...). The SQL macro ``decision_of`` of migration 012
    applies the same rule to papers stored before it.
    """
    text = _optional(status, "decision")
    if text is None:
        return None
    lowered = text.lower()
    if "reject" in lowered or "withdraw" in lowered:
        return "rejected"
    if lowered in PENDING_STATUSES:
        return None
    return "accepted"


def _paper_id(raw_id: object) -> tuple[str, int | None]:
    """The paper key and the version the id carries; ids are printable ASCII once normalised."""
    if raw_id is None or (isinstance(raw_id, float) and raw_id != raw_id):
        raise RecordError("missing_id", "no identifier")
    text = _require_text(str(raw_id), "id")
    if not normalize_id(text):
        raise RecordError("missing_id", "no identifier")
    key, version = paper_key(text)
    if not (key.isascii() and key.isprintable()) or len(key) > MAX_ID:
        raise RecordError(
            "bad_id", f"id {text[:80]!r} is not printable ASCII of at most {MAX_ID} characters"
        )
    return key, version


def prepare_record(
    rec: Mapping[str, object],
    cols: Mapping[str, str],
    source: str,
    *,
    today: date | None = None,
) -> dict:
    """Validate one record and return its paper row; raise :class:`RecordError` if unfit.

    Every field is checked: text fields hold no NUL or unpaired surrogate, ids are printable
    ASCII after normalisation, links are http(s), and the date is at most
    :data:`FUTURE_MARGIN_DAYS` after ``today`` (default: the current UTC day).
    """
    key, id_version = _paper_id(rec.get(cols.get("id", ""), None))
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
    ingest_day = today or datetime.now(UTC).date()
    if published is not None and published > ingest_day + timedelta(days=FUTURE_MARGIN_DAYS):
        raise RecordError(
            "future_date",
            f"date {published.isoformat()} is after the ingest day {ingest_day.isoformat()}"
            f" (+{FUTURE_MARGIN_DAYS} days)",
        )
    version = parse_version(rec.get(cols.get("version", ""))) or history_version or id_version or 1
    if version > MAX_VERSION:
        raise RecordError("bad_version", f"version {version} is above {MAX_VERSION:,}")
    url = _link(rec.get(cols.get("url", "")))
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
        "primary_category": _optional(rec.get(cols.get("primary_category", "")), "categories"),
        "venue": _optional(rec.get(cols.get("venue", "")), "venue"),
        "authors": _authors(rec.get(cols.get("authors", ""))),
        "url": url,
        "version": version,
        "content_hash": content_hash(title, abstract),
        "decision": decision_of(rec.get(cols.get("decision", ""))),
    }
