"""Plain BERTopic for ``benchmarks/quality.py``: its documented defaults, beside the product.

``BERTopic(embedding_model=..., nr_topics=N)`` builds UMAP(n_neighbors=15, n_components=5,
min_dist=0, cosine), HDBSCAN(min_cluster_size=10, euclidean, ``eom``), scikit-learn's default
CountVectorizer and plain c-TF-IDF, and no outlier reduction. The only departure is the one
BERTopic's documentation gives for reproducible runs: UMAP's ``random_state`` is the fit's
seed. The UMAP coordinates (the costly step) are computed once per seed and shared by the
five topic counts; each count then reduces the same clusters as ``nr_topics`` does in fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_TOPIC_SIZE = 10  # BERTopic's default min_topic_size


@dataclass(frozen=True)
class PlainTopics:
    """Top words of each topic (outliers excluded) and each document's topic after reduction."""

    words: list[list[str]]
    topics: np.ndarray


def plain_umap(embeddings: np.ndarray, seed: int) -> np.ndarray:
    """BERTopic's default UMAP coordinates of ``embeddings`` (seeded)."""
    import warnings

    from umap import UMAP

    reducer = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"n_jobs value", category=UserWarning)
        return np.asarray(reducer.fit_transform(embeddings))


def plain_clusters(reduced: np.ndarray) -> np.ndarray:
    """BERTopic's default HDBSCAN labels of UMAP coordinates (-1: outlier)."""
    from hdbscan import HDBSCAN

    model = HDBSCAN(
        min_cluster_size=MIN_TOPIC_SIZE,
        metric="euclidean",
        cluster_selection_method="eom",
        prediction_data=True,
    )
    return np.asarray(model.fit_predict(reduced))


def plain_topic_words(
    docs: list[str], embeddings: np.ndarray, labels: np.ndarray, n_topics: int
) -> PlainTopics:
    """Plain BERTopic's topics reduced to ``n_topics`` (the outlier class counting as one)."""
    from bertopic import BERTopic
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction

    model = BERTopic(
        umap_model=BaseDimensionalityReduction(),
        hdbscan_model=BaseCluster(),
        calculate_probabilities=False,
    )
    model.fit(docs, embeddings, y=labels)
    model.reduce_topics(docs, nr_topics=n_topics)
    topics = np.asarray(model.topics_)
    ids = sorted(set(topics.tolist()) - {-1})
    words = [[w for w, _ in (model.get_topic(t) or [])][:10] for t in ids]
    return PlainTopics(words, topics)
