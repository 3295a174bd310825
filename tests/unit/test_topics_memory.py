"""The topics stage at a million papers: the map reads its sample without copying every vector."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest

from pipeline.topics import persistence
from pipeline.topics.fit import OtherPapers, StackedRows


def _parts(n_first: int = 3_000, n_second: int = 5_000, dim: int = 256):
    rng = np.random.default_rng(7)
    first = rng.normal(size=(n_first, dim)).astype(np.float32)
    second = rng.normal(size=(n_second, dim)).astype(np.float32)
    order = rng.permutation(n_first + n_second)
    return first, second, order


def test_stacked_rows_are_the_stacked_reordered_vectors() -> None:
    first, second, order = _parts()
    rows = StackedRows(first, second, order)
    whole = np.concatenate([first, second])[order]
    idx = np.sort(np.random.default_rng(1).choice(len(order), 500, replace=False))
    assert len(rows) == len(whole)
    np.testing.assert_array_equal(rows[idx], whole[idx])
    np.testing.assert_array_equal(rows[np.arange(len(order))], whole)
    assert rows[idx].dtype == np.float32


def test_a_sample_of_rows_allocates_only_the_sample() -> None:
    first, second, order = _parts()  # 8,000 x 256 float32: 8 MB in all
    rows = StackedRows(first, second, order)
    idx = np.arange(0, len(order), 80)  # 100 rows: 100 KB
    tracemalloc.start()
    try:
        sample = rows[idx]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sample.shape == (100, 256)
    assert peak < 1_000_000  # stacking first (8 MB) and reordering (8 MB more) is gone


def _papers(store, n: int) -> list[str]:
    frame = pd.DataFrame(
        {
            "paper_id": [f"p{(i * 37) % n:03d}" for i in range(n)],  # stored out of id order
            "title": [f"Title {(i * 37) % n}" for i in range(n)],
        }
    )
    store.register("p", frame)
    store.execute(
        "insert into papers (paper_id, source, title, abstract, published, date_precision,"
        " content_hash, first_run_id, last_run_id, ingested_at, updated_at)"
        " select paper_id, 'conf', title, 'An abstract of ' || title, date '2020-01-01', 'year',"
        " paper_id, 'r', 'r', now(), now() from p"
    )
    store.unregister("p")
    return frame["paper_id"].tolist()


def test_fit_texts_are_streamed_and_filtered_not_read_whole(store, monkeypatch) -> None:
    _papers(store, 50)
    stream = store.stream_file
    batches = []

    def small_batches(name, params=None, batch_rows=20_000):
        for batch in stream(name, params, batch_rows=7):
            batches.append(batch.num_rows)
            yield batch

    def whole(*_a, **_k):
        raise AssertionError("every text read at once")

    monkeypatch.setattr(store, "stream_file", small_batches)
    monkeypatch.setattr(store, "query_file", whole)
    wanted = ["p042", "p003", "p017", "p000"]
    assert persistence.paper_texts(store, wanted) == [
        f"Title {int(p[1:])}. An abstract of Title {int(p[1:])}" for p in wanted
    ]
    assert len(batches) == 8 and max(batches) == 7
    with pytest.raises(KeyError, match=r"1 papers have no text, e\.g\. 'nope'"):
        persistence.paper_texts(store, ["p001", "nope"])


def test_other_papers_read_rows_of_the_loaded_vectors_without_a_copy() -> None:
    first, second, order = _parts()
    everything = np.concatenate([second, first])  # as loaded: every paper, in id order
    rows = np.arange(len(second))  # the papers the fit did not cluster
    others = OtherPapers([f"o{i}" for i in rows], everything, rows=rows)
    np.testing.assert_array_equal(others.vectors(slice(10, 20)), second[10:20])
    assert np.shares_memory(others.embeddings, everything)
    stacked = StackedRows(first, others, order)
    idx = np.sort(np.random.default_rng(2).choice(len(order), 300, replace=False))
    np.testing.assert_array_equal(stacked[idx], np.concatenate([first, second])[order][idx])
