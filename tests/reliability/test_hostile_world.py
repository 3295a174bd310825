"""Issue 21, "a hostile world": bad input that used to get through, one test per item.

Each test names its item of the issue. The bad-input corpus (test_bad_input.py) runs the same
kinds through the real command; these tests pin the limits themselves (margins, caps, how a
loop is noticed) on the functions that enforce them. Servers are loopback ones from
``loopserve`` (127.0.0.1 only, bounded in requests and lifetime); no test measures time: the
deadline test drives the fetcher's clock by hand.
"""

from __future__ import annotations

import gzip
import itertools
import json
from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest
from loopserve import serve
from test_bad_input import ARABIC_INDIC, FULLWIDTH, GOOD, atom, atom_entry, oai, oai_record
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.normalize import paper_key, parse_arxiv_id, parse_date
from pipeline.records import (
    FUTURE_MARGIN_DAYS,
    MAX_AUTHORS,
    RecordError,
    prepare_batch,
    prepare_record,
    resolve_columns,
)
from pipeline.sources import arxiv_api, oai_pmh
from pipeline.sources.fetch import Fetcher, FetchPolicy, SourceError
from pipeline.sources.xmlrecords import split_elements

pytestmark = pytest.mark.reliability
COLS = resolve_columns(["id", "title", "abstract", "published", "authors", "url", "venue"])


def record(**fields: object) -> dict:
    return {**GOOD, **fields}


def reason_of(rec: dict, today: date | None = None) -> str:
    with pytest.raises(RecordError) as caught:
        prepare_record(rec, COLS, "test", today=today)
    return caught.value.reason


class Pages:
    """A stand-in fetcher that answers the given bodies in order and counts the requests."""

    def __init__(self, bodies) -> None:
        self.bodies = iter(bodies)
        self.requests = 0

    def get(self, url: str, params=None) -> bytes:
        self.requests += 1
        return next(self.bodies)


# -- 1. every field is validated like the title ------------------------------------------------
@pytest.mark.parametrize("field", ["id", "authors", "url", "venue", "categories"])
def test_1_unpaired_surrogate_in_any_field_is_quarantined_not_fatal(field):
    value = "2501.0000\ud800" if field == "id" else "Jane \ud800 Doe"
    if field == "categories":
        value = ["cs.AI", "cs.\ud800"]
    batch = prepare_batch([GOOD, {**GOOD, "id": "2501.00002", field: value}], "test")
    assert list(batch.papers["paper_id"]) == ["arxiv:2501.00001"]
    assert list(batch.rejected["reason"]) == [f"non_text_{field}"]
    # what reaches the store encodes as UTF-8 (a lone surrogate used to abort the whole load)
    for frame in (batch.raw, batch.rejected, batch.papers):
        frame.to_json(force_ascii=False).encode("utf-8")


# -- 2. dates after the ingest day (plus a margin) ---------------------------------------------
def test_2_dates_after_the_ingest_day_are_quarantined_beyond_the_margin():
    today = date(2026, 12, 4)
    last_ok = today + timedelta(days=FUTURE_MARGIN_DAYS)
    assert prepare_record(record(published=last_ok.isoformat()), COLS, "t", today=today)
    assert reason_of(record(published=(last_ok + timedelta(days=1)).isoformat()), today) == (
        "future_date"
    )
    assert reason_of(record(published="2100-12-31")) == "future_date"  # default: today
    batch = prepare_batch([GOOD, record(id="2501.00002", published="2100-12-31")], "t")
    (detail,) = batch.rejected["detail"]
    assert "2100-12-31" in detail and "after the ingest day" in detail


def test_2_a_future_datestamp_does_not_move_the_oai_watermark():
    future = oai_record("2501.00006").replace("2025-01-03", "2100-12-31")
    page = oai_pmh.parse_list_records(oai(oai_record("2501.00005"), future))
    assert page.max_datestamp == "2025-01-03"
    today = date(2025, 1, 1)
    assert oai_pmh.parse_list_records(oai(oai_record("2501.00005")), today).max_datestamp == (
        "2025-01-03"  # within the margin
    )
    assert oai_pmh.parse_list_records(oai(future), today).max_datestamp is None


