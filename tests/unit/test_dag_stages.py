"""The stage functions behind the DAGs: run parameters, date-window ingest, sharded embedding."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline import embed as embed_module
from pipeline import runner
from pipeline.config import EmbeddingBackend, load_settings
from pipeline.embed import (
    embed_shard,
    load_embedding_shards,
    model_name,
    plan_embedding_shards,
    shard_output_path,
)
from pipeline.runner import (
    NothingToDoError,
    ParamsError,
    ingest_request,
    ingest_request_stage,
    load_embed_shards_stage,
    parse_param_date,
    plan_embed_stage,
    run_settings,
    shard_root,
    topics_when_ready_stage,
    wants_full_refit,
)

MODEL = model_name(EmbeddingBackend.minilm)
DAYS = ["2025-06-01", "2025-06-01", "2025-06-02", "2025-06-03", "2025-06-03", "2025-06-30"]


def paper(i: int, published: str | None) -> dict:
    rec = {
        "id": f"arXiv:2506.{i:05d}v1",
        "title": f"Paper number {i} on topic {i % 3}",
        "abstract": f"An abstract long enough to be stored, about subject {i} and topic {i % 3}.",
    }
    if published is not None:
        rec["published"] = published
    return rec


@pytest.fixture
def papers_file(tmp_path) -> Path:
    records = [paper(i, day) for i, day in enumerate(DAYS)]
    records += [paper(90, None), paper(91, "not a date")]
    path = tmp_path / "data" / "papers.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def settings(tmp_path, papers_file):
    return load_settings(home=tmp_path / "home", data_dir=papers_file.parent)


# -- parameters -----------------------------------------------------------------------------------
def test_manual_run_without_dates_ingests_every_date(settings, papers_file):
    req = ingest_request(settings, {"input_path": str(papers_file)}, run_type="manual")
    assert req.inputs == [papers_file]
    assert (req.published_from, req.published_to, req.sample) == (None, None, None)


@pytest.mark.parametrize("run_type", ["scheduled", "backfill"])
def test_scheduled_and_backfill_runs_ingest_their_data_interval(settings, run_type, papers_file):
    papers_file.rename(settings.default_corpus())
    req = ingest_request(
        settings,
        {},
        run_type=run_type,
        interval_start=datetime(2025, 6, 3, tzinfo=UTC),
        interval_end=datetime(2025, 6, 4, tzinfo=UTC),
    )
    assert (req.published_from, req.published_to) == (date(2025, 6, 3), date(2025, 6, 3))
    assert req.inputs == [settings.default_corpus()]  # an empty input_path: the corpus


def test_explicit_dates_win_over_the_interval(settings, papers_file):
    req = ingest_request(
        settings,
        {"input_path": "papers.jsonl", "date_from": "2025-06-01", "date_to": None},
        run_type="scheduled",
        interval_start=datetime(2025, 6, 3, tzinfo=UTC),
        interval_end=datetime(2025, 6, 4, tzinfo=UTC),
    )
    assert (req.published_from, req.published_to) == (date(2025, 6, 1), None)


def test_run_type_enum_values_are_understood(settings):
    class RunType:  # Airflow passes DagRunType, a str enum
        value = "scheduled"

    req = ingest_request(
        settings,
        {"input_path": "papers.jsonl"},
        run_type=RunType(),
        interval_start=datetime(2025, 6, 3, tzinfo=UTC),
        interval_end=datetime(2025, 6, 4, tzinfo=UTC),
    )
    assert req.published_from == date(2025, 6, 3)


def test_a_missing_default_corpus_is_named(settings):
    with pytest.raises(ParamsError, match=r"input_path: no such file .*arxiv_cs_ai_2025\.parquet"):
        ingest_request(settings, {"input_path": ""})


def test_relative_input_path_is_read_from_the_data_dir(settings, papers_file):
    req = ingest_request(settings, {"input_path": "papers.jsonl"})
    assert req.inputs == [papers_file]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date_from": "2025-07-01", "date_to": "2025-06-01"}, "date_from 2025-07-01 is after"),
        ({"date_to": "June"}, r"date_to: 'June' is not a date; use YYYY-MM-DD"),
        ({"sample": 0}, "sample: 0 must be at least 1"),
        ({"sample": True}, "sample: True is not a whole number"),
        ({"input_path": "nope.parquet"}, r"input_path: no such file .*nope.parquet"),
    ],
)
def test_bad_params_fail_with_a_message_naming_them(settings, params, message):
    with pytest.raises(ParamsError, match=message):
        ingest_request(settings, params, run_type="manual")


def test_unknown_file_type_is_refused(settings, papers_file):
    odd = papers_file.with_suffix(".xlsx")
    odd.write_text("x")
    with pytest.raises(ParamsError, match=r"input_path: .*unknown file type '\.xlsx'"):
        ingest_request(settings, {"input_path": str(odd)})


def test_param_dates_and_backend():
    assert parse_param_date("as_of", "") is None
    assert parse_param_date("as_of", "2025-06-30") == date(2025, 6, 30)
    with pytest.raises(ParamsError, match="as_of"):
        parse_param_date("as_of", "30/06/2025")
    assert run_settings({"embedding_backend": "minilm"}).embedding_backend == "minilm"
    with pytest.raises(ParamsError, match="embedding_backend: 'word2vec' is not one of minilm"):
        run_settings({"embedding_backend": "word2vec"})
    chosen = run_settings({"embedding_backend": "static", "topic_representation": "mmr"})
    assert (chosen.embedding_backend, chosen.topic_representation) == ("static", "mmr")
    assert run_settings({"topic_representation": ""}).topic_representation == "ctfidf"
    with pytest.raises(ParamsError, match="topic_representation: 'lda' is not one of ctfidf, mmr"):
        run_settings({"topic_representation": "lda"})


def test_full_refit_when_asked_or_on_the_time_schedule():
    assert wants_full_refit(True, "asset_triggered")
    assert wants_full_refit(False, "scheduled")
    assert not wants_full_refit(False, "asset_triggered")
    assert not wants_full_refit(None, "manual")


# -- date-window ingest ---------------------------------------------------------------------------
def test_window_ingest_keeps_the_window_and_reports_changes(store, settings, papers_file):
    day = ingest_request(
        settings, {"input_path": "papers.jsonl", "date_from": "2025-06-03", "date_to": "2025-06-03"}
    )
    first = ingest_request_stage(store, settings, day)
    assert first.changed == 2
    assert "published 2025-06-03..2025-06-03" in first.lines[0]
    assert "received 2 = stored 2" in first.lines[1]
    assert store.scalar("select count(*) from papers") == 2
    assert store.scalar("select count(*) from rejected_records") == 0  # undated: not in window
    again = ingest_request_stage(store, settings, day)
    assert again.changed == 0  # idempotent: a rerun of the same interval changes nothing
    full = ingest_request(settings, {"input_path": str(papers_file)})
    out = ingest_request_stage(store, settings, full)
    assert store.scalar("select count(*) from papers where paper_id like 'arxiv:2506.%'") == 7
    assert "quarantined 1" in out.lines[1]  # the bad date, once no window excludes it


def test_an_empty_window_ingests_nothing(store, settings, papers_file):
    req = ingest_request(
        settings, {"input_path": str(papers_file), "date_from": "2026-01-01", "date_to": None}
    )
    out = ingest_request_stage(store, settings, req)
    assert out.changed == 0
    assert "received 0 = stored 0" in out.lines[1]
    assert store.scalar("select count(*) from papers") == 0


# -- sharded embedding ----------------------------------------------------------------------------
class FakeEmbedder:
    name = MODEL
    dim = 8

    def __init__(self):
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        rng = np.random.default_rng(len(texts))
        vectors = rng.normal(size=(len(texts), self.dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def loaded_store(store, settings, papers_file):
    ingest_request_stage(store, settings, ingest_request(settings, {"input_path": "papers.jsonl"}))
    return store


def test_shards_split_compute_without_the_store_and_load_once(loaded_store, tmp_path):
    store = loaded_store
    plan = plan_embedding_shards(store, EmbeddingBackend.minilm, tmp_path / "shards", 3)
    assert plan.papers == 7 and len(plan.todo_files) == 3
    sizes = [pq.read_metadata(p).num_rows for p in plan.todo_files]
    assert sorted(sizes) == [2, 2, 3]  # dealt round-robin
    ids = [pid for p in plan.todo_files for pid in pq.read_table(p)["paper_id"].to_pylist()]
    assert len(set(ids)) == 7

    fake = FakeEmbedder()
    outs = [embed_shard(p, EmbeddingBackend.minilm, embedder=fake).path for p in plan.todo_files]
    assert outs == [shard_output_path(p) for p in plan.todo_files]
    assert store.scalar("select count(*) from paper_embeddings") == 0  # nothing written yet

    summary = load_embedding_shards(store, outs)
    assert summary.loaded == 7
    assert store.scalar("select count(*) from paper_embeddings where model = ?", [MODEL]) == 7
    assert store.scalar("select min(len(embedding)) from paper_embeddings") == 8

    # everything is current now: one empty shard, and no model is loaded to embed it
    again = plan_embedding_shards(store, EmbeddingBackend.minilm, tmp_path / "again", 3)
    assert again.papers == 0 and len(again.todo_files) == 1


def test_an_empty_shard_loads_no_model(tmp_path, loaded_store, monkeypatch):
    store = loaded_store
    store.execute("delete from papers")
    plan = plan_embedding_shards(store, EmbeddingBackend.minilm, tmp_path / "s", 2)

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded for an empty shard")

    monkeypatch.setattr(embed_module, "make_embedder", no_model)
    shard = embed_shard(plan.todo_files[0], EmbeddingBackend.minilm)
    assert shard.embedded == 0
    assert load_embedding_shards(store, [shard.path]).loaded == 0


def test_a_failed_load_writes_nothing(loaded_store, tmp_path):
    store = loaded_store
    plan = plan_embedding_shards(store, EmbeddingBackend.minilm, tmp_path / "shards", 2)
    good = embed_shard(plan.todo_files[0], EmbeddingBackend.minilm, embedder=FakeEmbedder())
    with pytest.raises(Exception):
        load_embedding_shards(store, [good.path, tmp_path / "shards" / "vectors-404.parquet"])
    assert store.scalar("select count(*) from paper_embeddings") == 0


def test_runner_clears_old_shards_and_removes_loaded_ones(loaded_store, settings, monkeypatch):
    monkeypatch.setattr(runner, "MIN_SHARD_PAPERS", 2)
    stale = shard_root(settings) / "old_run"
    stale.mkdir(parents=True)
    (stale / "todo-000.parquet").write_text("left by a failed run")
    plan = plan_embed_stage(loaded_store, settings, "manual__2025-06-01T00:00:00+00:00", 2)
    assert not stale.exists()
    folder = plan.todo_files[0].parent
    assert folder.parent == shard_root(settings) and ":" not in folder.name
    outs = [
        embed_shard(p, EmbeddingBackend.minilm, embedder=FakeEmbedder()).path
        for p in plan.todo_files
    ]
    line = load_embed_shards_stage(loaded_store, settings, [str(p) for p in outs])
    assert "7 embeddings from 2 shard(s)" in line
    assert not folder.exists()


def test_small_updates_make_one_shard(loaded_store, tmp_path):
    plan = plan_embedding_shards(
        loaded_store, EmbeddingBackend.minilm, tmp_path / "s", 8, min_papers=3
    )
    assert len(plan.todo_files) == 2  # 7 papers, at least 3 a shard
    one = plan_embedding_shards(
        loaded_store, EmbeddingBackend.minilm, tmp_path / "t", 8, min_papers=256
    )
    assert len(one.todo_files) == 1 and one.papers == 7


def test_the_runner_takes_the_fewest_papers_per_shard_from_the_run(loaded_store, settings):
    """trends_topics' *papers per shard* param; without it, MIN_SHARD_PAPERS (256)."""
    run_id = "manual__2025-06-01T00:00:00+00:00"
    assert len(plan_embed_stage(loaded_store, settings, run_id, 8).todo_files) == 1
    plan = plan_embed_stage(loaded_store, settings, run_id, 8, min_papers=3)
    assert len(plan.todo_files) == 2 and plan.papers == 7


def test_topics_are_skipped_while_nothing_is_embedded(store, settings):
    with pytest.raises(NothingToDoError, match="no papers embedded"):
        topics_when_ready_stage(store, settings, full=True)
