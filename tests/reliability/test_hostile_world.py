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
import os
import random
import re
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from html import escape
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, TOY_ROWS, seed_toy_fit, seed_toy_themes
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
from pipeline.report.charts import (
    corpus_figure,
    share_figure,
    small_multiples_figure,
    sparkline_figure,
    topic_map_figure,
)
from pipeline.report.swap import SITE_MARKER, remove_stale_builds, swap_in
from pipeline.sources import arxiv_api, oai_pmh
from pipeline.sources.fetch import Fetcher, FetchPolicy, SourceError
from pipeline.sources.files import MAX_LINE_BYTES, read_paper_chunks, read_paper_file
from pipeline.sources.kaggle import read_snapshot_chunks
from pipeline.sources.xmlrecords import split_elements
from pipeline.themes import ThemeFileError, load_themes

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


# -- 3. concurrent renders of one site folder -----------------------------------------------------
def _build(parent: Path, name: str, text: str) -> Path:
    """A finished build folder as render_site leaves it before its swap."""
    build = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=parent))
    (build / SITE_MARKER).write_text("A site rendered by `trends report`.\n")
    (build / "index.html").write_text(text)
    return build


_OTHER_RENDER = """
import sys, tempfile
from pathlib import Path
from pipeline.report.swap import SITE_MARKER, remove_stale_builds, swap_in
target = Path(sys.argv[1])
remove_stale_builds(target)
build = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
(build / SITE_MARKER).write_text("A site rendered by `trends report`.\\n")
(build / "index.html").write_text("theirs")
swap_in(build, target)
"""


def test_3_a_render_never_deletes_the_build_of_another_running_render(tmp_path):
    target = tmp_path / "site"
    swap_in(_build(tmp_path, "site", "old"), target)
    remove_stale_builds(target)  # this process starts a render ...
    mine = _build(tmp_path, "site", "mine")
    # ... and another process (another home) renders the same folder from start to end
    subprocess.run([sys.executable, "-c", _OTHER_RENDER, str(target)], check=True, timeout=120)
    assert (target / "index.html").read_text() == "theirs"
    assert (mine / "index.html").is_file()  # it used to delete this render's build
    swap_in(mine, target)
    assert (target / "index.html").read_text() == "mine"
    # nothing left behind: the old site and the other render's build are gone, no stray link
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".site-")]
    assert leftovers == [mine.name]


def test_3_builds_of_killed_renders_are_removed_by_the_next_render_that_runs_alone(tmp_path):
    target = tmp_path / "site"
    swap_in(_build(tmp_path, "site", "live"), target)
    killed = _build(tmp_path, "site", "killed")  # a render killed before its swap
    (killed / "topics").mkdir()
    (killed / "topics" / "1.html").write_text("half")
    stray = tmp_path / f".site-link-{os.getpid() + 1}"
    stray.symlink_to(killed.name)
    remove_stale_builds(target)
    new = _build(tmp_path, "site", "new")
    swap_in(new, target)
    assert (target / "index.html").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site-")] == [new.name]


# -- 8. years from a nullable integer column ------------------------------------------------------
@pytest.mark.parametrize("raw", [2019.0, "2019.0", "2019.00", np.float64(2019.0)])
def test_8_a_year_read_as_a_float_is_a_year(raw):
    assert parse_date(raw) == (date(2019, 1, 1), "year")


@pytest.mark.parametrize("raw", [2019.5, "2019.5", "2019.0.0", float("inf")])
def test_8_a_fractional_year_is_still_refused(raw):
    with pytest.raises(ValueError):
        parse_date(raw)


def test_8_parquet_with_a_nullable_integer_year_column_stores_every_row(tmp_path):
    path = tmp_path / "years.parquet"
    years = [2019, None, 2020]  # pandas holds these as float64: 2019.0, NaN, 2020.0
    pd.DataFrame(
        {"id": ["y1", "y2", "y3"], "title": ["A", "B", "C"], "abstract": [GOOD["abstract"]] * 3,
         "year": years}
    ).to_parquet(path)  # fmt: skip
    records, broken = read_paper_file(path)
    batch = prepare_batch(records, "test")
    assert broken == [] and batch.rejected.empty, batch.rejected.to_dict("records")
    dated = batch.papers.set_index("paper_id")[["published", "date_precision"]]
    assert dated.loc["y1"].tolist() == [date(2019, 1, 1), "year"]
    assert dated.loc["y3"].tolist() == [date(2020, 1, 1), "year"]


