"""The fit (pure): BERTopic on precomputed embeddings, described as a :class:`TopicFit`.

A fit may run on a sample of the papers (:mod:`pipeline.topics.sampling`); the others are then
placed into its topics by the rule its own outlier reduction used (nearest centroid, joined when
the cosine reaches the fit's ``assign_threshold``), with method ``placed``.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.quality import npmi_coherence, topic_diversity
from pipeline.topics.clustering import hdbscan_model, neighbour_count, quiet_umap, umap_model
from pipeline.topics.outliers import OutlierReducingClusterer
from pipeline.topics.paper_map import project_map
from pipeline.topics.params import TopicFit, TopicParams
from pipeline.topics.seedcheck import SeedCheck, labels_agreement
from pipeline.topics.vectors import centroids_of, cosine_knn, nearest_topic
from pipeline.topics.words import make_vectorizer, short_label, term_counts, topic_terms

if TYPE_CHECKING:
    from pipeline.embedders import Embedder


PLACE_BLOCK = 65_536  # papers placed per matrix product (64 MiB of vectors at 256 dims)


@dataclass(frozen=True)
class OtherPapers:
    """Papers a fit does not cluster but places into its topics afterwards.

    ``embeddings`` holds their vectors; with ``rows``, it holds every paper's vectors and these
    papers are its rows ``rows``, so no copy is made (at a million papers of 256 dimensions the
    copy was 1 GB of the topics stage's 3.8 GiB peak).
    """

    paper_ids: list[str]
    embeddings: np.ndarray
    rows: np.ndarray | None = None

    def vectors(self, idx: np.ndarray | slice) -> np.ndarray:
        """The vectors of the papers at positions ``idx`` (of ``paper_ids``)."""
        if self.rows is None:
            return self.embeddings[idx]
        return self.embeddings[self.rows[idx]]


class StackedRows:
    """Rows of ``first`` then ``second``, taken in ``order``, gathered only when indexed.

    The map projects a sample of all papers (``project_map`` reads ``rows[idx]`` for a few
    thousand ``idx``); stacking and reordering every vector first cost two copies of them all,
    2 GB at a million papers of 256 dimensions, the topics stage's peak.
    """

    def __init__(
        self, first: np.ndarray, second: np.ndarray | OtherPapers, order: np.ndarray
    ) -> None:
        self.first, self.order = first, np.asarray(order)
        self.second = second if isinstance(second, OtherPapers) else OtherPapers([], second)

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, idx: np.ndarray) -> np.ndarray:
        src = self.order[np.asarray(idx)]
        n_first = len(self.first)
        dtype = np.result_type(self.first, self.second.embeddings)
        out = np.empty((len(src), self.first.shape[1]), dtype)
        in_first = src < n_first
        out[in_first] = self.first[src[in_first]]
        out[~in_first] = self.second.vectors(src[~in_first] - n_first)
        return out


@cache
def bertopic_class() -> type:
    """BERTopic without its representative documents, which the pipeline picks itself.

    BERTopic 0.17 always samples up to 500 papers per topic and scores them by c-TF-IDF
    (``_save_representative_docs``: 2.4 s of a 5,000-paper fit, tokenising them again); the
    pipeline's representatives are the members nearest the topic centroid. The hook is private,
    so the BERTopic version is pinned and a test checks the hook still exists.
    """
    from bertopic import BERTopic

    class PipelineBERTopic(BERTopic):
        def _save_representative_docs(self, documents: pd.DataFrame) -> None:
            self.representative_docs_ = {}

    return PipelineBERTopic


def fit_topics(
    paper_ids: list[str],
    docs: list[str],
    embeddings: np.ndarray,
    params: TopicParams,
    seed: int,
    embedder: Embedder | None = None,
    *,
    others: OtherPapers | None = None,
) -> TopicFit:
    """Fit BERTopic on precomputed embeddings and reduce outliers by centroid similarity.

    Same inputs and seed give the same topics. Outliers whose similarity to their nearest
    centroid reaches the fit's own ``outlier_quantile`` of in-topic similarities join that topic.
    ``embedder`` (the model of ``embeddings``) embeds candidate words; only the ``mmr``
    representation needs it. ``others``: papers placed into the fitted topics afterwards (see
    the module docstring); topic sizes, the outlier share and the map then count them too,
    while words and NPMI come from the clustered papers.
    """
    if params.representation == "mmr" and embedder is None:
        raise ValueError("the mmr representation needs the embedding model: pass embedder")
    from bertopic.vectorizers import ClassTfidfTransformer

    knn = cosine_knn(embeddings, neighbour_count(len(embeddings), params.n_neighbors))
    reducer = umap_model(
        embeddings, params.n_components, params.min_dist, params.n_neighbors, seed, knn
    )
    clusterer = OutlierReducingClusterer(hdbscan_model(params), embeddings, params.outlier_quantile)
    model = bertopic_class()(
        umap_model=reducer,
        hdbscan_model=clusterer,
        vectorizer_model=make_vectorizer(),
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True, bm25_weighting=True),
        top_n_words=params.candidate_words,
        calculate_probabilities=False,
        verbose=False,
    )
    check = SeedCheck(embeddings, knn, params, seed + 1) if params.seed_check else None
    with check or nullcontext():  # the second seed clusters beside everything below
        with quiet_umap():
            labels = np.asarray(model.fit_transform(docs, embeddings)[0])  # BERTopic renumbers
        fit = describe_fit(paper_ids, docs, embeddings, params, embedder, model, labels)
        if others is not None and others.paper_ids:
            fit = place_others(fit, others)
            map_ids = [*paper_ids, *others.paper_ids]
            order = np.argsort(np.array(map_ids, dtype=object), kind="stable")
            fit.map_coords = project_map(
                [map_ids[i] for i in order],
                StackedRows(embeddings, others, order),
                params,
                seed,
            )
        else:
            fit.map_coords = project_map(paper_ids, embeddings, params, seed)
        other = check.labels() if check else None
    if other is not None:
        fit.seed_check_agreement = labels_agreement(embeddings, labels, other)
    return fit


def describe_fit(
    paper_ids: list[str],
    docs: list[str],
    embeddings: np.ndarray,
    params: TopicParams,
    embedder: Embedder | None,
    model,
    labels: np.ndarray,
) -> TopicFit:
    """A fitted BERTopic ``model`` as a :class:`TopicFit`: words, NPMI, centroids (no map)."""
    clusterer = model.hdbscan_model
    sims = clusterer.similarity_
    method = np.where(clusterer.reassigned_, "outlier_reduction", "fit").astype(object)
    centroids = centroids_of(embeddings, labels)

    topic_ids = sorted(set(labels.tolist()))
    chosen = topic_terms(model, topic_ids, params, embedder, docs)
    rows = []
    for topic, (terms, weights) in zip(topic_ids, chosen, strict=True):
        members = np.flatnonzero(labels == topic)
        reps = members[np.argsort(-sims[members])][:5] if topic != -1 else members[:0]
        rows.append(
            {
                "topic_id": int(topic),
                "label": "outliers" if topic == -1 else short_label(terms),
                "terms": terms,
                "term_weights": weights,
                "size": len(members),
                "centroid": centroids.get(topic),
                "representative_ids": [paper_ids[i] for i in reps],
            }
        )
    topics = pd.DataFrame(rows)
    real = topics["topic_id"] != -1
    top_terms = topics.loc[real, "terms"].tolist()
    doc_term, vocabulary = term_counts(docs, (t for terms in top_terms for t in terms))
    scores = npmi_coherence(top_terms, doc_term, vocabulary)
    topics["npmi"] = np.nan
    topics.loc[real, "npmi"] = scores
    assignments = pd.DataFrame(
        {
            "paper_id": paper_ids,
            "topic_id": labels.astype(int),
            "similarity": sims,
            "method": method,
        }
    )
    return TopicFit(
        topics=topics,
        assignments=assignments,
        outlier_share=float((labels == -1).mean()),
        outlier_share_before=clusterer.outlier_share_before_,
        npmi=float(np.nanmean(scores)) if len(scores) else float("nan"),
        diversity=topic_diversity(topics.loc[real, "terms"].tolist()),
        assign_threshold=clusterer.threshold_,
    )


def place_others(fit: TopicFit, others: OtherPapers) -> TopicFit:
    """``fit`` with ``others`` placed into its topics (method ``placed``; -1 when too far).

    Assignments come back ordered by paper id; each topic's ``size`` counts its placed papers.
    """
    topics = fit.topics
    real = topics[topics["topic_id"] != -1]
    centroids = {
        int(t): np.asarray(c, np.float32)
        for t, c in zip(real["topic_id"], real["centroid"], strict=True)
    }
    n = len(others.paper_ids)
    if centroids:
        nearest, sims = np.empty(n, np.int64), np.empty(n, np.float32)
        for start in range(0, n, PLACE_BLOCK):  # in blocks: no copy of every paper's vector
            block = slice(start, min(start + PLACE_BLOCK, n))
            vectors = np.asarray(others.vectors(block), np.float32)
            nearest[block], sims[block] = nearest_topic(vectors, centroids)
        topic = np.where(sims >= fit.assign_threshold, nearest, -1)
    else:
        topic, sims = np.full(n, -1), np.zeros(n)
    placed = pd.DataFrame(
        {
            "paper_id": others.paper_ids,
            "topic_id": topic.astype(int),
            "similarity": sims.astype(np.float64),
            "method": "placed",
        }
    )
    assignments = (
        pd.concat([fit.assignments, placed], ignore_index=True)
        .sort_values("paper_id", kind="stable")
        .reset_index(drop=True)
    )
    sizes = assignments["topic_id"].value_counts()
    if (topic == -1).any() and not (topics["topic_id"] == -1).any():
        outliers = {
            "topic_id": -1,
            "label": "outliers",
            "terms": [],
            "term_weights": [],
            "size": 0,
            "centroid": None,
            "representative_ids": [],
            "npmi": np.nan,
        }
        topics = pd.concat([pd.DataFrame([outliers]), topics], ignore_index=True)
    topics = topics.assign(size=topics["topic_id"].map(sizes).fillna(0).astype(int))
    return TopicFit(
        topics=topics,
        assignments=assignments,
        outlier_share=float((assignments["topic_id"] == -1).mean()),
        outlier_share_before=fit.outlier_share_before,
        npmi=fit.npmi,
        diversity=fit.diversity,
        assign_threshold=fit.assign_threshold,
    )
