"""arXiv API search (Atom feeds): papers of some categories submitted in a date range.

Results come sorted by submission date, oldest first, ``page_size`` at a time (the API allows
2,000 at most), with the fetcher's pause between requests (arXiv asks for 3 seconds). The API
is known to return short or empty pages now and then, and its total can change while paging:
the pager moves on by the number of entries it actually got, retries an empty page a few
times before it gives up, and always trusts the latest total.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from xml.etree.ElementTree import Element

from pipeline.normalize import payload_hash
from pipeline.records import Quarantined
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
)

DEFAULT_URL = "https://export.arxiv.org/api/query"
MAX_PAGE_SIZE = 2_000
_CATEGORY = re.compile(r"^[A-Za-z][A-Za-z\-]*(?:\.[A-Za-z\-]+)?$")
_TOTAL = re.compile(rb"<(?:\w+:)?totalResults[^>]*>\s*(\d+)\s*<")
_ENTRY_ID = re.compile(rb"<id>\s*([^<]{1,300}?)\s*</id>")
_ERROR_ID = "arxiv.org/api/errors"


class ArxivApiError(SourceError):
    """The API answered with an error entry (e.g. a malformed query)."""


class IncompleteFeedError(ValueError):
    """A feed cut short (no closing ``</feed>``) or not a feed at all (an error page)."""


@dataclass(frozen=True)
class ArxivQuery:
    """Which papers to ask for: any of ``categories``, submitted within the dates (inclusive)."""

    categories: tuple[str, ...]
    date_from: date | None = None
    date_to: date | None = None

    def __post_init__(self) -> None:
        if not self.categories:
            raise ValueError("name at least one arXiv category (e.g. cs.AI)")
        for cat in self.categories:
            if not _CATEGORY.match(cat):
                raise ValueError(f"{cat!r} is not an arXiv category (e.g. cs.AI, hep-th)")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(f"--from {self.date_from} is after --to {self.date_to}")

    def search_query(self, today: date | None = None) -> str:
        """The ``search_query`` argument: ``(cat:A OR cat:B) AND submittedDate:[.. TO ..]``."""
        cats = " OR ".join(f"cat:{c}" for c in self.categories)
        query = f"({cats})" if len(self.categories) > 1 else cats
        if self.date_from or self.date_to:
            start = self.date_from or date(1991, 1, 1)
            end = self.date_to or (today or datetime.now(UTC).date()) + timedelta(days=1)
            query += f" AND submittedDate:[{start:%Y%m%d}0000 TO {end:%Y%m%d}2359]"
        return query


@dataclass
class FeedPage:
    """One Atom response, as raw records and the paging figures it announced."""

    records: list[dict] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)  # each entry's XML text
    quarantined: list[Quarantined] = field(default_factory=list)
    total: int | None = None

    @property
    def received(self) -> int:
        """Entries this page held (stored or quarantined)."""
        return len(self.records) + len(self.quarantined)


def entry_fields(entry: Element) -> dict:
    """The fields of one Atom ``<entry>`` (validation happens later, in ``records``)."""
    categories = [c.get("term") for c in children(entry, "category") if c.get("term")]
    primary = child(entry, "primary_category")
    names = [(child_text(a, "name") or "").strip() for a in children(entry, "author")]
    return {
        "id": (child_text(entry, "id") or "").strip() or None,
        "title": child_text(entry, "title"),
        "abstract": child_text(entry, "summary"),
        "published": child_text(entry, "published"),
        "date_precision": "day",
        "updated": child_text(entry, "updated"),
        "categories": categories or None,
        "primary_category": primary.get("term") if primary is not None else None,
        "authors": "; ".join(n for n in names if n) or None,
        "comment": child_text(entry, "comment"),
        "journal_ref": child_text(entry, "journal_ref"),
        "doi": child_text(entry, "doi"),
    }


def parse_feed(body: bytes) -> FeedPage:
    """Turn one API response into a :class:`FeedPage`; malformed entries are quarantined.

    Raises :class:`ArxivApiError` for an error feed and :class:`IncompleteFeedError` for a
    response cut short.
    """
    try:
        root = parse_document(body)
    except MalformedXmlError:
        root = None
        if not body.rstrip().endswith(b"</feed>"):
            raise IncompleteFeedError("the response ends before </feed>") from None
    if root is not None and local(root.tag) != "feed":  # e.g. a proxy's HTML error page
        raise IncompleteFeedError(
            f"the response is not an Atom feed (its root is <{local(root.tag)}>)"
        )
    if root is not None:
        raw_total = child_text(root, "totalResults")
        total = int(raw_total) if raw_total and raw_total.strip().isdigit() else None
    else:
        m = _TOTAL.search(body)
        total = int(m.group(1)) if m else None
    page = FeedPage(total=total)
    declarations = root_declarations(body, "feed")
    for chunk in split_elements(body, "entry"):
        xml_text, bad_encoding = decode_fragment(chunk)
        id_match = _ENTRY_ID.search(chunk)
        key = id_match.group(1).decode("utf-8", "replace") if id_match else None
        if bad_encoding:
            page.quarantined.append(Quarantined(key, xml_text, "malformed_xml", bad_encoding))
            continue
        try:
            fields = entry_fields(parse_fragment(chunk, declarations, "entry"))
        except MalformedXmlError as exc:
            page.quarantined.append(Quarantined(key, xml_text, "malformed_xml", str(exc)))
            continue
        if fields["id"] and _ERROR_ID in fields["id"]:
            message = " ".join((fields["abstract"] or fields["title"] or "").split())
            raise ArxivApiError(f"arXiv API error: {message or fields['id']}")
        page.records.append(fields)
        page.payloads.append(xml_text)
    return page


@dataclass
class ApiPage:
    """A page of results with where it sits in the listing."""

    feed: FeedPage
    start: int
    next_start: int
    total: int
    done: bool


def query_params(query: ArxivQuery, start: int, page_size: int) -> dict[str, str | int]:
    """Arguments of one API request."""
    return {
        "search_query": query.search_query(),
        "start": start,
        "max_results": page_size,
        "sortBy": "submittedDate",
        "sortOrder": "ascending",
    }


def fetch_arxiv_listing(
    fetcher: Fetcher,
    url: str,
    query: ArxivQuery,
    *,
    start: int = 0,
    page_size: int = 1_000,
    empty_retries: int = 3,
) -> Iterator[ApiPage]:
    """Yield pages of a search from ``start`` until the (latest) total is reached.

    A page that comes back empty or cut short while the total says more remain is fetched
    again up to ``empty_retries`` times; if it stays empty, :class:`SourceError` tells the
    caller to resume later from ``start``. A page whose entries were all received before in
    this run (a server answering the same page under a huge total) is no progress: it stops
    the listing with :class:`SourceError` before it is yielded.
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page size {page_size} outside 1..{MAX_PAGE_SIZE} (the API's limit)")
    seen: set[str] = set()
    while True:
        feed, problem = None, ""
        for _ in range(empty_retries + 1):
            try:
                feed = parse_feed(fetcher.get(url, query_params(query, start, page_size)))
            except IncompleteFeedError as exc:
                problem = f" ({exc})"
                continue
            if feed.received or (feed.total is not None and start >= feed.total):
                break
        # Still empty while the total says more remain (with no total, empty is the end).
        if feed is None or (feed.received == 0 and feed.total is not None and start < feed.total):
            shown = "unknown" if feed is None or feed.total is None else f"{feed.total:,}"
            raise SourceError(
                f"{url}: empty or incomplete pages at result {start:,} of {shown} after "
                f"{empty_retries + 1} tries{problem}; rerun to resume from there"
            )
        keys = _entry_keys(feed)
        if keys and keys <= seen:
            raise SourceError(
                f"{url}: the page at result {start:,} repeats only entries already received in "
                f"this run (no progress; the server announces {feed.total or 0:,}); stopping"
            )
        seen |= keys
        next_start = start + feed.received
        if feed.total is None:  # no total announced: a page short of page_size ends it
            done = feed.received < page_size
            total = next_start if done else next_start + page_size
        else:
            total = feed.total
            done = feed.received == 0 or next_start >= total
        yield ApiPage(feed=feed, start=start, next_start=next_start, total=total, done=done)
        if done:
            return
        start = next_start


def _entry_keys(feed: FeedPage) -> set[str]:
    """What tells the page's entries apart: their ids, else their text's hash."""
    keys = {
        str(rec.get("id") or payload_hash(payload))
        for rec, payload in zip(feed.records, feed.payloads, strict=True)
    }
    return keys | {q.record_key or payload_hash(q.payload) for q in feed.quarantined}


def categories_arg(values: Sequence[str]) -> tuple[str, ...]:
    """Categories from repeated or comma-separated options, in order, without repeats."""
    out: list[str] = []
    for value in values:
        for part in value.replace(",", " ").split():
            if part not in out:
                out.append(part)
    return tuple(out)
