"""A fit asked for k topics clusters until it has k (pipeline.topics.clustering.cluster_reduced).

The BERTopic paper's protocol reduces every fit to N = 10..50 topics; with the corpus's own
minimum topic size BBC News had 30-33 clusters, so N = 40 and 50 returned fewer topics.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.topics.clustering import (
    MIN_TOPIC_SIZE_FLOOR,
    cluster_reduced,
    hdbscan_model,
    min_topic_sizes,
)
from pipeline.topics.params import TopicParams


def blobs(n_blobs: int, size: int, seed: int = 0) -> np.ndarray:
    """Tight, well separated 5-d blobs of ``size`` points each (UMAP-like coordinates)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=30.0, size=(n_blobs, 5))
    return np.vstack([c + rng.normal(scale=0.3, size=(size, 5)) for c in centres])


PARAMS = TopicParams(min_cluster_size=30, min_samples=6)


def test_sizes_start_at_the_params_own_and_shrink_to_the_floor():
    pairs = min_topic_sizes(PARAMS)
    sizes = [s for s, _ in pairs]
    assert pairs[0] == (30, 6)
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)
    assert sizes[-1] == MIN_TOPIC_SIZE_FLOOR
    assert all(1 <= samples <= size for size, samples in pairs)
    # a size already under the floor is tried alone
    assert min_topic_sizes(TopicParams(min_cluster_size=3, min_samples=1)) == [(3, 1)]


def test_a_fit_asked_for_more_topics_than_its_size_rule_gives_gets_them():
    points = blobs(12, 14)  # 12 topics of 14 documents, under the minimum topic size of 30
    plain = np.asarray(hdbscan_model(PARAMS).fit_predict(points))
    assert len(set(plain.tolist()) - {-1}) < 12  # the size rule alone falls short

    clusters = cluster_reduced(points, PARAMS, min_topics=12)
    assert clusters.n_clusters >= 12
    assert clusters.min_cluster_size < 30
    # the blobs are the clusters: each blob's clustered points share one label
    labels = clusters.labels.reshape(12, 14)
    for row in labels:
        assert len(set(row[row != -1].tolist())) == 1


def test_without_an_ask_or_when_enough_it_is_the_fits_own_hdbscan():
    points = blobs(4, 40)
    own = np.asarray(hdbscan_model(PARAMS).fit_predict(points))
    for ask in (None, 4):
        clusters = cluster_reduced(points, PARAMS, min_topics=ask)
        assert clusters.min_cluster_size == 30
        np.testing.assert_array_equal(clusters.labels, own)


@pytest.mark.parametrize("ask", [40, 100])
def test_an_ask_it_cannot_reach_returns_the_most_clusters_and_says_how_many(ask):
    points = blobs(6, 20)
    clusters = cluster_reduced(points, PARAMS, min_topics=ask)
    assert clusters.n_clusters < ask
    every = [
        len(set(np.asarray(hdbscan_model(
            TopicParams(min_cluster_size=s, min_samples=m)
        ).fit_predict(points)).tolist()) - {-1})
        for s, m in min_topic_sizes(PARAMS)
    ]  # fmt: skip
    assert clusters.n_clusters == max(every)
