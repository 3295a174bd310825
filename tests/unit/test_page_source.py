"""The pasted "trending papers" page: parsing the real page and ingesting it undated."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ingest import ingest_page
from pipeline.normalize import title_key
from pipeline.sources.files import SourceFormatError
from pipeline.sources.page import page_paper_id, parse_trending_page, read_trending_page
from pipeline.store import open_writer

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO.parent / "shared" / "data" / "trending_papers_page.txt"


def test_real_page_has_77_papers_after_the_chrome():
    page = read_trending_page(PAGE)
    assert len(page.records) == 77
    assert page.chrome == [
        "new",
        "Get trending papers in your email inbox!",
        "Subscribe",
        "byAK and the research community",
        "Mar 18",
    ]
    first = page.records[0]
    assert first["title"].startswith("Predictive Crypto-Asset Automated Market Making")
    assert first["abstract"].startswith("The study proposes a quote-driven predictive")
    assert first["published"] is None and first["date_precision"] == "unknown"
    assert all(r["id"].startswith("page:") for r in page.records)
    assert len({r["id"] for r in page.records}) == 77
    assert all(len(r["abstract"].split()) >= 100 for r in page.records)
    assert page.payloads[0] == f"{first['title']}\n\n{first['abstract']}"


def test_ids_are_stable_under_case_spacing_and_punctuation():
    a = page_paper_id("Attention Is All You Need")
    assert a == page_paper_id("  attention is all  you need. ")
    assert a == page_paper_id("Attention\n  Is All You Need!")
    assert a != page_paper_id("Attention Is Not All You Need")
    assert a == f"page:{title_key('ATTENTION IS ALL YOU NEED')}"


def test_stray_paragraphs_after_the_first_paper_are_kept_for_quarantine():
    abstract = " ".join(["word"] * 40) + "."
    text = (
        f"Subscribe\n\nTitle One\n\n{abstract}\n\nA title with no abstract\n\n"
        f"Title Two\n\n{abstract}\n\nLoad more"
    )
    page = parse_trending_page(text.replace("\n", "\r\n"))
    assert page.chrome == ["Subscribe"]
    titles = [r["title"] for r in page.records]
    assert titles == ["Title One", "A title with no abstract", "Title Two", "Load more"]
    assert [r["abstract"] is None for r in page.records] == [False, True, False, True]


def test_ingest_page_stores_undated_papers_and_reingest_is_unchanged(tmp_path):
    with open_writer(tmp_path / "w.duckdb") as store:
        first = ingest_page(store, PAGE)
        assert (first.received, first.stored, first.new, first.rejected) == (77, 77, 77, 0)
        assert first.skipped == 5 and "skipped 5 (page chrome)" in first.line()
        papers = store.query("select * from papers")
        assert set(papers["source"]) == {"page"}
        assert set(papers["date_precision"]) == {"unknown"}
        assert papers["published"].isna().all()
        assert papers["url"].isna().all()
        raw = store.query("select payload from raw_records")["payload"]
        assert len(raw) == 77 and raw.str.contains("\n\n").all()
        again = ingest_page(store, PAGE)
        assert (again.new, again.updated, again.unchanged) == (0, 0, 77)
        assert store.scalar("select count(*) from papers") == 77


def test_ingest_page_quarantines_a_title_without_abstract(tmp_path):
    path = tmp_path / "page.txt"
    abstract = " ".join(["token"] * 40) + "."
    path.write_text(f"Title One\n\n{abstract}\n\nOrphan title\n", encoding="utf-8")
    with open_writer(tmp_path / "w.duckdb") as store:
        summary = ingest_page(store, path, source="pasted")
        assert (summary.received, summary.stored, summary.rejected) == (2, 1, 1)
        assert store.scalar("select reason from rejected_records") == "missing_abstract"
        assert store.scalar("select source from papers") == "pasted"


def test_page_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "page.txt"
    path.write_bytes(b"Title\n\n\xff\xfe abstract")
    with pytest.raises(SourceFormatError, match="not UTF-8"):
        read_trending_page(path)
