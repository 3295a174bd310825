"""Bad input: malformed and hostile records through every source, one table row per kind.

Each row feeds one kind of bad record (beside a good one where the format allows) through the
real command (`trends ingest file|kaggle|oai|arxiv|page`) and expects one of:

- ``quarantine:<reason>``: the good record is stored, the bad one is a ``rejected_records``
  row with that reason and a key naming it (its id, or ``line N``);
- ``error:<pattern>``: the command exits 1 with one clear line (no traceback) naming the file
  or page and the reason, and stores nothing;
- ``stored``: the record is stored as sent (hostile text is data, not code) and ``check``
  says where it must stay harmless.

Whatever the outcome, ``received = stored + quarantined`` holds in the summary line and in
``ingest_runs``. The other parameters of the CLI get SQL and path traversal in
:func:`test_sql_in_every_cli_parameter` and :func:`test_report_refuses_to_replace_what_is_not_a_site`.
"""

from __future__ import annotations

import functools
import io
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import ARXIV, TOY_ROWS, seed_toy_fit
from loopserve import serve
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.records import MAX_AUTHORS
from pipeline.report.site import render_site
from pipeline.store import open_writer
from pipeline.trends import build_marts

pytestmark = pytest.mark.reliability

ABSTRACT = (
    "We study how agents plan under uncertainty and show that a simple search over beliefs "
    "matches far larger models on three planning benchmarks of growing size."
)
GOOD = {"id": "2501.00001", "title": "Planning under uncertainty", "abstract": ABSTRACT,
        "published": "2025-01-02"}  # fmt: skip
HOSTILE_HTML = '<script>alert("x")</script><img src=x onerror=alert(1)> Attention & co'
INJECTION = "x'); drop table papers; --"
LINE = re.compile(
    r"received (?P<received>[\d,]+) = stored (?P<stored>[\d,]+) .*\+ quarantined "
    r"(?P<quarantined>[\d,]+)"
)


def jsonl(*records: object) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records
    )


def bad(**fields: object) -> dict:
    """A record like GOOD with another id and some fields replaced (None: field removed)."""
    rec = {**GOOD, "id": "2501.00002", **fields}
    return {k: v for k, v in rec.items() if v is not None}


def kaggle(**fields: object) -> dict:
    rec = {
        "id": "2501.00003",
        "title": GOOD["title"],
        "abstract": ABSTRACT,
        "categories": "cs.AI",
        "versions": [{"version": "v1", "created": "Thu, 2 Jan 2025 10:00:00 GMT"}],
        "update_date": "2025-01-02",
        **fields,
    }
    return {k: v for k, v in rec.items() if v is not None}


def oai_record(arxiv_id: str, title: str = GOOD["title"], header: str = "") -> str:
    return (
        f"<record><header{header}><identifier>oai:arXiv.org:{arxiv_id}</identifier>"
        f"<datestamp>2025-01-03</datestamp><setSpec>cs</setSpec></header><metadata>"
        f'<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{arxiv_id}</id>'
        f"<created>2025-01-02</created><title>{title}</title><categories>cs.AI</categories>"
        f"<abstract>{ABSTRACT}</abstract></arXiv></metadata></record>"
    )


def oai(*records: str, doctype: str = "", token: str | None = None) -> bytes:
    resumption = "" if token is None else f"<resumptionToken>{token}</resumptionToken>"
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{doctype}'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        "<responseDate>2025-01-04T00:00:00Z</responseDate><ListRecords>"
        + "".join(records)
        + resumption
        + "</ListRecords></OAI-PMH>"
    ).encode()


