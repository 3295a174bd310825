"""UMAP and HDBSCAN as the fit configures them, and UMAP's numba kernels cached on disk."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from pipeline.topics.params import TopicParams
from pipeline.topics.vectors import cosine_knn

# UMAP's kernels that a fit on given neighbours compiles; umap-learn does not cache them on disk,
# so every process compiled them again (about 10 s of a 5,000-paper fit on 2 cores).
UMAP_KERNELS = (
    ("umap.umap_", "smooth_knn_dist"),
    ("umap.umap_", "compute_membership_strengths"),
    ("umap.layouts", "_nb_optimize_layout_euclidean_single_epoch"),
)


@cache
def cache_umap_kernels() -> list[str]:
    """Turn on numba's on-disk cache for UMAP's kernels (as ``cache=True`` would); idempotent.

    The cache goes where numba puts it (``__pycache__`` beside umap's sources, else the user's
    cache folder, or ``NUMBA_CACHE_DIR``) and is keyed on the source file and the CPU, so a new
    umap-learn or machine compiles afresh. Returns the kernels it found (a newer umap-learn may
    rename one; the fit then compiles it as before).
    """
    import importlib

    found = []
    for module_name, attr in UMAP_KERNELS:
        kernel = getattr(importlib.import_module(module_name), attr, None)
        if callable(getattr(kernel, "enable_caching", None)):
            kernel.enable_caching()
            found.append(f"{module_name}.{attr}")
    return found


def neighbour_count(n_docs: int, k: int) -> int:
    """UMAP's neighbour count for a corpus of ``n_docs`` (at most ``n_docs - 1``)."""
    return min(k, max(2, n_docs - 1))


def umap_model(
    embeddings: np.ndarray,
    n_components: int,
    min_dist: float,
    k: int,
    seed: int,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
):
    """A seeded cosine UMAP that uses :func:`cosine_knn`'s neighbours instead of its own search.

    Fitting it on anything but ``embeddings`` is an error (the neighbours belong to them);
    ``transform`` of new data is unavailable, which the pipeline never needs (updates place
    papers by centroid similarity). ``knn``: those neighbours when already computed.
    """
    from umap import UMAP

    cache_umap_kernels()
    k = neighbour_count(len(embeddings), k)
    knn_indices, knn_distances = knn if knn is not None else cosine_knn(embeddings, k)
    return UMAP(
        n_neighbors=k,
        n_components=n_components,
        min_dist=min_dist,
        metric="cosine",
        random_state=seed,
        low_memory=True,
        precomputed_knn=(knn_indices, knn_distances, None),
    )


def hdbscan_model(params: TopicParams):
    """The fit's HDBSCAN on UMAP coordinates."""
    from hdbscan import HDBSCAN

    return HDBSCAN(
        min_cluster_size=params.min_cluster_size,
        min_samples=params.min_samples,
        metric="euclidean",
        cluster_selection_method=params.cluster_selection_method,
        prediction_data=False,
    )


# The smallest minimum topic size that :func:`cluster_reduced` tries when a fit asks for more
# topics than the corpus's own size rule gives (the BERTopic paper's BBC fits used 5).
MIN_TOPIC_SIZE_FLOOR = 5
# Each retry shrinks the minimum topic size to this share of the previous one.
MIN_TOPIC_SIZE_STEP = 0.8


@dataclass(frozen=True)
class Clusters:
    """HDBSCAN's labels (-1: outlier) and the minimum topic size that gave them."""

    labels: np.ndarray
    min_cluster_size: int
    min_samples: int

    @property
    def n_clusters(self) -> int:
        """Clusters found, the outlier class not counted."""
        return len(set(self.labels.tolist()) - {-1})


def min_topic_sizes(params: TopicParams) -> list[tuple[int, int]]:
    """(min_cluster_size, min_samples) pairs to try, the params' own first, then smaller ones.

    Each step keeps ``MIN_TOPIC_SIZE_STEP`` of the previous size, down to
    ``MIN_TOPIC_SIZE_FLOOR`` (never above the params' own); ``min_samples`` keeps its ratio to
    the size, at least 1.
    """
    size, samples = params.min_cluster_size, params.min_samples
    floor = min(MIN_TOPIC_SIZE_FLOOR, size)
    pairs = [(size, samples)]
    current = size
    while current > floor:
        current = max(floor, min(current - 1, int(current * MIN_TOPIC_SIZE_STEP)))
        pairs.append((current, max(1, round(samples * current / size))))
    return pairs


def reduce_embeddings(embeddings: np.ndarray, params: TopicParams, seed: int) -> np.ndarray:
    """The fit's UMAP coordinates of ``embeddings`` (what HDBSCAN clusters)."""
    reducer = umap_model(embeddings, params.n_components, params.min_dist, params.n_neighbors, seed)
    with quiet_umap():
        return np.asarray(reducer.fit_transform(embeddings))


def cluster_reduced(
    reduced: np.ndarray, params: TopicParams, min_topics: int | None = None
) -> Clusters:
    """HDBSCAN on UMAP coordinates; with ``min_topics``, at least that many clusters if it can.

    A fit asked for k topics that its minimum topic size cannot give (BBC News: 30-33 clusters
    at the size rule's 10, asked for 40 and 50) is clustered again with smaller minimum topic
    sizes (:func:`min_topic_sizes`) until HDBSCAN finds ``min_topics``; the UMAP coordinates
    are reused, so a retry costs one HDBSCAN. When even the floor finds fewer, the clustering
    with the most clusters is returned and ``n_clusters`` says how many it reached. Without
    ``min_topics`` this is exactly the fit's HDBSCAN.
    """
    best: Clusters | None = None
    for size, samples in min_topic_sizes(params):
        trial = replace(params, min_cluster_size=size, min_samples=samples)
        found = Clusters(np.asarray(hdbscan_model(trial).fit_predict(reduced)), size, samples)
        if min_topics is None or found.n_clusters >= min_topics:
            return found
        if best is None or found.n_clusters > best.n_clusters:
            best = found
    assert best is not None  # min_topic_sizes yields at least the params' own size
    return best


def cluster_embeddings(
    embeddings: np.ndarray, params: TopicParams, seed: int, min_topics: int | None = None
) -> np.ndarray:
    """The fit's clusters (-1: outlier) without BERTopic: UMAP then HDBSCAN, as in fit_topics.

    ``min_topics``: see :func:`cluster_reduced`.
    """
    reduced = reduce_embeddings(embeddings, params, seed)
    return cluster_reduced(reduced, params, min_topics).labels


@contextmanager
def quiet_umap() -> Iterator[None]:
    """Silence the two warnings a seeded UMAP on given neighbours always raises at fit time."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"n_jobs value", category=UserWarning)
        yield
