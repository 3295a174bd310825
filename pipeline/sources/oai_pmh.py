"""arXiv OAI-PMH: ``ListRecords`` pages (metadataPrefix ``arXiv``) turned into raw records.

The harvester follows resumption tokens; each page comes back with the token that fetches the
next one, so the caller can store a page and its token together and resume after a crash. A
server under load answers HTTP 503 with ``Retry-After``, which the fetcher honours.

The ``arXiv`` metadata format carries the first-submission date (``created``) and the date of
the latest version (``updated``) but no version number: a record with ``updated`` has at least
two versions, and is given version 2 as that lower bound (1 without ``updated``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from xml.etree.ElementTree import Element

from pipeline.normalize import payload_hash
from pipeline.records import FUTURE_MARGIN_DAYS, Quarantined
from pipeline.sources.fetch import Fetcher, SourceError
from pipeline.sources.xmlrecords import (
    MalformedXmlError,
    child,
    child_text,
    children,
    decode_fragment,
    local,
    parse_document,
    parse_fragment,
    root_declarations,
    split_elements,
    text,
)

DEFAULT_URL = "https://export.arxiv.org/oai2"
METADATA_PREFIX = "arXiv"
_DATESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}")
# Salvage patterns for a page that is not well-formed; "[^<]" keeps each scan to one tag, so
# they stay linear on hostile bodies (many start tags that never close).
_TOKEN = re.compile(rb"<resumptionToken\b([^<>]*?)(?:/>|>([^<]*)</resumptionToken\s*>)")
_ERROR = re.compile(rb"<error\b([^<>]*)>([^<]*)</error\s*>")
_IDENTIFIER = re.compile(rb"<identifier>\s*([^<]{1,200}?)\s*</identifier>")
_ATTR = re.compile(rb"""(\w+)\s*=\s*["']([^"']*)["']""")
# Longest resumption token followed (arXiv's are about 30 characters). A longer one would make
# a URL that clients and proxies refuse, and, once stored, break every later resume.
MAX_TOKEN_LENGTH = 2_000
# Pages in a row that hold no record but promise more: past this the harvest stops.
MAX_EMPTY_PAGES = 10


class OaiError(SourceError):
    """The repository answered with an OAI-PMH error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"OAI-PMH error {code}: {message.strip()}")
        self.code = code


class BadResumptionTokenError(OaiError):
    """The resumption token is unknown or expired (start the list again)."""


class IncompleteResponseError(ValueError):
    """A response cut short or not OAI-PMH at all (an error page); fetching it again may help."""


@dataclass
class OaiPage:
    """One ``ListRecords`` response, as raw records and what follows it."""

    records: list[dict] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)  # each record's XML text
    quarantined: list[Quarantined] = field(default_factory=list)
    token: str | None = None  # None: the list is complete
    complete_size: int | None = None
    cursor: int | None = None
    max_datestamp: str | None = None

    @property
    def received(self) -> int:
        """Records this page held (stored or quarantined)."""
        return len(self.records) + len(self.quarantined)


def _authors(meta: Element) -> str | None:
    names = []
    authors = child(meta, "authors")
    for author in children(authors, "author") if authors is not None else []:
        parts = [
            child_text(author, "forenames"),
            child_text(author, "keyname"),
            child_text(author, "suffix"),
        ]
        name = " ".join(p.strip() for p in parts if p and p.strip())
        if name:
            names.append(name)
    return "; ".join(names) or None


def record_fields(record: Element) -> dict | Quarantined:
    """The fields of one ``<record>``, or why it cannot give any (deleted, no metadata)."""
    header = child(record, "header")
    identifier = (child_text(header, "identifier") or "").strip() or None
    datestamp = (child_text(header, "datestamp") or "").strip() or None
    key = identifier.removeprefix("oai:arXiv.org:") if identifier else None
    if header is None:
        return Quarantined(key, "", "malformed_record", "record has no header")
    if header.get("status") == "deleted":
        return Quarantined(key, "", "deleted_record", f"deleted from the repository {datestamp}")
    meta = child(child(record, "metadata"), METADATA_PREFIX)
    if meta is None:
        return Quarantined(
            key, "", "malformed_record", f"no <{METADATA_PREFIX}> metadata in the record"
        )
    categories = (child_text(meta, "categories") or "").split()
    updated = child_text(meta, "updated")
    return {
        "id": (child_text(meta, "id") or "").strip() or key,
        "title": child_text(meta, "title"),
        "abstract": child_text(meta, "abstract"),
        "published": child_text(meta, "created"),
        "date_precision": "day",
        "updated": updated,
        "version": 2 if updated and updated.strip() else 1,
        "categories": categories or None,
        "primary_category": categories[0] if categories else None,
        "authors": _authors(meta),
        "comment": child_text(meta, "comments"),
        "journal_ref": child_text(meta, "journal-ref"),
        "doi": child_text(meta, "doi"),
        "license": child_text(meta, "license"),
        "datestamp": datestamp,
        "sets": [s for s in (text(e) for e in children(header, "setSpec")) if s],
    }


