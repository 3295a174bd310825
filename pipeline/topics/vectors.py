"""Nearest neighbours and centroids on unit vectors (pure numpy)."""

from __future__ import annotations

import numpy as np


def centroids_of(embeddings: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    """Unit-length mean embedding of each topic (outliers excluded)."""
    out = {}
    for topic in sorted(set(labels.tolist()) - {-1}):
        mean = embeddings[labels == topic].mean(axis=0)
        out[topic] = mean / (np.linalg.norm(mean) or 1.0)
    return out


def nearest_topic(
    embeddings: np.ndarray, centroids: dict[int, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Topic of the nearest centroid (cosine) and the similarity, for each row."""
    ids = np.array(sorted(centroids))
    matrix = np.stack([centroids[t] for t in ids])
    sims = embeddings @ matrix.T
    best = sims.argmax(axis=1)
    return ids[best], sims[np.arange(len(best)), best]


# Rows of the similarity matrix computed at once in :func:`cosine_knn` are capped at this many
# floats (128 MiB), so the search stays bounded on any corpus a fit sees.
KNN_BLOCK_FLOATS = 32 * 1024 * 1024


def cosine_knn(embeddings: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest neighbours by cosine distance, each point first (distance 0).

    UMAP's own search (pynndescent) is approximate and compiles its numba kernels anew in
    every process: at 5,000 papers it was 2/3 of UMAP's time (44.6 s vs 15.6 s with these
    neighbours). On unit vectors the exact search is blocks of one matrix product, and its
    result does not depend on a seed. Returns (indices int64, distances float32), shape (n, k).
    """
    x = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    n = len(x)
    k = min(k, n)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    block = max(1, KNN_BLOCK_FLOATS // max(n, 1))
    for start in range(0, n, block):
        sims = x[start : start + block] @ x.T
        rows = np.arange(len(sims))
        sims[rows, start + rows] = 2.0  # a point is its own nearest neighbour, even among twins
        # the k largest, partitioned in place of a negated copy (a third of the search at 31k)
        part = np.argpartition(sims, n - k, axis=1)[:, n - k :]
        part_sims = np.take_along_axis(sims, part, axis=1)
        order = np.lexsort((part, -part_sims), axis=1)  # by similarity, then index: no ties left
        indices[start : start + block] = np.take_along_axis(part, order, axis=1)
        distances[start : start + block] = np.clip(
            1.0 - np.take_along_axis(part_sims, order, axis=1), 0.0, 2.0
        )
    return indices, distances