def test_2_a_future_dated_entry_does_not_move_the_arxiv_api_watermark(tmp_path):
    future = atom_entry("2501.00008").replace("2025-01-02T10:00:00Z", "2100-12-31T10:00:00Z")
    home = tmp_path / "home"
    args = ["--category", "cs.AI", "--pause", "0", "--retries", "0"]
    with serve(atom(atom_entry("2501.00007"), future)) as (url, _):
        result = CliRunner().invoke(
            app, ["--home", str(home), "ingest", "arxiv", "--url", url, *args]
        )
    assert result.exit_code == 0, result.output
    assert "stored 1" in result.stdout and "quarantined 1" in result.stdout
    with duckdb.connect(str(home / "work" / "trends.duckdb"), read_only=True) as con:
        (watermark,) = con.execute("select watermark from source_watermarks").fetchone()
    assert watermark.startswith("2025-01-02"), watermark


# -- 4. loops: tokens or pages seen before, no progress ----------------------------------------
def test_4_oai_tokens_that_cycle_stop_at_the_first_repeat():
    bodies = itertools.cycle(
        [oai(oai_record("2501.00005"), token="B"), oai(oai_record("2501.00006"), token="A")]
    )
    http = Pages(itertools.chain([oai(oai_record("2501.00004"), token="A")], bodies))
    got = []
    with pytest.raises(SourceError, match="resumption token 'A' a second time"):
        for page in oai_pmh.harvest_list_records(http, "http://x"):
            got.append(page.token)
    assert got == ["A", "B"] and http.requests == 3


def test_4_oai_pages_without_progress_stop():
    same = Pages(oai(oai_record("2501.00005"), token=f"T{i}") for i in itertools.count())
    with pytest.raises(SourceError, match="repeats only records already received"):
        list(oai_pmh.harvest_list_records(same, "http://x"))
    assert same.requests == 2
    empty = Pages(oai(token=f"T{i}") for i in itertools.count())
    with pytest.raises(SourceError, match="pages in a row without records"):
        list(oai_pmh.harvest_list_records(empty, "http://x"))
    assert empty.requests == oai_pmh.MAX_EMPTY_PAGES + 1


def test_4_arxiv_api_same_page_with_a_huge_total_stops():
    http = Pages(itertools.repeat(atom(atom_entry("2501.00007"), total=10**9)))
    query = arxiv_api.ArxivQuery(("cs.AI",))
    with pytest.raises(SourceError, match="repeats only entries already received"):
        list(arxiv_api.fetch_arxiv_listing(http, "http://x", query))
    assert http.requests == 2


# -- 5. the timeout bounds the whole response ---------------------------------------------------
def test_5_a_dripping_body_ends_at_the_deadline_of_the_fetchers_clock():
    ticks = itertools.count()  # every look at the clock is one second later

    def clock() -> float:
        return float(next(ticks))

    policy = FetchPolicy(pause=0, timeout=10, attempts=1)
    body = oai(oai_record("2501.00005"))
    with serve(body, drip=0.002, max_seconds=30) as (url, _):
        http = Fetcher(policy, clock=clock)
        with pytest.raises(SourceError, match=r"no complete response within 10s"):
            http.get(url)
        http.close()


@pytest.mark.timeout(60)  # guards against a hang only; the server stops itself after 20 s
def test_5_a_server_that_drips_its_headers_is_cut_at_the_deadline():
    policy = FetchPolicy(pause=0, timeout=0.5, attempts=1)
    with serve(b"<x/>", drip=0.05, drip_headers=True, max_seconds=20) as (url, _):
        with Fetcher(policy) as http, pytest.raises(SourceError, match="no complete response"):
            http.get(url)


