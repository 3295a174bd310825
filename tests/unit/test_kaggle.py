"""Kaggle snapshot streaming, on a Kaggle-format file written from the real cs.AI rows."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pytest
from loopback import ArxivApiServer, kaggle_object, parquet_rows

import pipeline.harvest as harvest
from pipeline.harvest import KAGGLE_SOURCE, ingest_arxiv, ingest_kaggle
from pipeline.ingest import ingest_file
from pipeline.sources.fetch import Fetcher, FetchPolicy
from pipeline.sources.kaggle import SnapshotFilter, SnapshotPosition, read_snapshot_chunks
from pipeline.store import open_writer

N = 300


@lru_cache(maxsize=1)
def _rows() -> tuple[dict, ...]:
    return tuple(parquet_rows(N))


def rows() -> list[dict]:
    return [dict(r) for r in _rows()]


def write_snapshot(path: Path, objects: list[dict], extra_lines: dict[int, bytes] = {}) -> Path:
    lines = [json.dumps(o).encode() for o in objects]
    for at, raw in sorted(extra_lines.items()):  # at = final 0-based line index
        lines.insert(at, raw)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def snapshot(tmp_path: Path) -> Path:
    return write_snapshot(
        tmp_path / "arxiv-metadata-oai-snapshot.json", [kaggle_object(r) for r in rows()]
    )


def ids(rows_: list[dict]) -> set[str]:
    return {f"arxiv:{r['arxiv_id']}" for r in rows_}


def paper_table(store) -> pd.DataFrame:
    frame = store.query(
        "select paper_id, title, abstract, published, date_precision, version, content_hash,"
        " categories, primary_category from papers order by paper_id"
    )
    frame["categories"] = frame["categories"].map(list)
    return frame


def test_kaggle_object_matches_the_snapshot_format():
    obj = kaggle_object(rows()[0])
    assert obj["versions"][0] == {"version": "v1", "created": "Sat, 10 May 2025 00:54:12 GMT"}
    assert obj["versions"][-1]["version"] == "v2"
    assert obj["categories"] == "cs.LG cs.AI cs.RO" and obj["update_date"] == "2025-05-17"


def test_chunks_are_bounded_and_positions_resume(tmp_path):
    path = snapshot(tmp_path)
    chunks = list(read_snapshot_chunks(path, chunk_lines=64))
    assert [len(c.records) for c in chunks] == [64, 64, 64, 64, 44]
    assert chunks[-1].last and not any(c.last for c in chunks[:-1])
    assert chunks[-1].end == SnapshotPosition(path.stat().st_size, N)
    # reading from a stored position gives exactly the rest
    rest = list(read_snapshot_chunks(path, start=chunks[1].end, chunk_lines=1000))
    assert [r["id"] for r in rest[0].records] == [r["arxiv_id"] for r in rows()[128:]]
    assert SnapshotPosition.parse(chunks[1].end.token()) == chunks[1].end
    # payloads are the lines as read
    first_line = path.read_bytes().split(b"\n")[0].decode()
    assert chunks[0].payloads[0] == first_line


def test_filter_by_category_and_update_date():
    cs_cv = {"categories": "cs.CV cs.AI", "update_date": "2025-06-01"}
    assert SnapshotFilter(("cs.CV",)).keeps(cs_cv)
    assert SnapshotFilter(("cs",)).keeps(cs_cv)  # an archive takes all its categories
    assert not SnapshotFilter(("cs.C",)).keeps(cs_cv)
    assert not SnapshotFilter(("math",)).keeps(cs_cv)
    assert SnapshotFilter(since=date(2025, 6, 1)).keeps(cs_cv)
    assert not SnapshotFilter(since=date(2025, 6, 2)).keeps(cs_cv)
    assert not SnapshotFilter(("cs.CV",)).keeps({"categories": None})


def test_ingest_stores_every_line_as_paper_or_quarantine(tmp_path):
    objects = [kaggle_object(r) for r in rows()]
    objects[3] = {**objects[3], "versions": []}  # unreadable history
    objects[4] = {**objects[4], "versions": [{"version": "v1", "created": "yesterday"}]}
    path = write_snapshot(
        tmp_path / "snap.json",
        objects,
        {10: b'{"id": "2505.99999", "title": "cut', 20: b"[1, 2]", 30: b'{"id": "\xff"}'},
    )
    with open_writer(tmp_path / "w.duckdb") as store:
        summary = ingest_kaggle(store, path, chunk_lines=50)
        assert summary.received == N + 3 == summary.stored + summary.rejected
        assert (summary.stored, summary.rejected, summary.pages) == (N - 2, 5, 7)
        reasons = store.query("select reason, count(*) n from rejected_records group by 1")
        assert dict(reasons.values) == {"bad_versions": 2, "unreadable": 3}
        keys = set(store.query("select record_key from rejected_records")["record_key"])
        assert {"line 11", "line 21", "line 31"} <= keys  # 1-based file lines
        assert store.scalar("select count(*) from raw_records") == N + 3
        raw = store.query(
            "select payload from raw_records where record_key = ?", [rows()[0]["arxiv_id"]]
        )
        assert json.loads(raw["payload"].iloc[0])["versions"] == objects[0]["versions"]
        assert set(store.query("select distinct source from papers")["source"]) == {"arxiv"}
        run = store.query("select * from ingest_runs").iloc[0]
        assert (run["source"], run["status"], run["n_received"]) == (
            KAGGLE_SOURCE,
            "complete",
            N + 3,
        )
        assert run["watermark"] == max(o["update_date"] for o in objects)

        paper = store.query("select * from papers where paper_id = 'arxiv:2505.06482'").iloc[0]
        assert pd.Timestamp(paper["published"]).date() == date(2025, 5, 10)  # versions[0].created
        assert paper["version"] == 2 and paper["date_precision"] == "day"
        assert paper["primary_category"] == "cs.LG"


def test_category_and_since_filters_and_watermark_rerun(tmp_path):
    path = snapshot(tmp_path)
    cv = [r for r in rows() if "cs.CV" in r["categories"]]
    with open_writer(tmp_path / "w.duckdb") as store:
        summary = ingest_kaggle(store, path, categories=["cs.CV"], chunk_lines=100)
        assert set(store.query("select paper_id from papers")["paper_id"]) == ids(cv)
        assert summary.received == len(cv) and summary.skipped == N - len(cv)
        assert "skipped" in summary.line() and "filtered out" in summary.line()
        watermark = max(r["updated_ts"][:10] for r in cv)
        assert summary.watermark == watermark

        # a rerun starts at the watermark day: only papers updated on or after it are read
        again = ingest_kaggle(store, path, categories=["cs.CV"], chunk_lines=100)
        on_mark = [r for r in cv if r["updated_ts"][:10] >= watermark]
        assert (again.received, again.new, again.unchanged) == (len(on_mark), 0, len(on_mark))

        # an explicit --since, and another category with a watermark of its own
        since = date(2025, 6, 1)
        lg = ingest_kaggle(store, path, categories=["cs.LG"], since=since)
        recent_lg = [
            r for r in rows() if "cs.LG" in r["categories"] and r["updated_ts"][:10] >= "2025-06-01"
        ]
        assert lg.received == len(recent_lg)
        scopes = dict(store.query("select scope, watermark from source_watermarks").values)
        assert set(scopes) == {"cat=cs.CV", "cat=cs.LG"}


def test_error_mid_stream_resumes_after_the_last_stored_chunk(tmp_path, monkeypatch):
    path = snapshot(tmp_path)
    with open_writer(tmp_path / "clean.duckdb") as store:
        clean = ingest_kaggle(store, path, chunk_lines=40)
        clean_table = paper_table(store)

    real_load = harvest._load_chunk
    calls = []

    def failing_load(run, chunk):
        calls.append(chunk.end)
        if len(calls) == 4:
            raise OSError("disk went away")
        real_load(run, chunk)

    with open_writer(tmp_path / "w.duckdb") as store:
        monkeypatch.setattr(harvest, "_load_chunk", failing_load)
        with pytest.raises(OSError):
            ingest_kaggle(store, path, chunk_lines=40)
        monkeypatch.setattr(harvest, "_load_chunk", real_load)
        assert store.scalar("select resume_token from ingest_state") == calls[2].token()
        assert store.scalar("select count(*) from papers") == 120
        resumed = ingest_kaggle(store, path, chunk_lines=40)
        assert resumed.resumed and resumed.run_id == store.scalar("select run_id from ingest_runs")
        assert (resumed.received, resumed.new, resumed.pages) == (clean.received, N, clean.pages)
        pd.testing.assert_frame_equal(paper_table(store), clean_table)

        # an edited file is a new stream position: no resume from a stale offset
        with open_writer(tmp_path / "x.duckdb") as other:
            monkeypatch.setattr(harvest, "_load_chunk", failing_load)
            calls.clear()
            with pytest.raises(OSError):
                ingest_kaggle(other, path, chunk_lines=40)
            monkeypatch.setattr(harvest, "_load_chunk", real_load)
            write_snapshot(path, [kaggle_object(r) for r in rows()[:10]])
            fresh = ingest_kaggle(other, path, chunk_lines=40)
            assert not fresh.resumed and fresh.received == 10


def test_missing_file_raises(tmp_path):
    with open_writer(tmp_path / "w.duckdb") as store, pytest.raises(FileNotFoundError):
        ingest_kaggle(store, tmp_path / "nope.json")


# --------------------------------------------------------------------------------------------
# one paper from every arXiv channel is one row
# --------------------------------------------------------------------------------------------


def _ambiguous(text: str) -> bool:
    """Text with a hyphen before a space: hard-wrapping there cannot be undone exactly."""
    return "- " in text


def test_file_api_and_kaggle_give_the_same_papers(tmp_path):
    parquet = tmp_path / "slice.parquet"
    pd.DataFrame(rows()).to_parquet(parquet)
    tables = {}
    for name in ("file", "api", "kaggle"):
        with open_writer(tmp_path / f"{name}.duckdb") as store:
            if name == "file":
                ingest_file(store, parquet)
            elif name == "api":
                with ArxivApiServer(rows()) as server:
                    http = Fetcher(FetchPolicy(pause=0, backoff=0))
                    # every row of the file is in the cs.AI listings
                    ingest_arxiv(
                        store,
                        f"{server.base}/api/query",
                        categories=["cs.AI"],
                        fetcher=http,
                        page_size=2000,
                    )
            else:
                ingest_kaggle(store, snapshot(tmp_path))
            tables[name] = paper_table(store)
    ref = tables["file"]
    assert len(ref) == N
    for name in ("api", "kaggle"):
        other = tables[name]
        assert other["paper_id"].tolist() == ref["paper_id"].tolist()
        for column in ("published", "date_precision", "version", "categories", "primary_category"):
            assert other[column].tolist() == ref[column].tolist(), (name, column)
        clear = ~(ref["title"].map(_ambiguous) | ref["abstract"].map(_ambiguous))
        assert clear.sum() > 0.8 * N
        # the same text, except where unwrapping a hyphen-space break is ambiguous (rare)
        differs = other["content_hash"] != ref["content_hash"]
        assert not (differs & clear).any() and differs.sum() <= 0.02 * N

    # all three channels into one store: one row per paper, nothing updated
    with open_writer(tmp_path / "all.duckdb") as store:
        ingest_file(store, parquet)
        summary = ingest_kaggle(store, snapshot(tmp_path))
        assert summary.new == 0 and summary.unchanged + summary.updated == N
        assert store.scalar("select count(*) from papers") == N
        # only papers whose wrapped text could not be unwrapped exactly count as edits
        differs = tables["kaggle"]["content_hash"] != ref["content_hash"]
        assert summary.updated == int(differs.sum()) <= int((~clear).sum())
