"""Pure normalisers for text, identifiers and dates of incoming records."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

_CID = re.compile(r"\(cid:\d+\)")
_WS = re.compile(r"[ \t\r\f\v]+")
# A line break after a hyphen that ends a word or number is dropped ("long-\nterm"). It reads as
# a space instead after a free-standing dash or sign ("attacks --\nslow", "+/-\n0.03") and
# before a suspended hyphen's "and"/"or" ("zero-\nand one-shot" -> "zero- and one-shot").
_HYPHEN_BREAK = re.compile(r"([\w)\]}$])-[ \t]*\r?\n[ \t]*(?!(?:and|or|nor)\s)(\S)")
# ASCII only: ``\d`` alone also takes Arabic-Indic, Devanagari, ... digits.
_NEW_ID = re.compile(r"^(?P<id>\d{4}\.\d{4,5})(?:v(?P<v>\d+))?$", re.ASCII)
_OLD_ID = re.compile(r"^(?P<id>[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<v>\d+))?$", re.ASCII)
_ARXIV_PREFIX = re.compile(
    r"^(?:arxiv:|https?://arxiv\.org/(?:abs|pdf)/)", re.IGNORECASE | re.ASCII
)
_NOT_WORD = re.compile(r"[\W_]+")
_HYPHEN_NEWLINE = re.compile(r"-[ \t]*\r?\n")
_ISO_Z = re.compile(r"Z$", re.IGNORECASE)
_WHOLE_YEAR = re.compile(r"(?<=^\d{4})\.0+$", re.ASCII)


def clean_text(text: str) -> str:
    """Unwrap hard-wrapped text, apply NFC, and drop PDF-extraction debris.

    LaTeX is kept as written (it stays readable); only whitespace and debris change.
    """
    previous = None
    while previous != text:  # debris can nest: "(cid:(cid:1)1)"
        previous = text
        text = _CID.sub("", text).replace("\u00ad", "")  # soft hyphens from PDF extraction
    # A line break after a hyphen is far more often a compound ("long-\nterm", "0.7-\n1.0",
    # "$Z^c-\nX$") than a split word, so keep the hyphen and drop only the break.
    if _HYPHEN_NEWLINE.search(text):  # cheap guard: the full pattern is slow on long text
        text = _HYPHEN_BREAK.sub(r"\1-\2", text)
    # Lines are stripped and joined with a space; the runs of blanks inside them collapse below.
    text = " ".join(map(str.strip, text.splitlines()))
    return unicodedata.normalize("NFC", _WS.sub(" ", text).strip())


def normalize_id(raw: str) -> str:
    """An identifier as compared and stored: NFKC, invisible characters dropped, trimmed.

    NFKC turns fullwidth and other compatibility forms into plain ASCII (fullwidth digits
    U+FF10..U+FF19 become 0..9); format characters (zero-width space and joiners, word
    joiner, BOM, bidi controls) are dropped: they only make two spellings of one id differ.
    """
    text = unicodedata.normalize("NFKC", raw)
    return "".join(c for c in text if unicodedata.category(c) != "Cf").strip()


def parse_arxiv_id(raw: str) -> tuple[str, int | None] | None:
    """Return ``(id without version, version)`` for an arXiv identifier, else None.

    Accepts new (``2505.06482v2``) and old (``hep-ph/0307015``) styles, with an optional
    ``arXiv:`` prefix or abs/pdf URL, after :func:`normalize_id`; the digits are ASCII.
    """
    s = _ARXIV_PREFIX.sub("", normalize_id(raw))
    s = s.removesuffix(".pdf")
    for pattern in (_NEW_ID, _OLD_ID):
        m = pattern.match(s)
        if m:
            return m.group("id"), int(m.group("v")) if m.group("v") else None
    return None


def paper_key(raw_id: str) -> tuple[str, int | None]:
    """Natural key of a paper: ``arxiv:<id>`` for arXiv ids, else the source's own id."""
    parsed = parse_arxiv_id(raw_id)
    if parsed:
        return f"arxiv:{parsed[0]}", parsed[1]
    return normalize_id(raw_id), None