def _token_from_bytes(body: bytes) -> tuple[str | None, dict[str, str]]:
    m = _TOKEN.search(body)
    if not m:
        return None, {}
    attrs = {k.decode(): v.decode() for k, v in _ATTR.findall(m.group(1))}
    token = (m.group(2) or b"").decode("utf-8", "replace").strip()
    return token or None, attrs


def _as_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse_list_records(body: bytes, today: date | None = None) -> OaiPage:
    """Turn one ``ListRecords`` response into an :class:`OaiPage`.

    Each record is parsed on its own: a malformed one is quarantined (``malformed_xml``) with
    its text, and the rest of the page still counts. Raises :class:`OaiError` for protocol
    errors (``noRecordsMatch`` is an empty, complete page) and
    :class:`IncompleteResponseError` for a response cut short. A datestamp later than
    ``today`` (default: the current UTC day) plus a small margin does not count towards the
    page's ``max_datestamp``: it would move the harvest's watermark past every real record.
    """
    try:
        root = parse_document(body)
    except MalformedXmlError:
        root = None
        if not body.rstrip().endswith(b"</OAI-PMH>"):
            raise IncompleteResponseError("the response ends before </OAI-PMH>") from None
    if root is not None and local(root.tag) != "OAI-PMH":  # e.g. a proxy's HTML error page
        raise IncompleteResponseError(
            f"the response is not an OAI-PMH document (its root is <{local(root.tag)}>)"
        )
    if root is not None:
        errors = [(e.get("code", "unknown"), text(e) or "") for e in children(root, "error")]
        list_records = child(root, "ListRecords")
        token_elem = child(list_records, "resumptionToken")
        token = (text(token_elem) or "").strip() or None
        attrs = dict(token_elem.attrib) if token_elem is not None else {}
    else:  # not well-formed as a whole: salvage the envelope from the bytes
        errors = [
            (dict(_ATTR.findall(attrs)).get(b"code", b"unknown").decode("utf-8", "replace"),
             message.decode("utf-8", "replace"))
            for attrs, message in _ERROR.findall(body)
        ]  # fmt: skip
        token, attrs = _token_from_bytes(body)
    for code, message in errors:
        if code == "noRecordsMatch":
            return OaiPage()
        if code == "badResumptionToken":
            raise BadResumptionTokenError(code, message)
        raise OaiError(code, message)

    page = OaiPage(
        token=token,
        complete_size=_as_int(attrs.get("completeListSize")),
        cursor=_as_int(attrs.get("cursor")),
    )
    declarations = root_declarations(body, "OAI-PMH")
    stamps = []
    for chunk in split_elements(body, "record"):
        xml_text, bad_encoding = decode_fragment(chunk)
        id_match = _IDENTIFIER.search(chunk)
        key = (
            id_match.group(1).decode("utf-8", "replace").removeprefix("oai:arXiv.org:")
            if id_match
            else None
        )
        if bad_encoding:
            page.quarantined.append(Quarantined(key, xml_text, "malformed_xml", bad_encoding))
            continue
        try:
            fields = record_fields(parse_fragment(chunk, declarations, "record"))
        except MalformedXmlError as exc:
            page.quarantined.append(Quarantined(key, xml_text, "malformed_xml", str(exc)))
            continue
        if isinstance(fields, Quarantined):
            page.quarantined.append(fields._replace(payload=xml_text))
            stamp = _stamp_of(chunk)
        else:
            page.records.append(fields)
            page.payloads.append(xml_text)
            stamp = fields["datestamp"]
        if stamp and _DATESTAMP.match(stamp):
            stamps.append(stamp[:10])
    latest = (today or datetime.now(UTC).date()) + timedelta(days=FUTURE_MARGIN_DAYS)
    stamps = [s for s in stamps if s <= latest.isoformat()]
    page.max_datestamp = max(stamps) if stamps else None
    return page


