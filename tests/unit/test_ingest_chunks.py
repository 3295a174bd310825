"""File ingest in bounded chunks: larger-than-a-chunk files, resume after a crash, samples.

Files are small slices of the real corpora; ``chunk_rows`` is set small so that each file spans
several chunks (pages), as the real 87k-paper file does at the default chunk size.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pytest

import pipeline.ingest as ingest_module
from pipeline.config import Settings
from pipeline.ingest import ingest_file
from pipeline.sources.files import read_paper_chunks
from pipeline.store import open_writer

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
DEFAULT_LIMIT = Settings.model_fields["duckdb_memory_limit"].default


@lru_cache(maxsize=1)
def _conference() -> pd.DataFrame:
    frame = pd.read_parquet(DATA / "conference_abstracts.parquet")
    # 12 papers of each of ten years, 1995..2025 spaced, so per-year samples have strata to keep
    years = [1995, 1999, 2003, 2007, 2011, 2015, 2018, 2021, 2023, 2025]
    parts = [frame[frame["year"] == y].sort_values("id").head(12) for y in years]
    return pd.concat(parts, ignore_index=True)


def conference_file(tmp_path: Path, fmt: str = "parquet") -> Path:
    frame = _conference().copy()
    if fmt == "parquet":
        path = tmp_path / "conference.parquet"
        frame.to_parquet(path, index=False)
    elif fmt == "csv":
        path = tmp_path / "conference.csv"
        frame.to_csv(path, index=False)
    else:
        path = tmp_path / "conference.jsonl"
        rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def arxiv_file(tmp_path: Path, n: int = 30) -> Path:
    path = tmp_path / "arxiv.parquet"
    pd.read_parquet(DATA / "arxiv_cs_ai_2025.parquet").head(n).to_parquet(path, index=False)
    return path


def table_counts(store) -> dict[str, int]:
    return {
        t: int(store.scalar(f"select count(*) from {t}"))
        for t in ("papers", "raw_records", "rejected_records", "ingest_runs", "ingest_state")
    }


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_file_of_many_chunks_loads_into_a_non_empty_store_at_the_default_limit(tmp_path, fmt):
    n = len(_conference())
    with open_writer(tmp_path / "w.duckdb", memory_limit=DEFAULT_LIMIT) as store:
        assert store.memory_limit_bytes() <= 256 * 1024**2
        first = ingest_file(store, arxiv_file(tmp_path), chunk_rows=1_000)
        assert (first.new, first.pages) == (30, 1)
        summary = ingest_file(store, conference_file(tmp_path, fmt), chunk_rows=25)
        assert summary.source == "conference"
        assert summary.pages == -(-n // 25)  # ceil: every chunk is one committed page
        assert (summary.received, summary.stored, summary.new, summary.rejected) == (n, n, n, 0)
        counts = table_counts(store)
        assert counts == {
            "papers": 30 + n,
            "raw_records": 30 + n,
            "rejected_records": 0,
            "ingest_runs": 2,
            "ingest_state": 0,  # the run completed: no resumption state is left
        }
        by_source = dict(store.query("select source, count(*) from papers group by 1").values)
        assert by_source == {"arxiv": 30, "conference": n}
        precision = store.query(
            "select distinct date_precision from papers where source = 'conference'"
        )
        assert list(precision["date_precision"]) == ["year"]
        again = ingest_file(store, conference_file(tmp_path, fmt), chunk_rows=7)
        assert (again.received, again.new, again.unchanged) == (n, 0, n)
        assert table_counts(store)["papers"] == 30 + n


def test_chunks_resume_after_the_position_of_a_chunk(tmp_path):
    path = conference_file(tmp_path, "jsonl")
    whole = [c.records for c in read_paper_chunks(path, chunk_rows=50)]
    assert [len(r) for r in whole] == [50, 50, 20]
    first = next(iter(read_paper_chunks(path, chunk_rows=50)))
    rest = [c.records for c in read_paper_chunks(path, start=first.end, chunk_rows=50)]
    assert rest == whole[1:]
    parquet = conference_file(tmp_path, "parquet")
    chunks = list(read_paper_chunks(parquet, chunk_rows=50))
    assert [c.end for c in chunks] == ["50", "100", "120"] and chunks[-1].last
    resumed = list(read_paper_chunks(parquet, start="100", chunk_rows=50))
    assert [r["id"] for r in resumed[0].records] == [r["id"] for r in chunks[-1].records]


def test_killed_file_ingest_reruns_to_the_end_without_duplicates(tmp_path, monkeypatch):
    path = conference_file(tmp_path)
    n = len(_conference())
    real = ingest_module.prepare_batch
    calls = {"n": 0}

    def crash_on_third_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise MemoryError("killed while preparing chunk 3")
        return real(*args, **kwargs)

    with open_writer(tmp_path / "w.duckdb", memory_limit=DEFAULT_LIMIT) as store:
        monkeypatch.setattr(ingest_module, "prepare_batch", crash_on_third_chunk)
        with pytest.raises(MemoryError):
            ingest_file(store, path, chunk_rows=20)
        monkeypatch.setattr(ingest_module, "prepare_batch", real)
        assert table_counts(store)["papers"] == 40  # two chunks committed
        run = store.query("select run_id, status from ingest_runs")
        assert list(run["status"]) == ["failed"]

        resumed = ingest_file(store, path, chunk_rows=20)
        assert resumed.resumed and resumed.run_id == run["run_id"].iloc[0]
        assert (resumed.received, resumed.new, resumed.unchanged) == (n, n, 0)
        assert resumed.pages == 6  # 2 before the crash + the 4 after it: none read twice
        counts = table_counts(store)
        assert counts == {
            "papers": n,
            "raw_records": n,
            "rejected_records": 0,
            "ingest_runs": 1,
            "ingest_state": 0,
        }
        assert list(store.query("select status from ingest_runs")["status"]) == ["complete"]


def test_a_changed_file_starts_over_instead_of_resuming(tmp_path, monkeypatch):
    path = conference_file(tmp_path)
    real = ingest_module.prepare_batch

    calls = {"n": 0}

    def crash_on_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    with open_writer(tmp_path / "w.duckdb") as store:
        monkeypatch.setattr(ingest_module, "prepare_batch", crash_on_second)
        with pytest.raises(KeyboardInterrupt):
            ingest_file(store, path, chunk_rows=50)
        monkeypatch.setattr(ingest_module, "prepare_batch", real)
        frame = _conference().head(60)
        frame.to_parquet(path, index=False)  # the file is replaced: its size changes
        summary = ingest_file(store, path, chunk_rows=50)
        assert not summary.resumed
        assert (summary.received, summary.new, summary.unchanged) == (60, 10, 50)
        statuses = store.query("select status from ingest_runs order by started_at")["status"]
        assert list(statuses) == ["failed", "complete"]


def test_sample_per_period_keeps_n_papers_of_each_year(tmp_path):
    path = conference_file(tmp_path)
    with open_writer(tmp_path / "a.duckdb") as store:
        summary = ingest_file(store, path, sample_per_period=5, chunk_rows=17)
        years = store.query(
            "select year(published) as y, count(*) as n from papers group by 1 order by 1"
        )
        assert list(years["n"]) == [5] * 10  # every year kept, 5 papers each
        assert (summary.received, summary.skipped) == (50, 70)
        assert "skipped 70 (outside the sample)" in summary.line()
        first = set(store.query("select paper_id from papers")["paper_id"])
    # deterministic and independent of the chunk size and row order
    shuffled = tmp_path / "shuffled.parquet"
    _conference().sample(frac=1, random_state=3).to_parquet(shuffled, index=False)
    with open_writer(tmp_path / "b.duckdb") as store:
        ingest_file(store, shuffled, source="conference", sample_per_period=5, chunk_rows=1000)
        assert set(store.query("select paper_id from papers")["paper_id"]) == first
    with open_writer(tmp_path / "c.duckdb") as store:
        ingest_file(store, path, sample_per_period=8)
        assert first < set(store.query("select paper_id from papers")["paper_id"])


def test_window_with_a_sample_per_period_counts_what_it_leaves_out(tmp_path):
    from datetime import date

    path = conference_file(tmp_path)
    with open_writer(tmp_path / "w.duckdb") as store:
        summary = ingest_file(
            store, path, sample_per_period=3, published_from=date(2015, 1, 1), chunk_rows=30
        )
        years = store.query("select distinct year(published) as y from papers order by 1")
        assert list(years["y"]) == [2015, 2018, 2021, 2023, 2025]
        assert (summary.received, summary.skipped) == (15, 105)
        assert "outside the date window or the sample" in summary.line()
