"""Unit tests for pipeline.sources.files and pipeline.ingest on small real-data files."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.ingest import ingest_file
from pipeline.sources.files import SourceFormatError, detect_format, read_paper_file
from pipeline.store import open_writer

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
N = 40


@lru_cache(maxsize=1)
def _arxiv_frame() -> pd.DataFrame:
    return pd.read_parquet(DATA / "arxiv_cs_ai_2025.parquet").head(N)


def arxiv_frame() -> pd.DataFrame:
    return _arxiv_frame().copy()


def arxiv_records() -> list[dict]:
    out = []
    for rec in arxiv_frame().to_dict(orient="records"):
        out.append({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in rec.items()})
    return out


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_file(tmp_path: Path, fmt: str, name: str = "papers") -> Path:
    if fmt == "parquet":
        path = tmp_path / f"{name}.parquet"
        arxiv_frame().to_parquet(path, index=False)
    elif fmt == "csv":
        path = tmp_path / f"{name}.csv"
        arxiv_frame().to_csv(path, index=False)
    else:
        path = write_jsonl(tmp_path / f"{name}.jsonl", arxiv_records())
    return path


def counts(store) -> dict[str, int]:
    return {
        t: int(store.scalar(f"select count(*) from {t}"))
        for t in ("papers", "raw_records", "rejected_records", "ingest_runs")
    }


def expected_ids() -> set[str]:
    return {f"arxiv:{i}" for i in arxiv_frame()["arxiv_id"]}


# --------------------------------------------------------------------------------------------
# each format
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_ingest_each_format_then_reingest_is_unchanged(tmp_path, fmt):
    path = write_file(tmp_path, fmt)
    with open_writer(tmp_path / "w.duckdb") as store:
        first = ingest_file(store, path)
        assert first.source == "arxiv"
        assert (first.received, first.stored, first.new, first.updated, first.unchanged) == (
            N,
            N,
            N,
            0,
            0,
        )
        assert first.rejected == 0
        assert counts(store) == {
            "papers": N,
            "raw_records": N,
            "rejected_records": 0,
            "ingest_runs": 1,
        }
        assert set(store.query("select paper_id from papers")["paper_id"]) == expected_ids()

        second = ingest_file(store, path)
        assert (second.received, second.new, second.updated, second.unchanged) == (N, 0, 0, N)
        assert counts(store) == {
            "papers": N,
            "raw_records": N,
            "rejected_records": 0,
            "ingest_runs": 2,
        }
        runs = store.query("select * from ingest_runs order by started_at")
        assert list(runs["status"]) == ["complete", "complete"]
        assert list(runs["n_new"]) == [N, 0]
        assert list(runs["n_unchanged"]) == [0, N]
        assert runs["run_id"].is_unique
        # papers keep the run that first stored them
        first_runs = store.query("select distinct first_run_id from papers")["first_run_id"]
        assert list(first_runs) == [first.run_id]


def test_formats_give_the_same_papers(tmp_path):
    tables = {}
    for fmt in ("parquet", "jsonl", "csv"):
        with open_writer(tmp_path / f"{fmt}.duckdb") as store:
            ingest_file(store, write_file(tmp_path, fmt))
            frame = store.query(
                "select paper_id, title, abstract, published, date_precision, categories,"
                " primary_category, authors, url, version, content_hash from papers"
                " order by paper_id"
            )
            frame["categories"] = frame["categories"].map(list)
            tables[fmt] = frame
    pd.testing.assert_frame_equal(tables["parquet"], tables["jsonl"])
    pd.testing.assert_frame_equal(tables["parquet"], tables["csv"])
    row = tables["parquet"].set_index("paper_id").loc["arxiv:2505.06482"]
    assert row["categories"] == ["cs.LG", "cs.AI", "cs.RO"]
    assert row["version"] == 2
    assert pd.Timestamp(row["published"]).date() == date(2025, 5, 10)
    assert row["date_precision"] == "day"


def test_read_paper_file_gives_plain_python_values(tmp_path):
    records, broken = read_paper_file(write_file(tmp_path, "parquet"))
    assert broken == []
    assert len(records) == N
    first = records[0]
    assert first["categories"] == ["cs.LG", "cs.AI", "cs.RO"]
    assert isinstance(first["categories"], list)
    json.dumps(records)  # every value serialises


def test_csv_missing_cells_become_none(tmp_path):
    records, _ = read_paper_file(write_file(tmp_path, "csv"))
    comments = [r["comment"] for r in records]
    assert None in comments  # real rows with an empty comment
    assert all(c is None or isinstance(c, str) for c in comments)


def test_conference_file_gets_its_stem_as_source_and_year_precision(tmp_path):
    frame = pd.read_parquet(DATA / "conference_abstracts.parquet").iloc[::9000]
    path = tmp_path / "neurips_and_friends.parquet"
    frame.to_parquet(path, index=False)
    with open_writer(tmp_path / "w.duckdb") as store:
        summary = ingest_file(store, path)
        assert summary.source == "neurips_and_friends"
        assert summary.new == len(frame) and summary.rejected == 0
        stored = store.query("select paper_id, published, date_precision from papers")
    assert set(stored["date_precision"]) == {"year"}
    assert set(stored["paper_id"]) == set(frame["id"])


def test_column_map_through_ingest(tmp_path):
    path = tmp_path / "renamed.csv"
    arxiv_frame().rename(columns={"abstract": "summary_text"}).to_csv(path, index=False)
    with open_writer(tmp_path / "a.duckdb") as store:
        unmapped = ingest_file(store, path)
        assert unmapped.stored == 0 and unmapped.rejected == N
        reasons = store.query("select distinct reason from rejected_records")["reason"]
        assert list(reasons) == ["missing_abstract"]
    with open_writer(tmp_path / "b.duckdb") as store:
        mapped = ingest_file(store, path, column_map={"abstract": "summary_text"})
        assert mapped.new == N and mapped.rejected == 0


# --------------------------------------------------------------------------------------------
# broken JSON Lines
# --------------------------------------------------------------------------------------------


def test_jsonl_broken_lines_are_quarantined_and_good_lines_kept(tmp_path):
    good = arxiv_records()[:10]
    lines = [json.dumps(r).encode() for r in good[:4]]
    lines += [
        b'{"id": "arXiv:2505.99999", "title": "cut off',  # line 5: broken JSON
        b"[1, 2, 3]",  # line 6: not an object
        b'{"id": "arXiv:2505.99998", "title": "Bad \xff\xfe bytes"}',  # line 7: invalid UTF-8
        b"   ",  # line 8: blank, skipped
    ]
    lines += [json.dumps(r).encode() for r in good[4:]]
    path = tmp_path / "broken.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    records, broken = read_paper_file(path)
    assert len(records) == 10
    assert [b[0] for b in broken] == [5, 6, 7]
    assert "broken JSON" in broken[0][2]
    assert "not an object" in broken[1][2]
    assert "invalid UTF-8" in broken[2][2]

    with open_writer(tmp_path / "w.duckdb") as store:
        summary = ingest_file(store, path)
        assert (summary.received, summary.stored, summary.new, summary.rejected) == (13, 10, 10, 3)
        rejected = store.query("select record_key, reason from rejected_records order by 1")
        assert list(rejected["record_key"]) == ["line 5", "line 6", "line 7"]
        assert set(rejected["reason"]) == {"unreadable"}
        assert counts(store)["raw_records"] == 13
        assert counts(store)["papers"] == 10

        again = ingest_file(store, path)
        assert (again.new, again.unchanged, again.rejected) == (0, 10, 3)
        assert counts(store) == {
            "papers": 10,
            "raw_records": 13,
            "rejected_records": 3,
            "ingest_runs": 2,
        }


def test_jsonl_with_invalid_records_mixed_in(tmp_path):
    good = arxiv_records()[:5]
    bad = [
        {**good[0], "id": "arXiv:2505.00001", "abstract": "short"},
        {**good[0], "id": "arXiv:2505.00002", "published": "3000-01-01"},
        {**good[0], "id": None},
    ]
    path = write_jsonl(tmp_path / "mixed.jsonl", [*good, *bad])
    with open_writer(tmp_path / "w.duckdb") as store:
        summary = ingest_file(store, path)
        assert summary.received == summary.stored + summary.rejected == 8
        assert summary.stored == 5
        reasons = sorted(store.query("select reason from rejected_records")["reason"])
        assert reasons == ["bad_date", "missing_id", "too_short_abstract"]


def test_jsonl_escaped_lone_surrogate_is_rejected_not_a_crash(tmp_path):
    # "\ud800" is a valid JSON escape that decodes to a lone surrogate; the record must be
    # quarantined (prepare_record's non_text rule) and the rest of the file stored.
    good = arxiv_records()[:3]
    path = tmp_path / "surrogate.jsonl"
    text = "".join(json.dumps(r) + "\n" for r in good)
    bad = {**good[0], "id": "arXiv:2505.00003", "title": "PLACEHOLDER"}
    text += json.dumps(bad).replace("PLACEHOLDER", "Broken \\ud800 title") + "\n"
    path.write_text(text, encoding="utf-8")
    with open_writer(tmp_path / "w.duckdb") as store:
        summary = ingest_file(store, path)
        assert (summary.received, summary.stored, summary.rejected) == (4, 3, 1)
        assert list(store.query("select reason from rejected_records")["reason"]) == [
            "non_text_title"
        ]


# --------------------------------------------------------------------------------------------
# versions across runs
# --------------------------------------------------------------------------------------------


def test_newer_version_updates_text_and_keeps_earliest_date(tmp_path):
    base = arxiv_records()[0]  # arXiv:2505.06482
    v1 = {**base, "arxiv_version": "v1", "title": "First title", "published": "2025-05-10"}
    v2 = {**base, "arxiv_version": "v2", "title": "Revised title", "published": "2025-05-20"}
    others = arxiv_records()[1:5]

    def paper(store):
        return store.query("select * from papers where paper_id = 'arxiv:2505.06482'").iloc[0]

    with open_writer(tmp_path / "w.duckdb") as store:
        s1 = ingest_file(store, write_jsonl(tmp_path / "day1.jsonl", [v1, *others]))
        assert s1.new == 5
        old_hash = paper(store)["content_hash"]

        s2 = ingest_file(store, write_jsonl(tmp_path / "day2.jsonl", [v2, *others]))
        assert (s2.new, s2.updated, s2.unchanged) == (0, 1, 4)
        p = paper(store)
        assert p["title"] == "Revised title"
        assert p["version"] == 2
        assert pd.Timestamp(p["published"]).date() == date(2025, 5, 10)
        assert p["content_hash"] != old_hash
        assert p["first_run_id"] == s1.run_id and p["last_run_id"] == s2.run_id
        assert counts(store)["papers"] == 5

        # an older version arriving late with an earlier date moves the date, not the text
        late_v1 = {**v1, "published": "2025-05-08"}
        s3 = ingest_file(store, write_jsonl(tmp_path / "late.jsonl", [late_v1]))
        assert (s3.updated, s3.unchanged) == (1, 0)
        p = paper(store)
        assert (p["title"], p["version"]) == ("Revised title", 2)
        assert pd.Timestamp(p["published"]).date() == date(2025, 5, 8)

        # the same old version with a later date changes nothing
        s4 = ingest_file(store, write_jsonl(tmp_path / "stale.jsonl", [v1]))
        assert (s4.new, s4.updated, s4.unchanged) == (0, 0, 1)
        p = paper(store)
        assert (p["title"], p["version"]) == ("Revised title", 2)
        assert pd.Timestamp(p["published"]).date() == date(2025, 5, 8)


def test_edited_resend_of_same_version_updates_text(tmp_path):
    base = arxiv_records()[0]
    with open_writer(tmp_path / "w.duckdb") as store:
        ingest_file(store, write_jsonl(tmp_path / "a.jsonl", [base]))
        edited = {**base, "abstract": base["abstract"] + " Code is available."}
        summary = ingest_file(store, write_jsonl(tmp_path / "b.jsonl", [edited]))
        assert summary.updated == 1
        abstract = store.scalar("select abstract from papers")
        assert abstract.endswith("Code is available.")


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["papers.txt", "papers.xlsx", "papers", "papers.parquet.gz"])
def test_unknown_suffix_raises_source_format_error(tmp_path, name):
    path = tmp_path / name
    path.write_text('{"id": "x"}\n')
    with pytest.raises(SourceFormatError):
        detect_format(path)
    with open_writer(tmp_path / "w.duckdb") as store:
        with pytest.raises(SourceFormatError):
            ingest_file(store, path)
        assert counts(store)["ingest_runs"] == 0


@pytest.mark.parametrize(
    ("suffix", "fmt"),
    [
        (".parquet", "parquet"),
        (".PQ", "parquet"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "jsonl"),
        (".csv", "csv"),
        (".CSV", "csv"),
    ],
)
def test_detect_format_by_suffix(suffix, fmt):
    assert detect_format(Path(f"x{suffix}")) == fmt


def test_corrupt_parquet_raises_source_format_error(tmp_path):
    path = tmp_path / "corrupt.parquet"
    path.write_bytes(b"this is not parquet")
    with pytest.raises(SourceFormatError, match="cannot read as parquet"):
        read_paper_file(path)


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_paper_file(tmp_path / "nope.jsonl")


# --------------------------------------------------------------------------------------------
# sampling
# --------------------------------------------------------------------------------------------


def _sampled_ids(tmp_path: Path, path: Path, n: int, db: str) -> set[str]:
    with open_writer(tmp_path / f"{db}.duckdb") as store:
        summary = ingest_file(store, path, sample=n)
        assert summary.received == min(n, N)
        ids = set(store.query("select paper_id from papers")["paper_id"])
    assert len(ids) == min(n, N)
    return ids


def test_sample_is_deterministic_and_nested(tmp_path):
    path = write_file(tmp_path, "parquet")
    reversed_path = tmp_path / "reversed.parquet"
    arxiv_frame().iloc[::-1].to_parquet(reversed_path, index=False)

    ten = _sampled_ids(tmp_path, path, 10, "a")
    assert ten == _sampled_ids(tmp_path, path, 10, "b")  # same file, same sample
    assert ten == _sampled_ids(tmp_path, reversed_path, 10, "c")  # row order does not matter
    twenty = _sampled_ids(tmp_path, path, 20, "d")
    assert ten < twenty  # a larger sample is a superset
    assert twenty < expected_ids()
    assert _sampled_ids(tmp_path, path, 1000, "e") == expected_ids()
    # the sample is not just the head of the file
    assert ten != {f"arxiv:{i}" for i in arxiv_frame()["arxiv_id"].head(10)}