def parse_version(raw: object) -> int | None:
    """``'v3'``, ``3`` or ``'3'`` -> 3; anything else -> None."""
    if raw is None or (isinstance(raw, float) and raw != raw):
        return None
    m = re.fullmatch(r"v?(\d+)", str(raw).strip(), re.IGNORECASE | re.ASCII)
    return int(m.group(1)) if m else None


def parse_date(raw: object, precision: str | None = None) -> tuple[date | None, str]:
    """Parse a publication date and tell its precision.

    Returns ``(None, 'unknown')`` for an absent date; raises ``ValueError`` for a present one
    that cannot be read or that is outside 1900..2100. A timestamp with an offset (or a
    timezone-aware datetime) is dated in UTC: ``2025-01-02T23:30:00-05:00`` is 2025-01-03.
    """
    if raw is None or raw != raw or str(raw).strip() == "":  # raw != raw: NaN and NaT
        return None, "unknown"
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # a nullable integer column read as float (Parquet, pandas): 2019.0
    if isinstance(raw, datetime):
        value, found = _utc_day(raw), "day"
    elif isinstance(raw, date):
        value, found = raw, "day"
    else:
        s = _WHOLE_YEAR.sub("", str(raw).strip())  # "2019.0": a year written from a float column
        if re.fullmatch(r"\d{4}", s, re.ASCII):
            value, found = date(int(s), 1, 1), "year"
        elif re.fullmatch(r"\d{4}-\d{2}", s, re.ASCII):
            value, found = date(int(s[:4]), int(s[5:7]), 1), "month"
        else:
            try:
                if len(s) > 40:  # longer than any ISO timestamp: read only its day below
                    raise ValueError(s)
                value, found = _utc_day(datetime.fromisoformat(_ISO_Z.sub("+00:00", s))), "day"
            except ValueError:
                try:
                    value, found = date.fromisoformat(s[:10]), "day"
                except ValueError:
                    raise ValueError(f"unparseable date {s[:40]!r}") from None
    if not 1900 <= value.year <= 2100:
        raise ValueError(f"date {value.isoformat()} outside 1900..2100")
    if precision in ("day", "month", "year"):
        found = precision
    return value, found


def _utc_day(when: datetime) -> date:
    """The UTC day of a timestamp; a naive one is taken as UTC already."""
    return when.astimezone(UTC).date() if when.tzinfo is not None else when.date()


def version_history(versions: object) -> tuple[datetime, int]:
    """First-submission time and latest version number of an arXiv version history.

    ``versions`` is a list of ``{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}``,
    oldest first (the Kaggle snapshot's field). The first entry's ``created`` is the date the
    paper was first submitted; the highest ``version`` is the latest. Raises ``ValueError`` when
    the history cannot be read.
    """
    if not isinstance(versions, Sequence) or isinstance(versions, str) or not versions:
        raise ValueError("version history is not a non-empty list")
    if not all(isinstance(v, dict) for v in versions):
        raise ValueError("version history holds entries that are not objects")
    created = versions[0].get("created")
    try:
        first = parsedate_to_datetime(str(created))
    except (TypeError, ValueError):
        raise ValueError(f"unreadable first-version date {str(created)[:40]!r}") from None
    numbers = [parse_version(v.get("version")) for v in versions]
    if any(n is None for n in numbers):
        raise ValueError("version history holds unreadable version numbers")
    return first, max(n for n in numbers if n is not None)


def title_key(title: str) -> str:
    """Stable key of a title: the hash of its text with case, punctuation and spacing removed.

    Two copies of the same title that differ only in wrapping, case or punctuation share a key.
    """
    norm = _NOT_WORD.sub(" ", clean_text(title).casefold()).strip()
    return hashlib.sha256(norm.encode("utf-8", errors="surrogatepass")).hexdigest()[:16]


def content_hash(title: str, abstract: str) -> str:
    """Stable hash of a paper's normalised text; changes when the text changes."""
    return hashlib.sha256(f"{title}\x1f{abstract}".encode()).hexdigest()[:32]


def payload_hash(payload: str) -> str:
    """Hash of a raw record's payload, used to store each distinct payload once."""
    return hashlib.sha256(payload.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]
