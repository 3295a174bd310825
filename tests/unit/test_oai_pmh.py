"""OAI-PMH harvesting on the five real arXiv ListRecords pages, served on 127.0.0.1."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest
from loopback import OAI_PAGES, OaiServer, expected_oai_ids, oai_page_bytes, oai_token

from pipeline.harvest import OAI_SOURCE, ingest_oai
from pipeline.sources.fetch import Fetcher, FetchPolicy, SourceError
from pipeline.sources.oai_pmh import (
    BadResumptionTokenError,
    IncompleteResponseError,
    OaiError,
    parse_list_records,
)
from pipeline.store import open_writer

PAPER_COLUMNS = (
    "paper_id, source, title, abstract, published, date_precision, categories,"
    " primary_category, authors, url, version, content_hash"
)


def fetcher(waits: list[float] | None = None, attempts: int = 4) -> Fetcher:
    sleep = waits.append if waits is not None else (lambda s: None)
    return Fetcher(FetchPolicy(pause=0, backoff=0, attempts=attempts), sleep=sleep)


def papers_table(store) -> pd.DataFrame:
    frame = store.query(f"select {PAPER_COLUMNS} from papers order by paper_id")
    frame["categories"] = frame["categories"].map(list)
    return frame


def stored_and_rejected_ids(store) -> tuple[set[str], set[str]]:
    stored = set(store.query("select paper_id from papers")["paper_id"])
    rejected = {
        f"arxiv:{k}" for k in store.query("select record_key from rejected_records")["record_key"]
    }
    return stored, rejected


@pytest.fixture(scope="module")
def clean_harvest(tmp_path_factory):
    """One clean harvest of all five pages: its papers table and run row."""
    db = tmp_path_factory.mktemp("clean") / "w.duckdb"
    with OaiServer() as server, open_writer(db) as store:
        summary = ingest_oai(store, f"{server.base}/oai2", fetcher=fetcher())
        return summary, papers_table(store)


# --------------------------------------------------------------------------------------------
# parsing real pages
# --------------------------------------------------------------------------------------------


def test_parse_real_page_keeps_every_record_with_its_xml_text():
    body = OAI_PAGES[0].read_bytes()
    page = parse_list_records(body)
    assert page.received == len(page.records) == 1000
    assert page.token == "2752941|1001"
    assert (page.complete_size, page.cursor) == (1405437, 0)
    first = page.records[0]
    assert first["id"] == "0704.0001"
    assert first["published"] == "2007-04-02"
    assert first["version"] == 2  # has <updated>: at least two versions
    assert first["categories"] == ["hep-ph"] and first["primary_category"] == "hep-ph"
    assert first["authors"].startswith("C. Balázs; E. L. Berger; P. M. Nadolsky")
    assert "Tevatron and\n  LHC energies" in first["title"]  # hard-wrapped, as received
    assert first["datestamp"] == "2008-11-26" and first["sets"] == ["physics:hep-ph"]
    text = body.decode("utf-8")
    assert all(p.startswith("<record>") and p in text for p in page.payloads)
    # a record without <updated> is a first version
    assert any(r["updated"] is None and r["version"] == 1 for r in page.records)


def test_malformed_record_is_quarantined_and_the_page_still_counts():
    body = OAI_PAGES[1].read_bytes()
    records = re.findall(rb"<record>.*?</record>", body, re.DOTALL)
    broken = records[5].replace(b"</title>", b"", 1)  # unclosed element: not well-formed
    body = body.replace(records[5], broken, 1)
    page = parse_list_records(body)
    assert len(page.records) == 999 and len(page.quarantined) == 1
    bad = page.quarantined[0]
    assert bad.reason == "malformed_xml" and "mismatched tag" in bad.detail
    assert bad.payload == broken.decode("utf-8")
    assert bad.record_key == re.search(rb"oai:arXiv.org:([^<]+)<", broken).group(1).decode()
    assert page.token == "2752941|2001"  # the envelope was salvaged from the bytes


def test_record_with_invalid_utf8_and_deleted_record_are_quarantined():
    body = OAI_PAGES[2].read_bytes()
    records = re.findall(rb"<record>.*?</record>", body, re.DOTALL)
    body = body.replace(records[0], records[0].replace(b"<title>", b"<title>\xff\xfe", 1), 1)
    deleted = (
        b'<record><header status="deleted"><identifier>oai:arXiv.org:0704.9999</identifier>'
        b"<datestamp>2018-06-01</datestamp><setSpec>cs</setSpec></header></record>"
    )
    body = body.replace(records[1], records[1] + b"\n" + deleted, 1)
    page = parse_list_records(body)
    reasons = {q.reason: q for q in page.quarantined}
    assert set(reasons) == {"malformed_xml", "deleted_record"}
    assert "invalid UTF-8" in reasons["malformed_xml"].detail
    assert reasons["deleted_record"].record_key == "0704.9999"
    assert reasons["deleted_record"].payload == deleted.decode()
    assert page.received == 1001
    assert page.max_datestamp == "2018-06-01"  # deleted records move the watermark too


def test_truncated_response_is_incomplete_not_an_empty_list():
    body = OAI_PAGES[0].read_bytes()
    with pytest.raises(IncompleteResponseError):
        parse_list_records(body[: len(body) // 2])


@pytest.mark.parametrize(
    ("code", "error"),
    [("badArgument", OaiError), ("badResumptionToken", BadResumptionTokenError)],
)
def test_protocol_errors_raise(code, error):
    body = (
        b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        b'<error code="' + code.encode() + b'">no</error></OAI-PMH>'
    )
    with pytest.raises(error, match=code):
        parse_list_records(body)


def test_no_records_match_is_an_empty_complete_list():
    body = (
        b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        b'<error code="noRecordsMatch">none</error></OAI-PMH>'
    )
    page = parse_list_records(body)
    assert page.received == 0 and page.token is None


# --------------------------------------------------------------------------------------------
# harvesting over HTTP
# --------------------------------------------------------------------------------------------


def test_harvest_stores_exactly_the_pages_records_and_honours_retry_after(tmp_path):
    waits: list[float] = []
    with OaiServer(fail_503_at=[3], retry_after="7") as server:
        with open_writer(tmp_path / "w.duckdb") as store:
            summary = ingest_oai(store, f"{server.base}/oai2", fetcher=fetcher(waits))
            assert waits == [7.0]  # the 503's Retry-After, once
            assert server.served == [0, 1, 2, 3, 4]
            assert server.requests[1] == {"verb": "ListRecords", "resumptionToken": "2752941|1001"}

            assert summary.received == 5000 == summary.stored + summary.rejected
            assert (summary.pages, summary.new, summary.rejected) == (5, 4999, 1)
            assert summary.watermark == "2018-05-01"
            stored, rejected = stored_and_rejected_ids(store)
            assert stored | rejected == expected_oai_ids() and not stored & rejected
            assert store.query("select reason from rejected_records")["reason"].tolist() == [
                "too_short_abstract"  # 0704.3345: "Without abstract."
            ]
            assert set(store.query("select distinct source from papers")["source"]) == {"arxiv"}
            raw = store.query("select source, payload from raw_records")
            assert len(raw) == 5000 and set(raw["source"]) == {OAI_SOURCE}
            assert raw["payload"].str.startswith("<record>").all()
            run = store.query("select * from ingest_runs").iloc[0]
            assert run["status"] == "complete" and run["watermark"] == "2018-05-01"
            assert (run["n_received"], run["n_new"], run["n_rejected"], run["n_pages"]) == (
                5000,
                4999,
                1,
                5,
            )
            assert store.scalar("select count(*) from ingest_state") == 0

            # titles and abstracts are unwrapped; LaTeX stays
            paper = store.query("select * from papers where paper_id = 'arxiv:0704.0001'").iloc[0]
            assert paper["title"] == (
                "Calculation of prompt diphoton production cross sections at Tevatron and "
                "LHC energies"
            )
            assert "\n" not in paper["abstract"] and paper["version"] == 2
            assert pd.Timestamp(paper["published"]).date() == date(2007, 4, 2)

            # a second harvest (from the watermark day) adds nothing
            before = papers_table(store)
            again = ingest_oai(store, f"{server.base}/oai2", fetcher=fetcher())
            assert server.requests[-5]["from"] == "2018-05-01"
            assert (again.new, again.updated) == (0, 0)
            assert again.received == again.stored + again.rejected
            pd.testing.assert_frame_equal(papers_table(store), before)


def test_full_reharvest_changes_nothing(tmp_path, clean_harvest):
    _, clean = clean_harvest
    with OaiServer() as server, open_writer(tmp_path / "w.duckdb") as store:
        ingest_oai(store, f"{server.base}/oai2", fetcher=fetcher())
        again = ingest_oai(store, f"{server.base}/oai2", fetcher=fetcher(), full=True)
        assert "from" not in server.requests[-5]
        assert (again.received, again.new, again.updated, again.unchanged) == (5000, 0, 0, 4999)
        pd.testing.assert_frame_equal(papers_table(store), clean)
        assert store.scalar("select count(*) from raw_records") == 5000


def test_set_filter_stores_only_that_sets_records(tmp_path):
    with OaiServer() as server, open_writer(tmp_path / "w.duckdb") as store:
        summary = ingest_oai(store, f"{server.base}/oai2", set_spec="cs", fetcher=fetcher())
        assert server.requests[0]["set"] == "cs"
        expected = expected_oai_ids("cs")
        assert len(expected) == 266
        stored, rejected = stored_and_rejected_ids(store)
        assert stored | rejected == expected
        assert summary.received == len(expected) == summary.stored + summary.rejected
        # the set has its own watermark
        scopes = store.query("select scope from source_watermarks")["scope"].tolist()
        assert scopes == [f"{server.base}/oai2 set=cs"]


def test_overlapping_date_ranges_upsert(tmp_path):
    with OaiServer() as server, open_writer(tmp_path / "w.duckdb") as store:
        url = f"{server.base}/oai2"
        first = ingest_oai(
            store, url, date_from=date(2007, 1, 1), date_until=date(2009, 12, 31), fetcher=fetcher()
        )
        n_first = store.scalar("select count(*) from papers")
        assert first.received == len(expected_oai_ids(None, "2007-01-01", "2009-12-31"))
        second = ingest_oai(
            store, url, date_from=date(2009, 1, 1), date_until=date(2018, 12, 31), fetcher=fetcher()
        )
        overlap = expected_oai_ids(None, "2009-01-01", "2009-12-31")
        assert second.unchanged == len(overlap) and second.updated == 0
        assert store.scalar("select count(*) from papers") == n_first + second.new
        stored, rejected = stored_and_rejected_ids(store)
        assert stored | rejected == expected_oai_ids()
        # an older range run afterwards does not move the watermark back
        ingest_oai(
            store, url, date_from=date(2007, 1, 1), date_until=date(2007, 12, 31), fetcher=fetcher()
        )
        assert store.scalar("select watermark from source_watermarks") == "2018-05-01"


def test_error_mid_harvest_keeps_pages_and_a_rerun_resumes(tmp_path, clean_harvest):
    clean_summary, clean = clean_harvest
    with open_writer(tmp_path / "w.duckdb") as store, OaiServer() as server:
        url = f"{server.base}/oai2"
        # page 3 answers 503 on every try: the harvest gives up after three stored pages
        server.fail_503_at = set(range(4, 100))
        with pytest.raises(SourceError, match="gave up"):
            ingest_oai(store, url, fetcher=fetcher(attempts=3))
        state = store.query("select * from ingest_state").iloc[0]
        assert state["resume_token"] == oai_token(oai_page_bytes()[2]) == "2752941|3001"
        assert state["pages"] == 3
        run = store.query("select * from ingest_runs").iloc[0]
        assert (run["status"], run["n_pages"], run["n_received"]) == ("failed", 3, 3000)
        assert store.scalar("select count(*) from papers") == 3000

        server.fail_503_at, server.served, n_before = set(), [], len(server.requests)
        summary = ingest_oai(store, url, fetcher=fetcher())
        assert server.requests[n_before] == {
            "verb": "ListRecords",
            "resumptionToken": "2752941|3001",
        }
        assert server.served == [3, 4]
        assert summary.resumed and summary.run_id == run["run_id"]
        assert (summary.received, summary.new, summary.pages) == (5000, 4999, 5)
        assert summary.received == clean_summary.received
        runs = store.query("select status, n_resumes from ingest_runs")
        assert runs.values.tolist() == [["complete", 1]]
        pd.testing.assert_frame_equal(papers_table(store), clean)


def test_expired_token_on_resume_restarts_the_list(tmp_path, clean_harvest):
    _, clean = clean_harvest
    with open_writer(tmp_path / "w.duckdb") as store, OaiServer() as server:
        url = f"{server.base}/oai2"
        server.fail_503_at = set(range(3, 100))
        with pytest.raises(SourceError):
            ingest_oai(store, url, fetcher=fetcher(attempts=2))
        assert store.scalar("select resume_token from ingest_state") == "2752941|2001"
        store.execute("update ingest_state set resume_token = 'expired|1'")
        server.fail_503_at, server.served = set(), []
        notes: list[str] = []
        summary = ingest_oai(store, url, fetcher=fetcher(), say=notes.append)
        assert server.served == [0, 1, 2, 3, 4]
        assert any("no longer knows token" in n for n in notes)
        assert summary.resumed
        # one run: pages 0-1 stored before the error, then the whole list again
        assert (summary.received, summary.new, summary.unchanged) == (7000, 4999, 2000)
        pd.testing.assert_frame_equal(papers_table(store), clean)


def test_other_arguments_start_a_new_run_and_fail_the_stale_one(tmp_path):
    with open_writer(tmp_path / "w.duckdb") as store, OaiServer() as server:
        url = f"{server.base}/oai2"
        server.fail_503_at = set(range(3, 100))
        with pytest.raises(SourceError):
            ingest_oai(store, url, fetcher=fetcher(attempts=2))
        server.fail_503_at = set()
        # the same stream asked for other dates: the stale state is replaced, not resumed
        fresh = ingest_oai(store, url, date_from=date(2008, 1, 1), fetcher=fetcher())
        assert not fresh.resumed
        assert server.requests[-5]["from"] == "2008-01-01"
        runs = store.query("select status from ingest_runs order by started_at")["status"]
        assert runs.tolist() == ["failed", "complete"]
        assert store.scalar("select count(*) from ingest_state") == 0
