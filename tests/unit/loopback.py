"""Loopback test servers for the network sources, serving real bytes on 127.0.0.1.

- :class:`OaiServer` serves the five real arXiv OAI-PMH pages chained by their resumption
  tokens (the last page's token emptied, so the list ends there), with the set and datestamp
  filters of a real repository, one HTTP 503 with ``Retry-After`` on the way, and a switch to
  block on a page until the test lets it go (to kill a client mid-harvest).
- :class:`ArxivApiServer` renders Atom feeds in the arXiv API's format from rows of the real
  cs.AI parquet file: category and submission-date search, paging, short pages and 500s.

Both run ``http.server`` in a daemon thread, bound to port 0 (any free port), and stop when
their ``with`` block ends.
"""

from __future__ import annotations

import re
import textwrap
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
OAI_DIR = DATA / "oai_pmh"
OAI_PAGES = [OAI_DIR / f"listrecords_page_{i}.xml" for i in range(5)]

Response = tuple[int, dict[str, str], bytes]
App = Callable[[str, dict[str, str]], Response]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client killed mid-request (the crash tests) is expected, not an error


class LoopbackServer:
    """An HTTP server on 127.0.0.1 in a thread, answering GETs with ``app(path, query)``."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.requests: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                server.requests.append(query)
                status, headers, body = server.app(parts.path, query)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


# --------------------------------------------------------------------------------------------
# OAI-PMH
# --------------------------------------------------------------------------------------------

_RECORD = re.compile(rb"<record>.*?</record>\s*", re.DOTALL)
_SET_SPEC = re.compile(rb"<setSpec>([^<]*)</setSpec>")
_DATESTAMP = re.compile(rb"<datestamp>([^<]*)</datestamp>")
_TOKEN = re.compile(rb"(<resumptionToken[^>]*>)([^<]*)(</resumptionToken>)")
_OAI_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    b"<responseDate>2018-06-17T22:12:27Z</responseDate>"
    b'<request verb="ListRecords">http://export.arxiv.org/oai2</request>'
    b'<error code="%s">%s</error></OAI-PMH>\n'
)


def oai_page_bytes() -> list[bytes]:
    """The five real pages, the last one with its resumption token emptied (the list ends)."""
    pages = [p.read_bytes() for p in OAI_PAGES]
    pages[-1] = _TOKEN.sub(lambda m: m.group(1) + m.group(3), pages[-1])
    return pages


def oai_token(page: bytes) -> str | None:
    m = _TOKEN.search(page)
    return m.group(2).decode() if m and m.group(2) else None


def record_matches(record: bytes, set_spec: str | None, date_from: str | None, until: str | None):
    """Whether a record belongs to a set (``physics`` holds ``physics:hep-th``) and dates."""
    if set_spec:
        specs = [s.decode() for s in _SET_SPEC.findall(record)]
        if not any(s == set_spec or s.startswith(set_spec + ":") for s in specs):
            return False
    stamp = _DATESTAMP.search(record).group(1).decode()
    if date_from and stamp < date_from:
        return False
    return not (until and stamp > until)


def expected_oai_ids(
    set_spec: str | None = None, date_from: str | None = None, until: str | None = None
) -> set[str]:
    """Paper ids of the records a harvest with these filters should store."""
    ids = set()
    for page in oai_page_bytes():
        for record in _RECORD.findall(page):
            if record_matches(record, set_spec, date_from, until):
                ident = re.search(rb"<id>([^<]+)</id>", record).group(1).decode()
                ids.add(f"arxiv:{ident}")
    return ids


class OaiServer(LoopbackServer):
    """The real pages, chained by their tokens, filtered like a real repository would.

    Args:
        fail_503_at: 1-based request numbers answered with HTTP 503 and ``Retry-After``.
        block_at: Page index at which to block until :attr:`release` is set (after setting
            :attr:`blocked`).
        pages: Page bodies to serve (default: the real ones).
    """

    def __init__(
        self,
        *,
        fail_503_at: Iterable[int] = (),
        retry_after: str = "7",
        block_at: int | None = None,
        pages: list[bytes] | None = None,
    ) -> None:
        self.pages = pages or oai_page_bytes()
        self.by_token = {oai_token(p): i + 1 for i, p in enumerate(self.pages[:-1])}
        self.fail_503_at = set(fail_503_at)
        self.retry_after = retry_after
        self.block_at = block_at
        self.blocked = threading.Event()
        self.release = threading.Event()
        self.filters: dict[str, str | None] = {}
        self.served: list[int] = []
        super().__init__(self.answer)

    def _error(self, code: str, message: str) -> Response:
        body = _OAI_ERROR % (code.encode(), escape(message).encode())
        return 200, {"Content-Type": "text/xml; charset=utf-8"}, body

    def answer(self, path: str, query: dict[str, str]) -> Response:
        if path != "/oai2" or query.get("verb") != "ListRecords":
            return 404, {}, b"not found"
        if len(self.requests) in self.fail_503_at:
            return 503, {"Retry-After": self.retry_after}, b"Retry later"
        token = query.get("resumptionToken")
        if token is None:
            if query.get("metadataPrefix") != "arXiv":
                return self._error("cannotDisseminateFormat", "only arXiv here")
            index = 0
            self.filters = {k: query.get(k) for k in ("set", "from", "until")}
        elif token in self.by_token:
            index = self.by_token[token]
        else:
            return self._error("badResumptionToken", f"unknown token {token}")
        if index == self.block_at:
            self.blocked.set()
            self.release.wait(timeout=300)
            return 503, {"Retry-After": "1"}, b"gone"
        page = self.pages[index]
        if any(self.filters.values()):
            page = _RECORD.sub(
                lambda m: (
                    m.group(0)
                    if record_matches(
                        m.group(0), self.filters["set"], self.filters["from"], self.filters["until"]
                    )
                    else b""
                ),
                page,
            )
            if index == 0 and not _RECORD.search(page) and oai_token(page) is None:
                return self._error("noRecordsMatch", "no records")
        self.served.append(index)
        return 200, {"Content-Type": "text/xml; charset=utf-8"}, page


# --------------------------------------------------------------------------------------------
# arXiv API (Atom)
# --------------------------------------------------------------------------------------------

_CATS = re.compile(r"cat:([A-Za-z\-]+(?:\.[A-Za-z\-]+)?)")
_RANGE = re.compile(r"submittedDate:\[(\d{12}) TO (\d{12})\]")
ATOM_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<feed xmlns="http://www.w3.org/2005/Atom" '
    'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
    'xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
)


def _atom_time(ts: str) -> str:
    """'2025-05-10 00:54:12 UTC' -> '2025-05-10T00:54:12Z'."""
    return ts.replace(" UTC", "Z").replace(" ", "T")


def wrap_abstract(text: str) -> str:
    """Hard-wrap as arXiv does: two leading spaces, ~80 columns, a trailing newline."""
    return (
        "  "
        + "\n".join(textwrap.wrap(text, 78, break_on_hyphens=False, break_long_words=False))
        + "\n"
    )


def wrap_title(text: str) -> str:
    return "\n  ".join(textwrap.wrap(text, 70, break_on_hyphens=False, break_long_words=False))


def atom_entry(row: dict) -> str:
    """One ``<entry>`` in the API's format, from a parquet row."""
    aid = f"{row['arxiv_id']}{row['arxiv_version']}"
    cats = "".join(
        f'\n    <category term={quoteattr(c)} scheme="http://arxiv.org/schemas/atom"/>'
        for c in row["categories"]
    )
    authors = "".join(
        f"\n    <author>\n      <name>{escape(a.strip())}</name>\n    </author>"
        for a in str(row["authors"]).split(";")
        if a.strip()
    )
    comment = (
        f"\n    <arxiv:comment>{escape(row['comment'])}</arxiv:comment>" if row["comment"] else ""
    )
    return (
        "  <entry>\n"
        f"    <id>http://arxiv.org/abs/{aid}</id>\n"
        f"    <title>{escape(wrap_title(row['title']))}</title>\n"
        f"    <updated>{_atom_time(row['updated_ts'])}</updated>\n"
        f'    <link href="https://arxiv.org/abs/{aid}" rel="alternate" type="text/html"/>\n'
        f'    <link href="https://arxiv.org/pdf/{aid}" rel="related" type="application/pdf"'
        ' title="pdf"/>\n'
        f"    <summary>{escape(wrap_abstract(row['abstract']))}</summary>"
        f"{cats}\n"
        f"    <published>{_atom_time(row['published_ts'])}</published>"
        f"{comment}\n"
        f"    <arxiv:primary_category term={quoteattr(row['primary_category'])}/>"
        f"{authors}\n"
        "  </entry>\n"
    )


