"""Normalisers and batch preparation the network and snapshot sources rely on."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pipeline.normalize import clean_text, title_key, version_history
from pipeline.records import Quarantined, prepare_batch

V1 = {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}
V2 = {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"}


def test_version_history_gives_first_submission_and_latest_version():
    assert version_history([V1, V2]) == (datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC), 2)
    assert version_history([V1]) == (datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC), 1)


@pytest.mark.parametrize(
    "bad",
    [
        [],
        "v1",
        None,
        [V1, "v2"],
        [{"version": "v1", "created": "yesterday"}],
        [V1, {"version": "two", "created": V2["created"]}],
    ],
)
def test_version_history_rejects_what_it_cannot_read(bad):
    with pytest.raises(ValueError):
        version_history(bad)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # a dash between words, wrapped after it (real arXiv abstracts)
        ("walks remove watermarks 26% of the time --\ndropping to 10%", "time -- dropping"),
        ("0.807 +/-\n0.035", "0.807 +/- 0.035"),
        # a suspended hyphen wrapped before its "and"/"or"
        ("the best zero-\nand one-shot results", "zero- and one-shot"),
        ("over-\nor under-confident", "over- or under-confident"),
        # compounds still join
        ("hit-\nand-run", "hit-and-run"),
        ("peer-\nto-peer", "peer-to-peer"),
        ("long-\nterm", "long-term"),
    ],
)
def test_clean_text_hyphen_breaks_in_wrapped_sources(raw, clean):
    assert clean in clean_text(raw)


def test_title_key_ignores_case_spacing_and_punctuation():
    assert title_key("Deep  Learning: A Survey") == title_key("deep learning a survey.")
    assert title_key("Deep Learning") != title_key("Deep Learning 2")
    assert len(title_key("x")) == 16


def kaggle_record(**overrides) -> dict:
    rec = {
        "id": "0704.0001",
        "title": "Calculation of prompt diphoton production cross sections",
        "abstract": "  A fully differential calculation in perturbative QCD is\npresented.\n",
        "categories": "hep-ph",
        "authors": "C. Balázs, E. L. Berger",
        "versions": [V1, V2],
        "update_date": "2008-11-13",
    }
    return {**rec, **overrides}


def test_versions_give_date_and_version_of_kaggle_records():
    batch = prepare_batch([kaggle_record()], "arxiv-kaggle", paper_source="arxiv")
    paper = batch.papers.iloc[0]
    assert paper["paper_id"] == "arxiv:0704.0001" and paper["source"] == "arxiv"
    assert (paper["published"], paper["date_precision"], paper["version"]) == (
        date(2007, 4, 2),
        "day",
        2,
    )
    assert paper["abstract"] == "A fully differential calculation in perturbative QCD is presented."
    assert batch.raw["source"].tolist() == ["arxiv-kaggle"]


def test_bad_version_history_is_quarantined():
    batch = prepare_batch([kaggle_record(versions=[{"version": "v1"}])], "arxiv-kaggle")
    assert batch.papers.empty
    assert batch.rejected[["reason"]].values.tolist() == [["bad_versions"]]


def test_unreadable_history_is_ignored_when_another_column_dates_the_record():
    rec = kaggle_record(versions="3 versions", published="2007-04-02", version="v3")
    batch = prepare_batch([rec], "file")
    paper = batch.papers.iloc[0]
    assert (paper["published"], paper["version"]) == (date(2007, 4, 2), 3)


def test_payloads_and_quarantined_records_are_kept_as_received():
    rec = kaggle_record()
    line = '{"id": "0704.0001", "as": "received"}'
    broken = Quarantined("0704.0002", "<record><header>", "malformed_xml", "no end tag")
    batch = prepare_batch([rec], "src", payloads=[line], quarantined=[broken])
    assert batch.received == 2 and batch.n_rejected == 1 and len(batch.papers) == 1
    assert set(batch.raw["payload"]) == {line, "<record><header>"}
    rejected = batch.rejected.iloc[0]
    assert (rejected["record_key"], rejected["reason"], rejected["detail"]) == (
        "0704.0002",
        "malformed_xml",
        "no end tag",
    )
    with pytest.raises(ValueError, match="payloads"):
        prepare_batch([rec], "src", payloads=[])


def test_same_paper_twice_in_a_page_keeps_the_latest_version():
    older = kaggle_record(versions=[V1], title="Old title of the paper")
    newer = kaggle_record()
    batch = prepare_batch([newer, older], "src")
    assert len(batch.papers) == 1 and batch.papers.iloc[0]["version"] == 2
    assert batch.rejected["reason"].tolist() == ["duplicate_in_batch"]