# -- 9. an oversized JSON Lines line is quarantined by its size, never read whole -----------------
def test_9_an_oversized_line_is_quarantined_by_size_without_being_held(tmp_path):
    limit = 2**20
    path = tmp_path / "big.jsonl"
    huge = json.dumps({**GOOD, "id": "2501.00002", "abstract": "word " * (8 * limit // 5)})
    path.write_text(
        json.dumps(GOOD) + "\n" + huge + "\n" + json.dumps({**GOOD, "id": "2501.00003"})
    )
    tracemalloc.start()
    try:
        chunks = list(read_paper_chunks(path, chunk_rows=2, max_line_bytes=limit))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * limit, f"peak {peak:,} bytes for a {len(huge):,}-byte line"
    records = [r["id"] for c in chunks for r in c.records]
    broken = [b for c in chunks for b in c.unreadable]
    assert records == ["2501.00001", "2501.00003"]
    [(lineno, text, reason)] = broken
    assert lineno == 2 and len(text) <= 1024
    assert f"line of {len(huge) + 1:,} bytes is over the {limit:,}-byte limit" in reason
    assert chunks[-1].end == f"{path.stat().st_size}:3"  # the resume token counts every byte


def test_9_the_kaggle_reader_quarantines_an_oversized_line_too(tmp_path):
    path = tmp_path / "snapshot.json"
    big = b'{"id": "2501.00009", "abstract": "' + b"w" * (MAX_LINE_BYTES + 10) + b'"}\n'
    path.write_bytes(big + json.dumps({**GOOD, "categories": "cs.AI"}).encode() + b"\n")
    [chunk] = list(read_snapshot_chunks(path))
    assert [r["id"] for r in chunk.records] == [GOOD["id"]]
    [(lineno, text, reason)] = chunk.unreadable
    assert lineno == 1 and reason.startswith(f"line of {len(big):,} bytes is over")


# -- 13. a UTF-8 byte-order mark --------------------------------------------------------------------
def test_13_a_jsonl_file_with_a_byte_order_mark_keeps_its_first_record(tmp_path):
    path = tmp_path / "bom.jsonl"
    second = {**GOOD, "id": "2501.00002"}
    path.write_bytes(b"\xef\xbb\xbf" + (json.dumps(GOOD) + "\n" + json.dumps(second)).encode())
    records, broken = read_paper_file(path)
    assert broken == [] and [r["id"] for r in records] == [GOOD["id"], second["id"]]
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({**GOOD, "categories": "cs.AI"}).encode())
    [chunk] = list(read_snapshot_chunks(path))  # the Kaggle reader shares the line decoder
    assert chunk.unreadable == [] and [r["id"] for r in chunk.records] == [GOOD["id"]]


# -- 15. no markup from the data reaches a chart ------------------------------------------------------
PHISH = '<a href="https://evil.example/phish">click</a><img src=x onerror=alert(1)>'


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _strings(value)


def _shares(key: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"source": PHISH, "period_grain": "month", "period_start": date(2025, m, 1),
             key: s, "label": f"{PHISH} {s}", "papers": 5 + m, "denominator": 100,
             "share": (5 + m) / 100, "ci_low": 0.01, "ci_high": 0.2, "is_partial": False,
             "is_thin": False}
            for s in (1, 2) for m in (1, 2, 3)
        ]
    )  # fmt: skip


def test_15_theme_topic_and_source_names_reach_every_chart_as_text():
    shares = _shares("theme_id")
    corpus = shares.assign(papers_in_fit=shares["papers"])
    points = pd.DataFrame(
        {"paper_id": ["p1", "p2"], "x": [0.1, 0.2], "y": [0.3, 0.4], "topic_id": [1, -1],
         "label": [PHISH, PHISH], "title": [PHISH, PHISH]}
    )  # fmt: skip
    figures = {
        "share": share_figure(_shares("topic_id"), title=PHISH),
        "theme share": share_figure(shares, title=PHISH, key="theme_id"),
        "small multiples": small_multiples_figure(shares, key="theme_id"),
        "corpus": corpus_figure(corpus),
        "sparkline": sparkline_figure(_shares("topic_id").query("topic_id == 1")),
        "map": topic_map_figure(points),
    }
    for name, fig in figures.items():
        text = list(_strings(fig.to_plotly_json()))
        live = [s for s in text if "<a " in s or "<img" in s or 'evil.example/phish">' in s]
        assert not live, (name, live)
    legend = [t.name for t in figures["corpus"].data] + [t.name for t in figures["map"].data]
    assert escape(PHISH) in legend  # shown as written, not dropped