@functools.cache
def gzip_bomb(inflated: int = 100 * 2**20) -> bytes:
    """An OAI-PMH page padded with ``inflated`` bytes of blanks, gzipped (about 100 KB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    head, tail = oai(oai_record("2501.00005")).split(b"<ListRecords>")
    parts = [packer.compress(head + b"<ListRecords>")]
    block = b" " * 2**20
    parts += [packer.compress(block) for _ in range(inflated // len(block))]
    parts += [packer.compress(tail), packer.flush()]
    return b"".join(parts)


def atom_entry(arxiv_id: str, title: str = GOOD["title"]) -> str:
    return (
        f"<entry><id>http://arxiv.org/abs/{arxiv_id}v1</id><title>{title}</title>"
        f"<summary>{ABSTRACT}</summary><published>2025-01-02T10:00:00Z</published>"
        '<category term="cs.AI"/></entry>'
    )


def atom(*entries: str, total: int | None = None) -> bytes:
    total = len(entries) if total is None else total
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        f"<opensearch:totalResults>{total}</opensearch:totalResults>" + "".join(entries) + "</feed>"
    ).encode()


# other scripts' digits, written as escapes so the source stays ASCII (ruff RUF001)
FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + i) for i in range(10)))
ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + i) for i in range(10)))


def mangled(record: str, tag: str) -> str:
    """A record whose end tag ``</tag>`` is misspelt (``</recrd>``, ``</entri>``)."""
    return record.replace(f"</{tag}>", f"</{tag[:3]}{tag[4:]}>")


def unclosed(record: str, tag: str) -> str:
    return record.replace(f"</{tag}>", "")


def page(*paragraphs: str) -> bytes:
    return "\n\n".join(paragraphs).encode()


def truncated_parquet() -> bytes:
    frame = pd.read_parquet(ARXIV).head(50)
    data = frame.to_parquet()
    return data[: len(data) // 2]


BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)
XXE = '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


@dataclass(frozen=True)
class Case:
    """One kind of bad input."""

    kind: str
    source: str  # file, kaggle, oai, arxiv or page
    payload: Callable[[], bytes | list[bytes]]  # a list: the server's answers in order
    expect: str  # quarantine:<reason> | error:<regex> | stored
    suffix: str = ".jsonl"
    stored: int = 1  # papers stored when the command succeeds
    check: Callable[[Path, Path], None] | None = None  # (home, tmp_path) -> assertions
    headers: dict[str, str] | None = None  # response headers of the loopback server
    kept: int = 0  # papers a failed paged run keeps (the pages it committed before it stopped)


# -- checks of hostile text that is stored ---------------------------------------------------------
def site_escapes_html(home: Path, tmp_path: Path) -> None:
    """Rendered into a site (a hand-made fit over it), the title shows as text, not markup."""
    with open_writer(home / "work" / "trends.duckdb") as store:
        (title,) = store.query("select title from papers where paper_id = 'arxiv:2501.00002'")[
            "title"
        ]
        assert title == HOSTILE_HTML  # stored as sent
        seed_toy_fit(store, TOY_ROWS)
        store.execute("update papers set title = ? where paper_id = 'p02'", [title])
        store.execute("update topics set representative_ids = ['p02'] where topic_id = 1")
        build_marts(store)
        site = render_site(store, tmp_path / "site").out_dir
    pages = {p: p.read_text() for p in site.rglob("*") if p.suffix in (".html", ".js")}
    assert not [p for p, text in pages.items() if "<script>alert" in text or "<img src=x" in text]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[site / "topics" / "1.html"]


def sql_output_is_inert(home: Path, tmp_path: Path) -> None:
    """`trends sql` prints the title without sending its control codes or console markup."""
    runner = CliRunner()
    assert runner.invoke(app, ["--home", str(home), "publish"]).exit_code == 0
    result = runner.invoke(app, ["--home", str(home), "sql", "select title from papers"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b]0;owned" in result.stdout and "[/x][bold red]" in result.stdout


def sql_is_data(home: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(home / "work" / "trends.duckdb"), read_only=True) as con:
        assert con.execute("select paper_id, title from papers order by 1").fetchall() == [
            ("arxiv:2501.00001", GOOD["title"]),
            (INJECTION, INJECTION),
        ]


def later_duplicate_wins(home: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(home / "work" / "trends.duckdb"), read_only=True) as con:
        (title,) = con.execute(
            "select title from papers where paper_id = 'arxiv:2501.00002'"
        ).fetchone()
    assert title == "The second text"


def nothing_from_etc_passwd(home: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(home / "work" / "trends.duckdb"), read_only=True) as con:
        text = " ".join(str(r) for r in con.execute("select * from papers").fetchall())
    assert "root:" not in text


def paper_row(home: Path, paper_id: str, column: str) -> object:
    with duckdb.connect(str(home / "work" / "trends.duckdb"), read_only=True) as con:
        row = con.execute(f"select {column} from papers where paper_id = ?", [paper_id]).fetchone()
    assert row is not None, f"{paper_id} not stored"
    return row[0]


def dated_in_utc(home: Path, tmp_path: Path) -> None:
    """23:30 at UTC-5 on January 2 is January 3 in UTC."""
    assert str(paper_row(home, "arxiv:2501.00002", "published")) == "2025-01-03"


def id_is_ascii(home: Path, tmp_path: Path) -> None:
    """The id is the plain ASCII arXiv id, and so is the link built from it."""
    with duckdb.connect(str(home / "work" / "trends.duckdb"), read_only=True) as con:
        rows = con.execute("select paper_id, url from papers order by 1").fetchall()
    assert rows == [
        ("arxiv:2501.00001", "https://arxiv.org/abs/2501.00001"),
        ("arxiv:2501.00099", "https://arxiv.org/abs/2501.00099"),
    ]


def years_parquet() -> bytes:
    """Parquet whose year column holds ints and a null: pandas writes it as float64 (2019.0)."""
    buf = io.BytesIO()
    pd.DataFrame(
        {"id": ["2501.00001", "2501.00002", "2501.00003"], "title": ["A", "B", "C"],
         "abstract": [ABSTRACT] * 3, "year": [2019, None, 2020]}
    ).to_parquet(buf)  # fmt: skip
    return buf.getvalue()


def dated_by_year(home: Path, tmp_path: Path) -> None:
    assert str(paper_row(home, "arxiv:2501.00001", "published")) == "2019-01-01"
    assert paper_row(home, "arxiv:2501.00001", "date_precision") == "year"
    assert paper_row(home, "arxiv:2501.00002", "published") is None


def first_record_kept(home: Path, tmp_path: Path) -> None:
    """The record on the line that starts with the BOM is stored like any other."""
    assert paper_row(home, "arxiv:2501.00001", "title") == GOOD["title"]


OVERSIZED = 17 * 2**20  # over the 16 MiB line limit


def oversized_line(record: dict) -> bytes:
    return json.dumps({**record, "abstract": "word " * (OVERSIZED // 5)}).encode()


def size_named(home: Path, tmp_path: Path) -> None:
    """The quarantined line is named by number and size, and only its head is kept."""
    with duckdb.connect(str(home / "work" / "trends.duckdb"), read_only=True) as con:
        [(key, detail)] = con.execute("select record_key, detail from rejected_records").fetchall()
        longest = con.execute("select max(length(payload)) from raw_records").fetchone()[0]
    assert key == "line 2" and re.match(r"line of [\d,]+ bytes is over the 16,777,216-byte", detail)
    assert longest <= 2**10 or longest < OVERSIZED // 100


def authors_capped(home: Path, tmp_path: Path) -> None:
    authors = paper_row(home, "arxiv:2501.00002", "authors")
    assert len(authors) <= MAX_AUTHORS and authors.endswith("; et al."), len(authors)
    assert authors.startswith("A. Author 0; A. Author 1; ")


CASES = [
    # -- files: JSON Lines --------------------------------------------------------------------
    Case("broken JSON line", "file", lambda: jsonl(GOOD, b'{"id": "2501.00002", "title": '),
         "quarantine:unreadable"),
    Case("JSON line that is not an object", "file", lambda: jsonl(GOOD, b"[1, 2, 3]"),
         "quarantine:unreadable"),
    Case("JSON nested 100,000 deep", "file", lambda: jsonl(GOOD, b"[" * 100_000 + b"]" * 100_000),
         "quarantine:unreadable"),
    Case("line in Latin-1, not UTF-8", "file",
         lambda: jsonl(GOOD, json.dumps(bad(title="Caf\u00e9"), ensure_ascii=False)
                       .encode("latin-1")),
         "quarantine:unreadable"),
    Case("whole file in UTF-16", "file", lambda: jsonl(GOOD).decode().encode("utf-16"),
         "quarantine:unreadable", stored=0),
    Case("escaped NUL in the title", "file", lambda: jsonl(GOOD, bad(title="Plan\u0000ning")),
         "quarantine:non_text_title"),
    Case("raw NUL byte inside a JSON string", "file",
         lambda: jsonl(GOOD, json.dumps(bad()).replace("Planning", "Plan\x00ning").encode()),
         "quarantine:unreadable"),
    Case("unpaired surrogate in the abstract", "file",
         lambda: jsonl(GOOD, bad(abstract=ABSTRACT + "\ud800")), "quarantine:non_text_abstract"),
    Case("10 MB abstract", "file", lambda: jsonl(GOOD, bad(abstract="word " * 2_000_000)),
         "quarantine:too_long_abstract"),
    Case("1 MB title", "file", lambda: jsonl(GOOD, bad(title="t" * 1_000_000)),
         "quarantine:too_long_title"),
    Case("date in the year 3000", "file", lambda: jsonl(GOOD, bad(published="3000-01-01")),
         "quarantine:bad_date"),
    Case("impossible date (February 30)", "file", lambda: jsonl(GOOD, bad(published="2025-02-30")),
         "quarantine:bad_date"),
    Case("date that is prose", "file", lambda: jsonl(GOOD, bad(published="next Tuesday")),
         "quarantine:bad_date"),
    Case("date that is a huge number", "file", lambda: jsonl(GOOD, bad(published=10**30)),
         "quarantine:bad_date"),
    Case("no id", "file", lambda: jsonl(GOOD, bad(id=None)), "quarantine:missing_id"),
    Case("no abstract", "file", lambda: jsonl(GOOD, bad(abstract=None)),
         "quarantine:missing_abstract"),
    Case("blank title", "file", lambda: jsonl(GOOD, bad(title=" \t ")), "quarantine:missing_title"),
    Case("title of invisible characters only", "file",
         lambda: jsonl(GOOD, bad(title="\u200b\u200b\u2060")), "quarantine:missing_title"),
    Case("title that is a list", "file", lambda: jsonl(GOOD, bad(title=["a", "b"])),
         "quarantine:non_text_title"),
    Case("abstract too short to be one", "file", lambda: jsonl(GOOD, bad(abstract="Tiny.")),
         "quarantine:too_short_abstract"),
    Case("version beyond 32 bits", "file",
         lambda: jsonl(GOOD, bad(version="v99999999999999999999")), "quarantine:bad_version"),
    Case("duplicate id with conflicting text", "file",
         lambda: jsonl(GOOD, bad(title="The first text"), bad(title="The second text")),
         "quarantine:duplicate_in_batch", stored=2, check=later_duplicate_wins),
    Case("HTML and script in the title", "file", lambda: jsonl(GOOD, bad(title=HOSTILE_HTML)),
         "stored", stored=2, check=site_escapes_html),
    Case("SQL in the id and the title", "file",
         lambda: jsonl(GOOD, bad(id=INJECTION, title=INJECTION)), "stored", stored=2,
         check=sql_is_data),
    Case("terminal escapes and console markup in the title", "file",
         lambda: jsonl(GOOD, bad(title="\x1b]0;owned\x07\x1b[2J[/x][bold red]Planning")),
         "stored", stored=2, check=sql_output_is_inert),
    # -- files: CSV and Parquet -----------------------------------------------------------------
    Case("CSV in Latin-1", "file", lambda: f"id,title,abstract\nx1,Caf\u00e9,{ABSTRACT}\n"
         .encode("latin-1"), r"error:input\.csv: cannot read as csv: .*utf-8", suffix=".csv"),
    Case("CSV with an unterminated quote", "file",
         lambda: f'id,title,abstract\nx1,"Planning,{ABSTRACT}\n'.encode(),
         r"error:input\.csv: cannot read as csv: .*EOF inside string", suffix=".csv"),
    Case("CSV without an abstract column", "file",
         lambda: b"id,title\nx1,Planning\nx2,Search\n", "quarantine:missing_abstract",
         suffix=".csv", stored=0),
    Case("Parquet file cut in half", "file", truncated_parquet,
         r"error:input\.parquet: cannot read as parquet", suffix=".parquet"),
    Case("file of an unknown type", "file", lambda: jsonl(GOOD),
         r"error:input\.txt: unknown file type '\.txt'", suffix=".txt"),
    # -- Kaggle snapshot --------------------------------------------------------------------------
    Case("Kaggle line cut short", "kaggle", lambda: jsonl(kaggle(), b'{"id": "2501.0'),
         "quarantine:unreadable", suffix=".json"),
    Case("Kaggle versions that are not a list, and no date", "kaggle",
         lambda: jsonl(kaggle(), kaggle(id="2501.00004", versions="v1 yesterday")),
         "quarantine:bad_versions", suffix=".json"),
    Case("Kaggle line nested 100,000 deep", "kaggle",
         lambda: jsonl(kaggle(), b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
         "quarantine:unreadable", suffix=".json"),
    # -- OAI-PMH ------------------------------------------------------------------------------------
    Case("OAI-PMH response cut short", "oai", lambda: oai(oai_record("2501.00005"))[:300],
         r"error:ends before </OAI-PMH>.*rerun to resume"),
    Case("OAI-PMH record with an unclosed tag", "oai",
         lambda: oai(oai_record("2501.00005"), oai_record("2501.00006", "<b>Planning")),
         "quarantine:malformed_xml"),
    Case("OAI-PMH record that is not UTF-8", "oai",
         lambda: oai(oai_record("2501.00005")) .replace(b"</ListRecords>",
                     oai_record("2501.00006", "Caf\u00e9").encode("latin-1") + b"</ListRecords>"),
         "quarantine:malformed_xml"),
    Case("OAI-PMH entity expansion bomb", "oai",
         lambda: oai(oai_record("2501.00005"), oai_record("2501.00006", "&lol3;"),
                     doctype=BILLION_LAUGHS), "quarantine:malformed_xml"),
    Case("OAI-PMH external entity (XXE)", "oai",
         lambda: oai(oai_record("2501.00005"), oai_record("2501.00006", "&xxe;"), doctype=XXE),
         "quarantine:malformed_xml", check=nothing_from_etc_passwd),
    Case("OAI-PMH deleted record", "oai",
         lambda: oai(oai_record("2501.00005"), oai_record("2501.00006", header=' status="deleted"')),
         "quarantine:deleted_record"),
    Case("OAI-PMH page that is an HTML error page", "oai",
         lambda: b"<html><head><title>502</title></head><body>Bad gateway</body></html>",
         r"error:not an OAI-PMH document \(its root is <html>\)"),
    # -- arXiv API ---------------------------------------------------------------------------------
    Case("arXiv API error feed", "arxiv",
         lambda: atom("<entry><id>http://arxiv.org/api/errors#bad</id><title>Error</title>"
                      "<summary>malformed query</summary></entry>"),
         r"error:arXiv API error: malformed query"),
    Case("arXiv API feed cut short", "arxiv", lambda: atom(atom_entry("2501.00007"))[:200],
         r"error:empty or incomplete pages at result 0"),
    Case("arXiv API page that is an HTML error page", "arxiv",
         lambda: b"<html><body>Rate limited</body></html>",
         r"error:not an Atom feed \(its root is <html>\)"),
    Case("arXiv API entry with broken markup", "arxiv",
         lambda: atom(atom_entry("2501.00007"), atom_entry("2501.00008", "a </b> b")),
         "quarantine:malformed_xml"),
    # -- pasted page ---------------------------------------------------------------------------------
    Case("pasted page that is not UTF-8", "page",
         lambda: page(GOOD["title"], ABSTRACT).decode().replace("under", "\u00fcnder")
         .encode("latin-1"), r"error:input\.txt: not UTF-8 text", suffix=".txt"),
    Case("pasted title with no abstract", "page",
         lambda: page(GOOD["title"], ABSTRACT, "A title whose abstract went missing"),
         "quarantine:missing_abstract", suffix=".txt"),
    # -- added for issue 21: every field validated, ids, links, dates, servers that loop ------------
    Case("unpaired surrogate in the id", "file", lambda: jsonl(GOOD, bad(id="2501.0000\ud800")),
         "quarantine:non_text_id"),
    Case("unpaired surrogate in the authors", "file",
         lambda: jsonl(GOOD, bad(authors="Jane \ud800 Doe")), "quarantine:non_text_authors"),
    Case("unpaired surrogate in the url", "file",
         lambda: jsonl(GOOD, bad(url="https://example.org/\ud800")), "quarantine:non_text_url"),
    Case("unpaired surrogate in the venue", "file",
         lambda: jsonl(GOOD, bad(venue="NeurIPS \udfff")), "quarantine:non_text_venue"),
    Case("unpaired surrogate in a category", "file",
         lambda: jsonl(GOOD, bad(categories=["cs.AI", "cs.\ud800"])),
         "quarantine:non_text_categories"),
    Case("NUL in the authors", "file", lambda: jsonl(GOOD, bad(authors="Jane\u0000Doe")),
         "quarantine:non_text_authors"),
    Case("Kaggle line with an unpaired surrogate in the authors", "kaggle",
         lambda: jsonl(kaggle(), kaggle(id="2501.00004", authors="Jane \ud800 Doe")),
         "quarantine:non_text_authors", suffix=".json"),
    Case("date after the ingest day", "file", lambda: jsonl(GOOD, bad(published="2100-12-31")),
         "quarantine:future_date"),
    Case("Kaggle first version dated in 2099", "kaggle",
         lambda: jsonl(kaggle(), kaggle(id="2501.00004", versions=[
             {"version": "v1", "created": "Thu, 31 Dec 2099 10:00:00 GMT"}])),
         "quarantine:future_date", suffix=".json"),
    Case("timestamp with an offset (dated in UTC)", "file",
         lambda: jsonl(GOOD, bad(published="2025-01-02T23:30:00.123456-05:00")), "stored",
         stored=2, check=dated_in_utc),
    Case("arXiv id in fullwidth digits", "file", lambda: jsonl(GOOD, bad(id="2501.00099".translate(FULLWIDTH))),
         "stored", stored=2, check=id_is_ascii),
    Case("arXiv id with a trailing zero-width space", "file",
         lambda: jsonl(GOOD, bad(id="2501.00099\u200b")), "stored", stored=2, check=id_is_ascii),
    Case("id in Arabic-Indic digits", "file", lambda: jsonl(GOOD, bad(id="2501.00099".translate(ARABIC_INDIC))),
         "quarantine:bad_id"),
    Case("javascript: URL", "file", lambda: jsonl(GOOD, bad(url="javascript:alert(1)")),
         "quarantine:bad_url"),
    Case("javascript: URL hidden by case and a tab", "file",
         lambda: jsonl(GOOD, bad(url=" JaVa\tScRiPt:alert(1)")), "quarantine:bad_url"),
    Case("data: URL", "file",
         lambda: jsonl(GOOD, bad(url="data:text/html,<script>alert(1)</script>")),
         "quarantine:bad_url"),
    Case("vbscript: URL", "file", lambda: jsonl(GOOD, bad(url="vbscript:msgbox(1)")),
         "quarantine:bad_url"),
    Case("file: URL", "file", lambda: jsonl(GOOD, bad(url="file:///etc/passwd")),
         "quarantine:bad_url"),
    Case("1 MB author list", "file",
         lambda: jsonl(GOOD, bad(authors="; ".join(f"A. Author {i}" for i in range(80_000)))),
         "stored", stored=2, check=authors_capped),
    Case("OAI-PMH resumption tokens that cycle (A, B, A)", "oai",
         lambda: [oai(oai_record("2501.00005"), token="A"),
                  oai(oai_record("2501.00006"), token="B"),
                  oai(oai_record("2501.00007"), token="A")],
         r"error:resumption token 'A' a second time", kept=2),
    Case("OAI-PMH pages that repeat their records under new tokens", "oai",
         lambda: [oai(oai_record("2501.00005"), token=f"T{i}") for i in range(60)],
         r"error:repeats only records already received", kept=1),
    Case("OAI-PMH resumption token of 64 KB", "oai",
         lambda: oai(oai_record("2501.00005"), token="x" * 65_536),
         r"error:resumption token of 65,536 characters"),
    Case("OAI-PMH record with a mangled end tag", "oai",
         lambda: oai(oai_record("2501.00005"), mangled(oai_record("2501.00006"), "record"),
                     oai_record("2501.00007")), "quarantine:malformed_xml", stored=2),
    Case("OAI-PMH records never closed", "oai",
         lambda: oai(oai_record("2501.00005"), unclosed(oai_record("2501.00006"), "record"),
                     unclosed(oai_record("2501.00007"), "record")), "quarantine:malformed_xml"),
    Case("OAI-PMH gzip bomb (100 KB that inflates to 100 MB)", "oai", gzip_bomb,
         r"error:more than 67,108,864 bytes", headers={"Content-Encoding": "gzip"}),
    Case("arXiv API answering the same page with a huge total", "arxiv",
         lambda: atom(atom_entry("2501.00007"), total=10**9),
         r"error:repeats only entries already received", kept=1),
    Case("arXiv API entry with a mangled end tag", "arxiv",
         lambda: atom(atom_entry("2501.00007"), mangled(atom_entry("2501.00008"), "entry"),
                      atom_entry("2501.00009")), "quarantine:malformed_xml", stored=2),
    # -- added for issue 21 (files): float years, a byte-order mark, a line too long to read --------
    Case("Parquet year column of nullable integers (2019.0)", "file", years_parquet, "stored",
         suffix=".parquet", stored=3, check=dated_by_year),
    Case("CSV year written from a float column (2019.0)", "file",
         lambda: f"id,title,abstract,year\n2501.00001,A,{ABSTRACT},2019.0\n2501.00002,B,{ABSTRACT},\n"
         .encode(), "stored", suffix=".csv", stored=2, check=dated_by_year),
    Case("JSON Lines file that starts with a UTF-8 BOM", "file",
         lambda: b"\xef\xbb\xbf" + jsonl(GOOD, bad()), "stored", stored=2,
         check=first_record_kept),
    Case("Kaggle snapshot that starts with a UTF-8 BOM", "kaggle",
         lambda: b"\xef\xbb\xbf" + jsonl(kaggle(), kaggle(id="2501.00004")), "stored",
         suffix=".json", stored=2),
    Case("JSON line of 17 MB", "file", lambda: jsonl(GOOD, oversized_line(bad())),
         "quarantine:unreadable", check=size_named),
    Case("Kaggle line of 17 MB", "kaggle", lambda: jsonl(kaggle(), oversized_line(kaggle())),
         "quarantine:unreadable", suffix=".json", check=size_named),
]  # fmt: skip


def ingest(case: Case, home: Path, tmp_path: Path):
    net = ["--pause", "0", "--retries", "0", "--full"]
    if case.source in ("oai", "arxiv"):
        with serve(case.payload(), headers=case.headers) as (url, _):
            args = ["oai", "--url", url, *net]
            if case.source == "arxiv":
                args = ["arxiv", "--url", url, "--category", "cs.AI", *net]
            return CliRunner().invoke(app, ["--home", str(home), "ingest", *args])
    path = tmp_path / f"input{case.suffix}"
    path.write_bytes(case.payload())
    return CliRunner().invoke(app, ["--home", str(home), "ingest", case.source, str(path)])


def test_at_least_thirty_kinds_of_bad_input():
    kinds = [c.kind for c in CASES]
    assert len(set(kinds)) == len(kinds) >= 30
    assert {c.source for c in CASES} == {"file", "kaggle", "oai", "arxiv", "page"}


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_bad_input(case, tmp_path):
    home = tmp_path / "home"
    result = ingest(case, home, tmp_path)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    db = home / "work" / "trends.duckdb"
    outcome, _, detail = case.expect.partition(":")
    if outcome == "error":
        assert result.exit_code == 1, result.output
        message = " ".join(result.output.split())
        assert message.startswith("error: ") and re.search(detail, message), message
        if db.exists():
            with duckdb.connect(str(db), read_only=True) as con:
                assert con.execute("select count(*) from papers").fetchone()[0] == case.kept
                runs = con.execute(
                    "select n_received, n_new + n_updated + n_unchanged + n_rejected"
                    " from ingest_runs"
                ).fetchall()
            assert all(received == accounted for received, accounted in runs), runs
        else:
            assert case.kept == 0
        return

    assert result.exit_code == 0, result.output
    counts = {k: int(v.replace(",", "")) for k, v in LINE.search(result.stdout).groupdict().items()}
    assert counts["received"] == counts["stored"] + counts["quarantined"], counts
    assert counts["stored"] == case.stored, result.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        runs = con.execute(
            "select n_received, n_new + n_updated + n_unchanged, n_rejected from ingest_runs"
        ).fetchall()
        assert runs == [(counts["received"], counts["stored"], counts["quarantined"])]
        assert con.execute("select count(*) from papers").fetchone()[0] == case.stored
        rejected = con.execute("select record_key, reason, detail from rejected_records").fetchall()
    assert len(rejected) == counts["quarantined"]
    if outcome == "quarantine":
        assert counts["quarantined"] >= 1
        assert {reason for _, reason, _ in rejected} == {detail}, rejected
        # each row names the record (its id, or "line N" for a line that could not be read;
        # a record with no id is found by its payload) and says why
        assert all(why and (key or reason == "missing_id") for key, reason, why in rejected)
    else:
        assert counts["quarantined"] == 0
    if case.check:
        case.check(home, tmp_path)