# -- 6. record splitting is linear --------------------------------------------------------------
@pytest.mark.timeout(120)  # guards against a hang only (the old splitter took 90 s here)
def test_6_forty_thousand_unclosed_records_split_in_linear_time():
    body = oai(oai_record("2501.00005"), "<record>" * 40_000)
    assert len(body) > 320_000
    page = oai_pmh.parse_list_records(body)
    assert len(page.records) == 1 and page.received == 40_001
    assert {q.reason for q in page.quarantined} == {"malformed_xml"}


def test_6_split_elements_keeps_every_start_tag_apart():
    body = b"<r><e>1</e><e a='x'>2</e><e>3</ent><e/><e>4</e ><e>5"
    assert split_elements(body, "e") == [
        b"<e>1</e>",
        b"<e a='x'>2</e>",
        b"<e>3</ent>",
        b"<e/>",
        b"<e>4</e >",
        b"<e>5",
    ]
    assert split_elements(b"<entry>x</entry><entryX>y</entryX>", "entry") == [b"<entry>x</entry>"]


# -- 7. decompressed size is capped -------------------------------------------------------------
def test_7_a_gzip_bomb_stops_at_the_size_cap():
    bomb = gzip.compress(b" " * (16 * 2**20), compresslevel=9)
    assert len(bomb) < 100_000
    policy = FetchPolicy(pause=0, attempts=1, max_bytes=2**20)
    with serve(bomb, headers={"Content-Encoding": "gzip"}) as (url, queries):
        with Fetcher(policy) as http, pytest.raises(SourceError, match=r"more than 1,048,576"):
            http.get(url)
    assert len(queries) == 1  # not retried: the same answer would come again
    with serve(b"x" * 2_000_000) as (url, _), Fetcher(policy) as http:
        with pytest.raises(SourceError, match="more than 1,048,576"):
            http.get(url)


# -- 10. an overlong resumption token -------------------------------------------------------------
def test_10_an_overlong_token_is_refused_before_it_is_stored(tmp_path):
    home = tmp_path / "home"
    runner = CliRunner()
    net = ["--pause", "0", "--retries", "0"]
    huge = oai(oai_record("2501.00005"), token="x" * 65_536)
    with serve(huge) as (url, _):
        first = runner.invoke(app, ["--home", str(home), "ingest", "oai", "--url", url, *net])
    assert first.exit_code == 1, first.output
    assert isinstance(first.exception, SystemExit) and "Traceback" not in first.output
    assert "65,536 characters" in " ".join(first.output.split())
    # the next run, against a server that behaves again, is not stuck on a stored token
    with serve(oai(oai_record("2501.00005"))) as (url2, queries):
        again = runner.invoke(app, ["--home", str(home), "ingest", "oai", "--url", url2, *net])
    assert again.exit_code == 0, again.output
    assert "stored 1" in again.stdout and "resumptionToken" not in queries[0]


def test_10_a_stored_overlong_token_restarts_the_list_and_a_bad_url_is_one_line():
    with pytest.raises(oai_pmh.BadResumptionTokenError):
        next(oai_pmh.harvest_list_records(Pages([]), "http://x", token="x" * 70_000))
    with Fetcher(FetchPolicy(pause=0, attempts=1)) as http:
        with pytest.raises(SourceError, match="invalid URL"):
            http.get("http://127.0.0.1:9/oai", {"resumptionToken": "x" * 70_000})


# -- 11. a mangled end tag swallows nothing ------------------------------------------------------
def test_11_a_mangled_end_tag_is_one_quarantined_record():
    bad = oai_record("2501.00006").replace("</record>", "</recrd>")
    page = oai_pmh.parse_list_records(oai(oai_record("2501.00005"), bad, oai_record("2501.00007")))
    assert [r["id"] for r in page.records] == ["2501.00005", "2501.00007"]
    assert [q.record_key for q in page.quarantined] == ["2501.00006"]
    assert page.received == 3
    bad_entry = atom_entry("2501.00008").replace("</entry>", "</entri>")
    feed = arxiv_api.parse_feed(atom(atom_entry("2501.00007"), bad_entry, atom_entry("2501.00009")))
    assert feed.received == 3 and len(feed.records) == 2