# -- 16. report pages come out in the same order on every run -----------------------------------------
def _report_rows(query: str, seed: int) -> tuple:
    """Run a report query on one set of rows, inserted in an order shuffled by ``seed``.

    Every topic has 3 member papers in each of its themes: ties everywhere. Four threads, as
    in a real run: with one, DuckDB happens to keep the order the rows came in.
    """
    rng = random.Random(seed)
    topics = rng.sample(range(1, 41), 40)
    papers = rng.sample([(f"p{t}-{k}", t) for t in topics for k in range(3)], 120)
    members = [(p, th) for p, t in papers for th in range(1, 6) if th == 1 or (t + th) % 2 == 0]
    con = duckdb.connect()
    con.execute("set threads = 4")
    con.execute("create table topics (topic_run_id int, topic_id int, label text, stable_id int,"
                " terms text, size int, npmi double, name text, area_id int)")  # fmt: skip
    con.execute("create table paper_topics (paper_id text, topic_run_id int, topic_id int)")
    con.execute("create table paper_themes (paper_id text, theme_id int, is_member bool,"
                " similarity double)")  # fmt: skip
    con.executemany("insert into topics values (1, ?, ?, ?, '', 30, 0.1, null, null)",
                    [[t, f"t{t}", t] for t in topics])  # fmt: skip
    con.executemany("insert into paper_topics values (?, 1, ?)", [list(r) for r in papers])
    con.executemany("insert into paper_themes values (?, ?, true, 0.5)",
                    [list(r) for r in rng.sample(members, len(members))])  # fmt: skip
    sql = (REPO / "sql" / "report" / f"{query}.sql").read_text()
    return tuple(con.execute(sql, {"topic_run_id": 1}).fetchall())


@pytest.mark.parametrize("query", ["theme_topics", "topic_table"])
def test_16_report_queries_order_their_ties(query):
    runs = {_report_rows(query, seed) for seed in range(8)}
    assert len(runs) == 1, f"{query}: {len(runs)} different orders of the same rows"


# -- also: `trends sql` reaches neither the file system nor the network -----------------------------
EXAMPLES = sorted((REPO / "sql" / "examples").glob("*.sql"))
SEALED = re.compile(r"disabled (by|through) configuration|configuration has been locked")


@pytest.fixture(scope="module")
def published_home(tmp_path_factory) -> Path:
    """A home whose published database holds a small fit, themes and marts."""
    from pipeline.store import open_writer
    from pipeline.trends import MartRules, build_marts

    home = tmp_path_factory.mktemp("published")
    with open_writer(home / "trends.duckdb") as store:
        seed_toy_fit(store, TOY_ROWS)
        seed_toy_themes(store, {"diffusion-models": {"p01", "p05", "p07"}})
        build_marts(store, rules=MartRules(thin_min_papers=0, thin_fraction=0.0))
    return home


def _sql(home: Path, query: str, *args: str):
    # `--` ends the options: a query that starts with a comment is not read as one
    return CliRunner().invoke(app, ["--home", str(home), "sql", *args, "--", query])


@pytest.mark.parametrize(
    "statement",
    [
        "copy papers to '{out}/papers.csv'",
        "copy (select 1) to '{out}/one.parquet' (format parquet)",
        "export database '{out}/dump'",
        "select * from read_text('/etc/passwd')",
        "select * from read_csv('/etc/passwd')",
        "select * from glob('/etc/*')",
        "install httpfs",
        "load httpfs",
        "attach '{out}/other.duckdb' as other",
        "set enable_external_access = true",
        "set lock_configuration = false",
    ],
)
def test_also_trends_sql_reaches_neither_files_nor_network(published_home, tmp_path, statement):
    result = _sql(published_home, statement.format(out=tmp_path))
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert SEALED.search(lines[0]), lines[0]
    assert "root:" not in result.output and list(tmp_path.iterdir()) == []


def test_also_trends_sql_still_answers_queries(published_home):
    result = _sql(published_home, "select count(*) as n from papers", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["n", str(len(TOY_ROWS))]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_also_every_documented_example_runs_through_trends_sql(published_home, example):
    result = _sql(published_home, example.read_text(encoding="utf-8"), "--format", "json")
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.stdout), list)


# -- also: a keyword is matched in linear time or refused --------------------------------------------
# Each would backtrack exponentially in Python's `re` on a long run of its letters; none is RE2.
BACKTRACKING = [r"(a+)+b(?=c)", r"(\w+)+\1", r"(?<!non-)(x+x+)+y", r"((ab)*|a)+(?!z)$"]


def _themes_file(tmp_path: Path, field: str, pattern: str) -> Path:
    path = tmp_path / "themes.toml"
    path.write_text(
        f'[[theme]]\nid = "evil"\nname = "Evil"\nseeds = ["s"]\n{field} = [\'ok\', \'{pattern}\']\n'
    )
    return path


@pytest.mark.parametrize("field", ["keywords", "require"])
@pytest.mark.parametrize("pattern", BACKTRACKING)
def test_also_a_keyword_re2_cannot_run_is_refused_when_themes_load(tmp_path, field, pattern):
    path = _themes_file(tmp_path, field, pattern)
    with pytest.raises(ThemeFileError) as caught:
        load_themes(path)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 600, message
    assert f"theme evil: {field}: keyword {pattern!r}" in message, message
    assert "RE2" in message, message


def test_also_a_nested_quantifier_re2_runs_is_kept_and_matched_in_linear_time(tmp_path):
    [theme] = load_themes(_themes_file(tmp_path, "keywords", "(a+)+$"))
    # 40 letters: Python's `re` would take about 2^40 steps here; RE2 takes 40
    hostile = "a" * 40 + "!"
    assert theme.evidence([hostile, "ok then", "aaaa"]).tolist() == [False, True, True]
