"""Unit tests for pipeline.records: validation, normalisation and in-batch dedupe of records."""

from __future__ import annotations

import copy
import json
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.normalize import clean_text, content_hash
from pipeline.records import (
    DEFAULT_ALIASES,
    MAX_ABSTRACT,
    MAX_TITLE,
    MIN_ABSTRACT,
    PAPER_COLUMNS,
    RecordError,
    decision_of,
    prepare_batch,
    prepare_record,
    resolve_columns,
)

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"

REASONS = {
    "missing_id",
    "missing_title",
    "missing_abstract",
    "non_text_title",
    "non_text_abstract",
    "too_long_title",
    "too_long_abstract",
    "too_short_abstract",
    "bad_date",
    "duplicate_in_batch",
    "unreadable",
}


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA:
        return None
    return value


@lru_cache(maxsize=1)
def _arxiv_frame() -> pd.DataFrame:
    return pd.read_parquet(DATA / "arxiv_cs_ai_2025.parquet").head(50)


@lru_cache(maxsize=1)
def _conference_frame() -> pd.DataFrame:
    df = pd.read_parquet(
        DATA / "conference_abstracts.parquet",
        columns=["id", "title", "abstract", "published", "date_precision", "year", "venue"],
    )
    return df.iloc[::3000].reset_index(drop=True)  # ~30 rows across venues and years


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{str(k): _plain(v) for k, v in rec.items()} for rec in frame.to_dict(orient="records")]


def arxiv_rows(n: int = 50) -> list[dict]:
    return copy.deepcopy(_records(_arxiv_frame()))[:n]


def conference_rows() -> list[dict]:
    return copy.deepcopy(_records(_conference_frame()))


def _check_balance(batch) -> None:
    assert batch.received == len(batch.papers) + batch.n_rejected


# --------------------------------------------------------------------------------------------
# real rows
# --------------------------------------------------------------------------------------------


def test_real_arxiv_rows_all_become_papers():
    rows = arxiv_rows()
    batch = prepare_batch(rows, "arxiv")
    assert batch.received == 50
    assert batch.n_rejected == 0 and batch.rejected.empty
    assert list(batch.papers.columns) == PAPER_COLUMNS
    assert len(batch.papers) == 50
    assert len(batch.raw) == 50
    _check_balance(batch)

    papers = batch.papers.set_index("paper_id")
    for row in rows:
        p = papers.loc[f"arxiv:{row['arxiv_id']}"]
        assert p["source"] == "arxiv"
        assert p["title"] == clean_text(row["title"])
        assert p["abstract"] == clean_text(row["abstract"])
        assert p["published"] == date.fromisoformat(row["published"])
        assert p["date_precision"] == "day"
        assert p["version"] == int(row["arxiv_version"].removeprefix("v"))
        assert p["categories"] == list(row["categories"])
        assert p["primary_category"] == row["primary_category"]
        assert p["authors"] == row["authors"]
        assert p["url"] == f"https://arxiv.org/abs/{row['arxiv_id']}"
        assert p["venue"] is None
        assert p["content_hash"] == content_hash(p["title"], p["abstract"])


def test_raw_rows_keep_lossless_payloads():
    rows = arxiv_rows(10)
    batch = prepare_batch(rows, "arxiv")
    assert list(batch.raw.columns) == ["source", "payload_hash", "record_key", "payload"]
    assert batch.raw["payload_hash"].is_unique
    assert list(batch.raw["record_key"]) == [r["id"] for r in rows]
    assert [json.loads(p) for p in batch.raw["payload"]] == rows


def test_conference_rows_get_year_precision():
    rows = conference_rows()
    assert len({r["venue"] for r in rows}) > 3  # a real spread of venues
    batch = prepare_batch(rows, "conferences")
    assert batch.n_rejected == 0
    assert len(batch.papers) == len(rows)
    papers = batch.papers.set_index("paper_id")
    for row in rows:
        p = papers.loc[row["id"]]  # non-arXiv ids are kept as they are
        assert p["date_precision"] == "year"
        assert p["published"] == date(row["year"], 1, 1)
        assert p["venue"] == row["venue"]
        assert p["categories"] is None
        assert p["url"] is None
        assert p["version"] == 1