# -- 14. ids are ASCII after normalisation --------------------------------------------------------
def test_14_unicode_digits_never_make_an_arxiv_id():
    assert paper_key("2501.00001".translate(FULLWIDTH)) == ("arxiv:2501.00001", None)
    assert paper_key("2501.00001\u200b") == ("arxiv:2501.00001", None)
    assert paper_key("arXiv:2501.00001v" + "2".translate(FULLWIDTH)) == ("arxiv:2501.00001", 2)
    assert parse_arxiv_id("2501.00001".translate(ARABIC_INDIC)) is None
    assert reason_of(record(id="2501.00001".translate(ARABIC_INDIC))) == "bad_id"
    assert reason_of(record(id="x" * 300)) == "bad_id"
    row = prepare_record(
        record(id="\ufeff" + "2501.00001".translate(FULLWIDTH) + "\u200b"), COLS, "t"
    )
    assert row["paper_id"] == "arxiv:2501.00001"
    assert row["url"] == "https://arxiv.org/abs/2501.00001"


# -- also: links, authors, offsets, --map ------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html,x",
        "vbscript:x",
        "file:///etc/passwd",
        "//evil.example/x",
        "https:///no-host",
        "https://" + "a" * 3_000 + ".example/",
    ],
)
def test_also_only_http_links_are_stored(url):
    assert reason_of(record(url=url)) == "bad_url"


def test_also_http_links_are_kept():
    for url in ("https://openreview.net/forum?id=x", "http://example.org/p.pdf"):
        assert prepare_record(record(url=url), COLS, "t")["url"] == url


def test_also_authors_are_capped_at_a_name_boundary():
    names = "; ".join(f"Author Number {i}" for i in range(20_000))
    assert len(names) > MAX_AUTHORS
    authors = prepare_record(record(authors=names), COLS, "t")["authors"]
    assert len(authors) <= MAX_AUTHORS and authors.endswith("; et al.")
    assert authors.removesuffix("; et al.").split("; ")[-1].startswith("Author Number ")
    real = "; ".join(f"Author {i}" for i in range(4_000))  # a large collaboration: kept whole
    assert prepare_record(record(authors=real), COLS, "t")["authors"] == real


@pytest.mark.parametrize(
    ("raw", "day"),
    [
        ("2025-01-02T23:30:00-05:00", date(2025, 1, 3)),
        ("2025-01-02T23:30:00.123456-05:00", date(2025, 1, 3)),
        ("2025-01-03T01:00:00+02:00", date(2025, 1, 2)),
        ("2025-01-02T10:00:00Z", date(2025, 1, 2)),
        (datetime(2025, 1, 3, 1, 0, tzinfo=timezone(timedelta(hours=3))), date(2025, 1, 2)),
        ("2025-01-02", date(2025, 1, 2)),
    ],
)
def test_also_timestamps_with_an_offset_are_dated_in_utc(raw, day):
    assert parse_date(raw) == (day, "day")


def test_also_map_to_a_missing_column_is_refused_up_front(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "id": "2501.00002"}) + "\n")
    home = tmp_path / "home"
    result = CliRunner().invoke(
        app, ["--home", str(home), "ingest", "file", str(path), "--map", "title=nope"]
    )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    message = " ".join(result.output.split())  # the console may wrap a long line
    assert message.startswith("error: --map title=nope: ") and "no column 'nope'" in message
    db = home / "work" / "trends.duckdb"
    if db.exists():
        with duckdb.connect(str(db), read_only=True) as con:
            assert con.execute("select count(*) from ingest_runs").fetchone()[0] == 0


def test_also_map_to_an_existing_column_still_works():
    cols = resolve_columns(["id", "name", "summary"], {"title": "name"})
    assert cols["title"] == "name" and cols["abstract"] == "summary"