def atom_feed(rows: list[dict], total: int | None, start: int, per_page: int, query: str) -> bytes:
    """A feed as the API writes it (``total`` None: a feed that announces no total)."""
    total_line = (
        "" if total is None else f"  <opensearch:totalResults>{total}</opensearch:totalResults>\n"
    )
    head = (
        f"  <id>https://arxiv.org/api/loopback</id>\n"
        f"  <title>arXiv Query: search_query={escape(query)}&amp;id_list=&amp;start={start}"
        f"&amp;max_results={per_page}</title>\n"
        f"  <updated>{datetime(2026, 1, 1).isoformat()}Z</updated>\n"
        f"  <opensearch:itemsPerPage>{per_page}</opensearch:itemsPerPage>\n"
        f"{total_line}"
        f"  <opensearch:startIndex>{start}</opensearch:startIndex>\n"
    )
    body = ATOM_HEAD + head + "".join(atom_entry(r) for r in rows) + "</feed>\n"
    return body.encode("utf-8")


class ArxivApiServer(LoopbackServer):
    """Search over parquet rows with the API's paging.

    Args:
        rows: Parquet rows (dicts) to search.
        fail_500_at: 1-based request numbers answered with HTTP 500.
        short_at: Request numbers whose page is cut to half (a short page mid-listing).
        empty_at: Request numbers answered with an empty page (the API's known flake).
        grow_at: Request number after which ``extra`` rows join the index (the total grows).
    """

    def __init__(
        self,
        rows: list[dict],
        *,
        fail_500_at: Iterable[int] = (),
        short_at: Iterable[int] = (),
        empty_at: Iterable[int] = (),
        grow_at: int | None = None,
        extra: list[dict] = (),
        omit_total: bool = False,
    ) -> None:
        self.rows = list(rows)
        self.fail_500_at = set(fail_500_at)
        self.short_at = set(short_at)
        self.empty_at = set(empty_at)
        self.grow_at = grow_at
        self.extra = list(extra)
        self.omit_total = omit_total
        super().__init__(self.answer)

    def search(self, query: str) -> list[dict]:
        cats = set(_CATS.findall(query))
        m = _RANGE.search(query)
        lo = hi = None
        if m:
            lo = datetime.strptime(m.group(1), "%Y%m%d%H%M")
            hi = datetime.strptime(m.group(2), "%Y%m%d%H%M")
        hits = []
        for row in self.rows:
            if cats and not cats & set(row["categories"]):
                continue
            submitted = datetime.strptime(row["published_ts"], "%Y-%m-%d %H:%M:%S UTC")
            if lo and not lo <= submitted.replace(second=0) <= hi:
                continue
            hits.append(row)
        return sorted(hits, key=lambda r: (r["published_ts"], r["arxiv_id"]))

    def answer(self, path: str, query: dict[str, str]) -> Response:
        if path != "/api/query":
            return 404, {}, b"not found"
        n = len(self.requests)
        if n in self.fail_500_at:
            return 500, {}, b"Internal Server Error"
        if self.grow_at is not None and n == self.grow_at + 1:
            self.rows.extend(self.extra)
        search_query = query.get("search_query", "")
        start = int(query.get("start", 0))
        per_page = int(query.get("max_results", 10))
        hits = self.search(search_query)
        page = hits[start : start + per_page]
        if n in self.short_at:
            page = page[: len(page) // 2]
        if n in self.empty_at:
            page = []
        total = None if self.omit_total else len(hits)
        body = atom_feed(page, total, start, per_page, search_query)
        return 200, {"Content-Type": "application/atom+xml; charset=utf-8"}, body


# --------------------------------------------------------------------------------------------
# Kaggle snapshot lines
# --------------------------------------------------------------------------------------------


def _rfc2822(ts: str) -> str:
    when = datetime.strptime(ts, "%Y-%m-%d %H:%M:%S UTC")
    return f"{when:%a}, {when.day} {when:%b %Y %H:%M:%S} GMT"  # 'Mon, 2 Apr 2007 19:18:42 GMT'


def kaggle_object(row: dict) -> dict:
    """A Kaggle snapshot object for a parquet row, with its version history."""
    n = int(str(row["arxiv_version"]).lstrip("v"))
    created = [row["published_ts"]] + [row["updated_ts"]] * (n - 1)
    return {
        "id": row["arxiv_id"],
        "submitter": str(row["authors"]).split(";")[0].strip(),
        "authors": ", ".join(a.strip() for a in str(row["authors"]).split(";")),
        "title": wrap_title(row["title"]),
        "comments": row["comment"] or None,
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": " ".join(row["categories"]),
        "license": "http://creativecommons.org/licenses/by/4.0/",
        "abstract": wrap_abstract(row["abstract"]),
        "versions": [
            {"version": f"v{i + 1}", "created": _rfc2822(ts)} for i, ts in enumerate(created)
        ],
        "update_date": row["updated_ts"][:10],
        "authors_parsed": [[a.strip(), "", ""] for a in str(row["authors"]).split(";")],
    }


def parquet_rows(n: int | None = None, **filters: object) -> list[dict]:
    """Rows of the real cs.AI parquet file as plain dicts (categories as lists)."""
    frame = pd.read_parquet(DATA / "arxiv_cs_ai_2025.parquet")
    for column, value in filters.items():
        frame = frame[frame[column] == value]
    if n is not None:
        frame = frame.head(n)
    frame = frame.astype(object).where(frame.notna(), None)
    rows = frame.to_dict(orient="records")
    for row in rows:
        row["categories"] = list(row["categories"])
    return rows
