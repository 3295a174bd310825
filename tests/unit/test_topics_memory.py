"""The topics stage at a million papers: the map reads its sample without copying every vector."""

from __future__ import annotations

import tracemalloc

import numpy as np

from pipeline.topics.fit import StackedRows


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