@pytest.mark.parametrize(
    ("status", "decision"),
    [
        ("Poster", "accepted"),
        ("Oral", "accepted"),
        ("Spotlight", "accepted"),
        ("Findings", "accepted"),
        ("System Demonstrations", "accepted"),
        ("Reject", "rejected"),
        ("Desk Reject", "rejected"),
        ("Withdraw", "rejected"),
        ("withdrawn", "rejected"),
        ("Active", None),
        ("  ", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_decision_of_a_status(status, decision):
    assert decision_of(status) == decision


def test_real_conference_statuses_map_to_decisions():
    frame = pd.read_parquet(DATA / "conference_abstracts.parquet", columns=["id", "status"])
    picked = frame[frame["status"].isin(["Poster", "Reject", "Withdraw"])].groupby("status").head(2)
    rows = conference_rows()
    by_id = {r["id"]: r for r in rows}
    records = []
    for pid, status in picked.itertuples(index=False):
        record = dict(by_id.get(pid) or rows[0], id=pid, status=status)
        records.append(record)
    batch = prepare_batch(records, "conferences")
    got = dict(zip(batch.papers["paper_id"], batch.papers["decision"], strict=True))
    expected = {pid: decision_of(status) for pid, status in picked.itertuples(index=False)}
    assert got == expected
    assert set(got.values()) == {"accepted", "rejected"}
    # a `decision` column wins over `status`; arXiv rows have neither and no decision
    both = dict(records[0], decision="Reject", status="Poster")
    assert prepare_batch([both], "conferences").papers["decision"].tolist() == ["rejected"]
    arxiv = prepare_batch(arxiv_rows()[:3], "arxiv")
    assert arxiv.papers["decision"].isna().all()


def test_conference_rows_fall_back_to_year_column():
    rows = conference_rows()[:5]
    for r in rows:
        del r["published"], r["date_precision"]
    batch = prepare_batch(rows, "conferences")
    assert set(batch.papers["date_precision"]) == {"year"}
    assert list(batch.papers["published"]) == [date(r["year"], 1, 1) for r in rows]


def test_cid_debris_removed_from_real_nips_abstract():
    df = pd.read_parquet(
        DATA / "conference_abstracts.parquet", columns=["id", "title", "abstract", "venue"]
    )
    row = df[df["abstract"].str.contains("(cid:173)", regex=False)].iloc[0].to_dict()
    batch = prepare_batch([row], "conferences")
    assert len(batch.papers) == 1
    abstract = batch.papers["abstract"].iloc[0]
    assert "(cid:" not in abstract
    assert "\n" not in abstract and "  " not in abstract


# --------------------------------------------------------------------------------------------
# bad records: every one ends as a rejection with the right reason
# --------------------------------------------------------------------------------------------


def _bad(**changes) -> dict:
    rec = arxiv_rows(1)[0]
    for key, value in changes.items():
        if value is _DELETE:
            rec.pop(key, None)
        else:
            rec[key] = value
    return rec


_DELETE = object()

BAD_RECORDS = [
    ("missing_id", {"id": None}),
    ("missing_id", {"id": ""}),
    ("missing_id", {"id": "   "}),
    ("missing_id", {"id": _DELETE}),
    ("missing_title", {"title": None}),
    ("missing_title", {"title": ""}),
    ("missing_title", {"title": " \n\t "}),
    ("missing_title", {"title": float("nan")}),
    ("missing_title", {"title": "(cid:173)(cid:2)"}),
    ("missing_title", {"title": _DELETE}),
    ("missing_abstract", {"abstract": None}),
    ("missing_abstract", {"abstract": "\n\n"}),
    ("missing_abstract", {"abstract": float("nan")}),
    ("missing_abstract", {"abstract": _DELETE}),
    ("non_text_title", {"title": 42}),
    ("non_text_title", {"title": ["A", "list"]}),
    ("non_text_title", {"title": {"en": "A dict"}}),
    ("non_text_title", {"title": "NUL\x00 in the title"}),
    ("non_text_abstract", {"abstract": 3.25}),
    ("non_text_abstract", {"abstract": True}),
    ("non_text_abstract", {"abstract": "An abstract long enough to pass, but with a \x00 byte."}),
    ("too_long_title", {"title": "T" * (MAX_TITLE + 1)}),
    ("too_long_abstract", {"abstract": "word " * (MAX_ABSTRACT // 5 + 1)}),
    ("too_short_abstract", {"abstract": "Too short."}),
    ("too_short_abstract", {"abstract": "x" * (MIN_ABSTRACT - 1)}),
    ("too_short_abstract", {"abstract": "  short  \n  abstract (cid:173) " + " " * 40}),
    ("bad_date", {"published": "garbage"}),
    ("bad_date", {"published": "3000-01-01"}),
    ("bad_date", {"published": "2025-13-45"}),
    ("bad_date", {"published": "Mon, 2 Apr 2007 19:18:42 GMT"}),
]


@pytest.mark.parametrize(
    ("reason", "changes"), BAD_RECORDS, ids=[f"{r}-{i}" for i, (r, _) in enumerate(BAD_RECORDS)]
)
def test_bad_record_is_rejected_with_reason(reason, changes):
    bad = _bad(**changes)
    good = arxiv_rows(50)[10:15]
    batch = prepare_batch([*good, bad], "arxiv")
    _check_balance(batch)
    assert batch.received == 6
    assert len(batch.papers) == 5
    assert batch.n_rejected == 1
    assert list(batch.rejected["reason"]) == [reason]
    assert batch.rejected["detail"].iloc[0]
    # the bad payload is kept raw, and the rejection points at it
    assert batch.rejected["payload_hash"].iloc[0] in set(batch.raw["payload_hash"])
    assert len(batch.raw) == 6

    cols = resolve_columns(set().union(*(r.keys() for r in good)))
    with pytest.raises(RecordError) as err:
        prepare_record(bad, cols, "arxiv")
    assert err.value.reason == reason


@pytest.mark.parametrize(
    ("reason", "changes"),
    [
        ("non_text_title", {"title": "lone surrogate \ud800 in the title"}),
        (
            "non_text_abstract",
            {"abstract": "An abstract long enough, with a lone \udc00 surrogate."},
        ),
    ],
)
def test_lone_surrogate_is_rejected_not_a_crash(reason, changes):
    # json.loads('"\\ud800"') yields a lone surrogate, so a JSON Lines file can carry one.
    # prepare_record has a rule for it; the batch must end with that rejection, not an error.
    bad = _bad(**changes)
    batch = prepare_batch([*arxiv_rows(50)[10:12], bad], "arxiv")
    _check_balance(batch)
    assert len(batch.papers) == 2
    assert list(batch.rejected["reason"]) == [reason]


def test_limits_are_inclusive_and_apply_to_cleaned_text():
    ok = _bad(title="T" * MAX_TITLE, abstract="a" * MIN_ABSTRACT)
    padded = _bad(
        title=" ".join(["T" * 9] * 100) + "\n" * 500,  # 999 characters once unwrapped
        abstract="word\n  " * 3000 + "end",  # 15,003 characters once unwrapped
    )
    batch = prepare_batch([ok, {**padded, "id": "arXiv:2505.00001"}], "arxiv")
    assert batch.n_rejected == 0
    assert sorted(batch.papers["title"].str.len()) == [999, MAX_TITLE]


def test_whole_bad_corpus_balances():
    bad = [_bad(**changes) for _, changes in BAD_RECORDS]
    good = arxiv_rows(50)[20:40]
    unreadable = [(7, "{not json", "broken JSON"), (9, "[1, 2]", "JSON line is not an object")]
    batch = prepare_batch([*good, *bad], "arxiv", unreadable=unreadable)
    _check_balance(batch)
    assert batch.received == len(good) + len(bad) + len(unreadable)
    assert len(batch.papers) == len(good)
    assert batch.n_rejected == len(bad) + len(unreadable)
    expected = sorted([r for r, _ in BAD_RECORDS] + ["unreadable", "unreadable"])
    assert sorted(batch.rejected["reason"]) == expected


def test_unreadable_lines_are_quarantined():
    good = arxiv_rows(3)
    batch = prepare_batch(good, "arxiv", unreadable=[(4, "{broken", "broken JSON: x")])
    assert batch.received == 4
    assert len(batch.papers) == 3
    rej = batch.rejected.iloc[0]
    assert (rej["reason"], rej["record_key"], rej["detail"]) == (
        "unreadable",
        "line 4",
        "broken JSON: x",
    )
    assert "{broken" in set(batch.raw["payload"])


def test_empty_batch():
    batch = prepare_batch([], "arxiv")
    assert batch.received == 0 and batch.n_rejected == 0
    assert batch.papers.empty and list(batch.papers.columns) == PAPER_COLUMNS
    assert batch.raw.empty and batch.rejected.empty


# Pool for the property test: real good rows (two share a paper), bad rows of every kind.
def _pool() -> list[dict]:
    good = arxiv_rows(8)
    older = {**good[0], "arxiv_version": "v1", "title": "An older title of the first paper"}
    return [*good, older, *(_bad(**changes) for _, changes in BAD_RECORDS)]


_POOL = _pool()


@settings(max_examples=40, deadline=None)
@given(
    picks=st.lists(st.integers(0, len(_POOL) - 1), max_size=30),
    n_unreadable=st.integers(0, 3),
)
def test_every_record_is_a_paper_or_a_rejection(picks, n_unreadable):
    records = [copy.deepcopy(_POOL[i]) for i in picks]
    unreadable = [(i + 1, f"broken line {i}", "broken JSON") for i in range(n_unreadable)]
    batch = prepare_batch(records, "arxiv", unreadable=unreadable)
    assert batch.received == len(records) + n_unreadable
    _check_balance(batch)
    assert batch.papers["paper_id"].is_unique
    assert set(batch.rejected["reason"]) <= REASONS
    assert set(batch.rejected["payload_hash"]) <= set(batch.raw["payload_hash"])


# --------------------------------------------------------------------------------------------
# duplicates within a batch
# --------------------------------------------------------------------------------------------


def _versions():
    base = arxiv_rows(1)[0]  # arXiv:2505.06482
    v1 = {**base, "arxiv_version": "v1", "title": "Old title", "published": "2025-05-09"}
    v2 = {**base, "arxiv_version": "v2", "title": "Middle title", "published": "2025-05-11"}
    v3 = {**base, "arxiv_version": "v3", "title": "Newest title", "published": "2025-06-01"}
    return v1, v2, v3


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)])
def test_duplicates_keep_highest_version_text_and_earliest_date(order):
    versions = _versions()
    others = arxiv_rows(4)[1:]
    records = [*others, *(versions[i] for i in order)]
    batch = prepare_batch(records, "arxiv")
    _check_balance(batch)
    assert len(batch.papers) == 4
    assert batch.n_rejected == 2
    assert list(batch.rejected["reason"]) == ["duplicate_in_batch"] * 2
    assert set(batch.rejected["record_key"]) == {"arxiv:2505.06482"}
    p = batch.papers.set_index("paper_id").loc["arxiv:2505.06482"]
    assert p["title"] == "Newest title"
    assert p["version"] == 3
    assert p["published"] == date(2025, 5, 9)
    assert p["content_hash"] == content_hash("Newest title", p["abstract"])


def test_duplicates_versioned_only_in_the_id():
    base = arxiv_rows(1)[0]
    del base["arxiv_version"]
    recs = [
        {**base, "id": "https://arxiv.org/abs/2505.06482v4", "title": "Fourth", "published": None},
        {**base, "id": "arXiv:2505.06482v2", "title": "Second", "published": "2025-05-10"},
        {**base, "id": "2505.06482v3", "title": "Third", "published": "2025-05-20"},
    ]
    batch = prepare_batch(recs, "arxiv")
    assert len(batch.papers) == 1 and batch.n_rejected == 2
    p = batch.papers.iloc[0]
    assert (p["paper_id"], p["title"], p["version"]) == ("arxiv:2505.06482", "Fourth", 4)
    assert p["published"] == date(2025, 5, 10)  # the survivor had no date: earliest seen


def test_duplicate_with_same_version_keeps_later_record():
    base = arxiv_rows(1)[0]
    first = {**base, "title": "First sent"}
    second = {**base, "title": "Sent again, edited"}
    batch = prepare_batch([first, second], "arxiv")
    assert list(batch.papers["title"]) == ["Sent again, edited"]
    assert list(batch.rejected["reason"]) == ["duplicate_in_batch"]


def test_identical_records_count_once_as_paper_once_as_duplicate():
    row = arxiv_rows(1)[0]
    batch = prepare_batch([row, copy.deepcopy(row)], "arxiv")
    assert batch.received == 2
    assert len(batch.papers) == 1
    assert batch.n_rejected == 1
    assert len(batch.raw) == 1  # one distinct payload


def test_duplicates_of_different_papers_do_not_interfere():
    rows = arxiv_rows(6)
    batch = prepare_batch([*rows, *copy.deepcopy(rows[:3])], "arxiv")
    assert len(batch.papers) == 6 and batch.n_rejected == 3
    # output keeps the order of the surviving records
    assert list(batch.papers["paper_id"]) == [f"arxiv:{r['arxiv_id']}" for r in rows[3:] + rows[:3]]


# --------------------------------------------------------------------------------------------
# columns
# --------------------------------------------------------------------------------------------


def test_resolve_columns_aliases_in_order_of_preference():
    assert resolve_columns(["id", "arxiv_id", "doi"])["id"] == "id"
    assert resolve_columns(["doi", "arxiv_id"])["id"] == "arxiv_id"
    assert resolve_columns(["published", "year"])["published"] == "published"
    cols = resolve_columns(["paper_id", "summary", "date", "journal", "link", "arxiv_version"])
    assert cols == {
        "id": "paper_id",
        "abstract": "summary",
        "published": "date",
        "venue": "journal",
        "url": "link",
        "version": "arxiv_version",
    }
    assert resolve_columns([]) == {}


def test_resolve_columns_explicit_map_wins():
    cols = resolve_columns(["id", "abstract", "summary_text"], {"abstract": "summary_text"})
    assert cols["abstract"] == "summary_text"
    assert cols["id"] == "id"


def test_resolve_columns_rejects_unknown_target():
    with pytest.raises(ValueError, match="unknown target column 'abstrakt'"):
        resolve_columns(["id"], {"abstrakt": "summary_text"})
    with pytest.raises(ValueError):
        prepare_batch(arxiv_rows(2), "arxiv", {"summary": "abstract"})
    assert "summary" not in DEFAULT_ALIASES


def test_column_map_reads_renamed_abstract():
    rows = arxiv_rows(10)
    renamed = [
        {**{k: v for k, v in r.items() if k != "abstract"}, "summary_text": r["abstract"]}
        for r in rows
    ]

    without = prepare_batch(copy.deepcopy(renamed), "arxiv")
    assert len(without.papers) == 0
    assert set(without.rejected["reason"]) == {"missing_abstract"}
    _check_balance(without)

    mapped = prepare_batch(renamed, "arxiv", {"abstract": "summary_text"})
    assert mapped.n_rejected == 0
    assert list(mapped.papers["abstract"]) == [clean_text(r["abstract"]) for r in rows]


def test_column_map_for_id_and_date():
    rows = arxiv_rows(5)
    for r in rows:
        r["listing_date"] = "2025-07-01"
    batch = prepare_batch(rows, "arxiv", {"id": "arxiv_id", "published": "listing_date"})
    assert list(batch.papers["paper_id"]) == [f"arxiv:{r['arxiv_id']}" for r in rows]
    assert set(batch.papers["published"]) == {date(2025, 7, 1)}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("cs.LG cs.AI", ["cs.LG", "cs.AI"]),
        ("['cs.LG', 'cs.AI']", ["cs.LG", "cs.AI"]),
        ("cs.LG,cs.AI", ["cs.LG", "cs.AI"]),
        (["cs.CL"], ["cs.CL"]),
        ("", None),
        (None, None),
    ],
)
def test_categories_forms(raw, expected):
    row = {**arxiv_rows(1)[0], "categories": raw}
    assert prepare_batch([row], "arxiv").papers["categories"].iloc[0] == expected
