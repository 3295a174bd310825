"""arXiv API client on Atom feeds rendered from the real cs.AI rows, served on 127.0.0.1."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import pandas as pd
import pytest
from loopback import ArxivApiServer, atom_entry, atom_feed, parquet_rows

from pipeline.harvest import API_SOURCE, ingest_arxiv
from pipeline.sources.arxiv_api import (
    ArxivApiError,
    ArxivQuery,
    IncompleteFeedError,
    fetch_arxiv_listing,
    parse_feed,
)
from pipeline.sources.fetch import Fetcher, FetchPolicy, SourceError
from pipeline.store import open_writer

MAY_10, MAY_14 = date(2025, 5, 10), date(2025, 5, 14)


@lru_cache(maxsize=1)
def _rows() -> tuple[dict, ...]:
    """The real rows first submitted 2025-05-10 .. 05-16 (cs.AI listings, cross-lists in)."""
    return tuple(r for r in parquet_rows() if r["published"] <= "2025-05-16")


def rows() -> list[dict]:
    return [dict(r) for r in _rows()]


def expected(category: str = "cs.AI", lo: str = "2025-05-10", hi: str = "2025-05-14") -> set:
    return {
        f"arxiv:{r['arxiv_id']}"
        for r in _rows()
        if category in r["categories"] and lo <= r["published"] <= hi
    }


def fetcher(waits: list[float] | None = None, **policy) -> Fetcher:
    sleep = waits.append if waits is not None else (lambda s: None)
    return Fetcher(FetchPolicy(**{"pause": 0, "backoff": 0, **policy}), sleep=sleep)


def stored_ids(store) -> set[str]:
    return set(store.query("select paper_id from papers")["paper_id"])


# --------------------------------------------------------------------------------------------
# queries and feeds
# --------------------------------------------------------------------------------------------


def test_search_query_names_categories_and_submission_dates():
    q = ArxivQuery(("cs.AI",), MAY_10, MAY_14)
    assert q.search_query() == "cat:cs.AI AND submittedDate:[202505100000 TO 202505142359]"
    both = ArxivQuery(("cs.AI", "cs.LG"))
    assert both.search_query() == "(cat:cs.AI OR cat:cs.LG)"
    open_end = ArxivQuery(("hep-th",), date_from=MAY_10).search_query(today=date(2025, 6, 1))
    assert open_end.endswith("submittedDate:[202505100000 TO 202506022359]")


@pytest.mark.parametrize(
    "bad",
    [
        {"categories": ()},
        {"categories": ("cs.AI OR all:x",)},
        {"categories": ("cs.AI",), "date_from": MAY_14, "date_to": MAY_10},
    ],
)
def test_bad_queries_are_refused(bad):
    with pytest.raises(ValueError):
        ArxivQuery(**bad)


def test_parse_feed_reads_entries_as_the_api_writes_them():
    row = rows()[0]  # arXiv:2505.06482v2, cs.LG primary, cross-listed in cs.AI
    page = parse_feed(atom_feed([row], total=42, start=0, per_page=10, query="cat:cs.AI"))
    assert page.total == 42 and page.received == 1
    rec = page.records[0]
    assert rec["id"] == "http://arxiv.org/abs/2505.06482v2"
    assert rec["published"] == "2025-05-10T00:54:12Z"
    assert rec["categories"] == ["cs.LG", "cs.AI", "cs.RO"]
    assert rec["primary_category"] == "cs.LG"
    assert rec["authors"] == row["authors"]
    assert "\n" in rec["abstract"]  # hard-wrapped as received; records.py unwraps
    assert page.payloads[0].startswith("<entry>") and "2505.06482v2" in page.payloads[0]


def test_parse_feed_with_namespaces_declared_on_each_element():
    # The API's older style declares the opensearch and arxiv namespaces on each element.
    row = next(r for r in rows() if r["comment"])
    arxiv_ns = 'xmlns:arxiv="http://arxiv.org/schemas/atom"'
    entry = (
        atom_entry(row)
        .replace("<arxiv:primary_category ", f"<arxiv:primary_category {arxiv_ns} ")
        .replace("<arxiv:comment>", f"<arxiv:comment {arxiv_ns}>")
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        '<opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">7'
        f"</opensearch:totalResults>\n{entry}</feed>\n"
    )
    page = parse_feed(body.encode())
    assert page.total == 7 and not page.quarantined
    rec = page.records[0]
    assert rec["primary_category"] == row["primary_category"]
    assert rec["comment"] == row["comment"]


def test_malformed_entry_is_quarantined_and_the_rest_kept():
    a, b, c = rows()[:3]
    body = atom_feed([a, b, c], total=3, start=0, per_page=3, query="q").decode()
    body = body.replace("<summary>", "<summary><b>", 1)  # first entry no longer well-formed
    page = parse_feed(body.encode())
    assert len(page.records) == 2 and len(page.quarantined) == 1
    bad = page.quarantined[0]
    assert bad.reason == "malformed_xml" and bad.record_key.endswith(a["arxiv_id"] + "v2")
    assert page.total == 3


def test_error_feed_raises_and_truncated_feed_is_incomplete():
    error = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry>'
        b"<id>http://arxiv.org/api/errors#incorrect_id_format_for_1234</id><title>Error</title>"
        b"<summary>incorrect id format for 1234</summary></entry></feed>"
    )
    with pytest.raises(ArxivApiError, match="incorrect id format"):
        parse_feed(error)
    body = atom_feed(rows()[:5], total=5, start=0, per_page=5, query="q")
    with pytest.raises(IncompleteFeedError):
        parse_feed(body[: len(body) // 2])


def test_page_size_over_the_api_limit_is_refused():
    with pytest.raises(ValueError, match="2000"):
        next(
            fetch_arxiv_listing(
                fetcher(), "http://127.0.0.1:9/", ArxivQuery(("cs.AI",)), page_size=2001
            )
        )


def test_pause_between_requests_is_kept():
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with ArxivApiServer(rows()) as server:
        http = Fetcher(FetchPolicy(pause=3.0), sleep=sleep, clock=lambda: now[0])
        pages = list(
            fetch_arxiv_listing(
                http,
                f"{server.base}/api/query",
                ArxivQuery(("cs.AI",), MAY_10, MAY_10),
                page_size=15,
            )
        )
    assert len(pages) >= 3
    assert sleeps == [3.0] * (len(pages) - 1)  # none before the first request


# --------------------------------------------------------------------------------------------
# ingest over HTTP
# --------------------------------------------------------------------------------------------


def test_ingest_pages_through_a_500_and_a_short_page(tmp_path):
    waits: list[float] = []
    with ArxivApiServer(rows(), fail_500_at=[2], short_at=[3]) as server:
        with open_writer(tmp_path / "w.duckdb") as store:
            summary = ingest_arxiv(
                store,
                f"{server.base}/api/query",
                categories=["cs.AI"],
                date_from=MAY_10,
                date_to=MAY_14,
                page_size=100,
                fetcher=fetcher(waits),
            )
            want = expected()
            assert len(want) > 400
            assert stored_ids(store) == want
            assert summary.received == len(want) == summary.stored + summary.rejected
            assert (summary.new, summary.rejected) == (len(want), 0)
            assert waits == [0.0]  # one retry, after the 500
            starts = [int(q["start"]) for q in server.requests]
            # 0, 100 (500), 100 (short: 50 entries), 150, 250, ...
            assert starts[:5] == [0, 100, 100, 150, 250]
            assert {q["max_results"] for q in server.requests} == {"100"}
            assert all(q["sortBy"] == "submittedDate" for q in server.requests)
            assert summary.pages == len(server.requests) - 1
            assert summary.watermark == "2025-05-14"
            run = store.query("select * from ingest_runs").iloc[0]
            assert run["source"] == API_SOURCE and run["status"] == "complete"
            assert run["n_received"] == len(want) and run["watermark"] == "2025-05-14"
            raw = store.query("select payload from raw_records")["payload"]
            assert len(raw) == len(want) and raw.str.startswith("<entry>").all()
            paper = store.query("select * from papers where paper_id = 'arxiv:2505.06482'").iloc[0]
            assert paper["source"] == "arxiv" and paper["version"] == 2
            assert pd.Timestamp(paper["published"]).date() == MAY_10
            assert paper["url"] == "https://arxiv.org/abs/2505.06482"


def test_rerun_adds_nothing_and_defaults_to_the_watermark(tmp_path):
    with ArxivApiServer(rows()) as server, open_writer(tmp_path / "w.duckdb") as store:
        url = f"{server.base}/api/query"
        first = ingest_arxiv(
            store,
            url,
            categories=["cs.AI"],
            date_from=MAY_10,
            date_to=MAY_14,
            page_size=200,
            fetcher=fetcher(),
        )
        same = ingest_arxiv(
            store,
            url,
            categories=["cs.AI"],
            date_from=MAY_10,
            date_to=MAY_14,
            page_size=200,
            fetcher=fetcher(),
        )
        assert (same.received, same.new, same.updated, same.unchanged) == (
            first.received,
            0,
            0,
            first.received,
        )
        # no --from: start at the watermark day (05-14), which is fetched again
        n = len(server.requests)
        later = ingest_arxiv(store, url, categories=["cs.AI"], page_size=500, fetcher=fetcher())
        assert "submittedDate:[202505140000 TO" in server.requests[n]["search_query"]
        on_14 = expected(hi="2025-05-14", lo="2025-05-14")
        after = expected(lo="2025-05-15", hi="2025-05-16")
        assert later.unchanged == len(on_14) and later.new == len(after)
        assert stored_ids(store) == expected(hi="2025-05-16")
        assert store.scalar("select watermark from source_watermarks") == "2025-05-16"
        # an overlapping range upserts: nothing new, nothing lost
        overlap = ingest_arxiv(
            store,
            url,
            categories=["cs.AI"],
            date_from=date(2025, 5, 12),
            date_to=date(2025, 5, 15),
            page_size=500,
            fetcher=fetcher(),
        )
        assert overlap.new == 0 and overlap.unchanged == overlap.received
        assert store.scalar("select watermark from source_watermarks") == "2025-05-16"


def test_empty_page_is_retried_then_the_listing_goes_on(tmp_path):
    with (
        ArxivApiServer(rows(), empty_at=[2, 3]) as server,
        open_writer(tmp_path / "w.duckdb") as store,
    ):
        summary = ingest_arxiv(
            store,
            f"{server.base}/api/query",
            categories=["cs.AI"],
            date_from=MAY_10,
            date_to=MAY_14,
            page_size=150,
            fetcher=fetcher(),
        )
        assert [q["start"] for q in server.requests[:4]] == ["0", "150", "150", "150"]
        assert stored_ids(store) == expected() and summary.received == len(expected())


def test_persistent_empty_pages_stop_resumably(tmp_path):
    with ArxivApiServer(rows(), empty_at=range(3, 20)) as server:
        with open_writer(tmp_path / "w.duckdb") as store:
            url = f"{server.base}/api/query"
            kwargs = {"categories": ["cs.AI"], "date_from": MAY_10, "date_to": MAY_14}
            with pytest.raises(SourceError, match="rerun to resume"):
                ingest_arxiv(store, url, page_size=100, fetcher=fetcher(), **kwargs)
            assert store.scalar("select resume_token from ingest_state") == "200"
            assert len(stored_ids(store)) == 200
            server.empty_at = set()
            n = len(server.requests)
            summary = ingest_arxiv(store, url, page_size=100, fetcher=fetcher(), **kwargs)
            assert server.requests[n]["start"] == "200"
            assert summary.resumed and summary.received == len(expected())
            assert stored_ids(store) == expected()


def test_total_growing_while_paging_loses_nothing(tmp_path):
    base = [r for r in rows() if r["published"] <= "2025-05-13"]
    late = [r for r in rows() if r["published"] == "2025-05-14"]
    with ArxivApiServer(base, grow_at=2, extra=late) as server:
        with open_writer(tmp_path / "w.duckdb") as store:
            summary = ingest_arxiv(
                store,
                f"{server.base}/api/query",
                categories=["cs.AI"],
                date_from=MAY_10,
                date_to=MAY_14,
                page_size=100,
                fetcher=fetcher(),
            )
            assert len(server.requests) > 3  # the total rose after the second request
            assert stored_ids(store) == expected()
            assert summary.received == summary.stored + summary.rejected


def test_feed_without_a_total_pages_until_a_short_page(tmp_path):
    with ArxivApiServer(rows(), omit_total=True) as server:
        with open_writer(tmp_path / "w.duckdb") as store:
            summary = ingest_arxiv(
                store,
                f"{server.base}/api/query",
                categories=["cs.AI"],
                date_from=MAY_10,
                date_to=MAY_14,
                page_size=100,
                fetcher=fetcher(),
            )
            assert stored_ids(store) == expected() and summary.received == len(expected())
            assert len(server.requests) == len(expected()) // 100 + 1


def test_http_errors_that_retrying_cannot_fix(tmp_path):
    with ArxivApiServer(rows(), fail_500_at=range(1, 10)) as server:
        with open_writer(tmp_path / "w.duckdb") as store:
            with pytest.raises(SourceError, match=r"gave up .* after 3 attempts"):
                ingest_arxiv(
                    store,
                    f"{server.base}/api/query",
                    categories=["cs.AI"],
                    fetcher=fetcher(attempts=3),
                )
            assert store.query("select status from ingest_runs")["status"].tolist() == ["failed"]
            with pytest.raises(SourceError, match="HTTP 404"):
                ingest_arxiv(
                    store, f"{server.base}/nowhere", categories=["cs.AI"], fetcher=fetcher()
                )