def _stamp_of(chunk: bytes) -> str | None:
    m = re.search(rb"<datestamp>\s*([^<]{1,40}?)\s*</datestamp>", chunk)
    return m.group(1).decode("ascii", "replace") if m else None


def list_records_params(
    set_spec: str | None, date_from: date | None, date_until: date | None
) -> dict[str, str]:
    """Arguments of the first ``ListRecords`` request (later ones send only the token)."""
    params = {"verb": "ListRecords", "metadataPrefix": METADATA_PREFIX}
    if set_spec:
        params["set"] = set_spec
    if date_from:
        params["from"] = date_from.isoformat()
    if date_until:
        params["until"] = date_until.isoformat()
    return params


def harvest_list_records(
    fetcher: Fetcher,
    url: str,
    *,
    set_spec: str | None = None,
    date_from: date | None = None,
    date_until: date | None = None,
    token: str | None = None,
    refetches: int = 3,
) -> Iterator[OaiPage]:
    """Yield every page of a ``ListRecords`` harvest, starting at ``token`` when given.

    Each yielded page carries the token of the next one (None after the last). A response cut
    short is fetched again up to ``refetches`` times.

    A server that loops is stopped with :class:`SourceError` before the page that shows it is
    yielded (so its token is never stored): a resumption token seen before in this run (A, B,
    A), a page whose records were all received before, more than :data:`MAX_EMPTY_PAGES`
    empty pages in a row, or a token longer than :data:`MAX_TOKEN_LENGTH`. A stored ``token``
    that long raises :class:`BadResumptionTokenError` (the caller starts the list again).
    """
    if token is not None and len(token) > MAX_TOKEN_LENGTH:
        raise BadResumptionTokenError(
            "badResumptionToken",
            f"the stored token has {len(token):,} characters (max {MAX_TOKEN_LENGTH:,})",
        )
    seen_tokens = {token} if token is not None else set()
    seen_records: set[str] = set()
    empty = 0
    while True:
        if token is None:
            params = list_records_params(set_spec, date_from, date_until)
        else:
            params = {"verb": "ListRecords", "resumptionToken": token}
        for attempt in range(refetches + 1):
            try:
                page = parse_list_records(fetcher.get(url, params))
                break
            except IncompleteResponseError as exc:
                if attempt == refetches:
                    raise SourceError(
                        f"{url}: {exc} ({refetches + 1} tries); rerun to resume from this page"
                    ) from None
        keys = _record_keys(page)
        if keys and keys <= seen_records:
            raise SourceError(
                f"{url}: the page after {len(seen_tokens):,} pages repeats only records already "
                "received in this run (no progress); stopping"
            )
        seen_records |= keys
        empty = 0 if page.received else empty + 1
        if page.token is not None:
            _check_token(url, page.token, seen_tokens, empty)
            seen_tokens.add(page.token)
        yield page
        if page.token is None:
            return
        token = page.token


def _record_keys(page: OaiPage) -> set[str]:
    """What tells the page's records apart: their ids, else their text's hash."""
    keys = {
        str(rec.get("id") or payload_hash(payload))
        for rec, payload in zip(page.records, page.payloads, strict=True)
    }
    return keys | {q.record_key or payload_hash(q.payload) for q in page.quarantined}


def _check_token(url: str, token: str, seen: set[str], empty: int) -> None:
    """Raise :class:`SourceError` when following ``token`` would loop or cannot work."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise SourceError(
            f"{url}: the server sent a resumption token of {len(token):,} characters (max "
            f"{MAX_TOKEN_LENGTH:,}); not following it, rerun to fetch that page again"
        )
    if token in seen:
        shown = token if len(token) <= 60 else token[:57] + "..."
        raise SourceError(
            f"{url}: the server sent resumption token {shown!r} a second time in this run "
            f"(a cycle after {len(seen):,} pages); stopping"
        )
    if empty > MAX_EMPTY_PAGES:
        raise SourceError(f"{url}: {empty:,} pages in a row without records; stopping")


__all__ = [
    "DEFAULT_URL",
    "MAX_EMPTY_PAGES",
    "MAX_TOKEN_LENGTH",
    "BadResumptionTokenError",
    "IncompleteResponseError",
    "OaiError",
    "OaiPage",
    "harvest_list_records",
    "list_records_params",
    "parse_list_records",
    "record_fields",
]
