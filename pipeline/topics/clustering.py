"""UMAP and HDBSCAN as the fit configures them, and UMAP's numba kernels cached on disk."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
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


def cluster_embeddings(embeddings: np.ndarray, params: TopicParams, seed: int) -> np.ndarray:
    """The fit's clusters (-1: outlier) without BERTopic: UMAP then HDBSCAN, as in fit_topics."""
    reducer = umap_model(embeddings, params.n_components, params.min_dist, params.n_neighbors, seed)
    with quiet_umap():
        reduced = reducer.fit_transform(embeddings)
    return np.asarray(hdbscan_model(params).fit_predict(reduced))


@contextmanager
def quiet_umap() -> Iterator[None]:
    """Silence the two warnings a seeded UMAP on given neighbours always raises at fit time."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"n_jobs value", category=UserWarning)
        yield
