"""The fit's clusterer: HDBSCAN, then outliers joined to their nearest centroid."""

from __future__ import annotations

import numpy as np

from pipeline.topics.vectors import centroids_of, nearest_topic


class OutlierReducingClusterer:
    """HDBSCAN on UMAP coordinates, then outliers joined to their nearest centroid.

    BERTopic takes any clusterer with ``fit`` and ``labels_``; doing the reduction here gives
    it the final assignment before it builds topic words, so c-TF-IDF runs once (refitting it
    after the fit with ``update_topics`` tokenised every document a second time: ~2.7 s of a
    5,000-paper fit). Centroids and similarities are in the sentence-embedding space, which
    the clusterer holds (BERTopic only passes it the UMAP coordinates): an outlier whose
    similarity to its nearest centroid reaches the ``quantile`` of in-topic similarities joins
    that topic.
    """

    def __init__(self, clusterer, embeddings: np.ndarray, quantile: float) -> None:
        self.clusterer = clusterer
        self.embeddings = embeddings
        self.quantile = quantile

    def fit(self, reduced: np.ndarray, y=None) -> OutlierReducingClusterer:
        """Cluster ``reduced`` (UMAP coordinates; ``y`` unused), then reduce the outliers."""
        labels = np.asarray(self.clusterer.fit(reduced).labels_)
        n = len(labels)
        self.outlier_share_before_ = float((labels == -1).mean()) if n else 0.0
        self.threshold_ = 1.0
        self.similarity_ = np.zeros(n, dtype=np.float64)
        self.reassigned_ = np.zeros(n, dtype=bool)
        centroids = centroids_of(self.embeddings, labels)
        if centroids:
            nearest, near_sims = nearest_topic(self.embeddings, centroids)
            own = np.full(n, np.nan)
            inside = labels != -1
            for topic, centroid in centroids.items():
                members = labels == topic
                own[members] = self.embeddings[members] @ centroid
            self.threshold_ = float(np.nanquantile(own, self.quantile))
            self.reassigned_ = ~inside & (near_sims >= self.threshold_)
            labels = np.where(self.reassigned_, nearest, labels)
            self.similarity_ = np.where(inside, own, near_sims)
        self.labels_ = labels
        return self
