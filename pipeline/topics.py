"""Topics stage: BERTopic fits on cached embeddings (updates: :mod:`pipeline.topic_update`)."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

from pipeline.config import TopicRepresentation
from pipeline.embed import Embedder, load_embeddings
from pipeline.lineage import Lineage, match_topics, seed_agreement
from pipeline.quality import npmi_coherence, topic_diversity
from pipeline.store import Store

log = logging.getLogger(__name__)
# Boilerplate of abstracts that says nothing about a topic.
SCIENTIFIC_STOP_WORDS = frozenset(
    """
    paper propose proposed proposes present presents presented approach approaches method
    methods methodology result results show shows shown demonstrate demonstrates based novel
    new using use used work works study studies existing recent recently furthermore moreover
    additionally however achieve achieves achieved state art performance extensive experiments
    experimental framework frameworks task tasks significantly significant outperforms improve
    improves improved improvement improvements effectiveness effective efficient efficiently
    challenge challenges problem problems various different introduce introduces including
    provide provides key code available github com https http www et al paper's
    """.split()  # noqa: SIM905 - a word list reads best as text
)
# scikit-learn's English stop list also holds content words: "system" (a topic of recommender
# systems lost its head word), "bill", "fire", "interest", "detail", ... They stay in topics.
STOP_LIST_CONTENT_WORDS = frozenset(
    """
    amount bill bottom cry detail empty fill fire front full interest mill mine move name part
    serious side system thick thin top
    """.split()  # noqa: SIM905 - a word list reads best as text
)


REPRESENTATIONS = tuple(r.value for r in TopicRepresentation)


@dataclass(frozen=True)
class TopicParams:
    """Hyper-parameters of a fit; stored with it."""

    n_neighbors: int = 15
    n_components: int = 5
    min_dist: float = 0.0
    min_cluster_size: int = 10
    min_samples: int = 5
    # "leaf": the finest clusters of at least min_cluster_size papers. "eom" (HDBSCAN's default)
    # chooses between a cluster and its children by comparing their summed stabilities, a
    # choice that flips with the UMAP seed: on the 2025 corpus it split or merged whole topics
    # from seed to seed (79% of papers kept their topic, seeds 7 vs 42; leaf: 82%).
    cluster_selection_method: str = "leaf"
    # Leaf clusters are tighter cores, so the 3rd rather than the 5th percentile of members'
    # similarity keeps the outlier share where eom's 5th left it (about 3%).
    outlier_quantile: float = 0.03
    top_n_words: int = 10
    map_sample: int = 4000
    # The report's 2-D map only: UMAP's own count for large data. Below 10,000 points UMAP runs
    # 500, which buys the 5-d fit its seed stability (5,000 arXiv papers, seeds 42/7/1: ARI 0.74
    # at 500 epochs, 0.67 at 200) but only costs time on a picture (3 s of a 5,000-paper fit).
    map_epochs: int = 200
    # How the top_n_words are chosen (pipeline.config.TopicRepresentation): "ctfidf" keeps the
    # c-TF-IDF ranking; "mmr" picks them from the mmr_candidates best by maximal marginal
    # relevance (select_by_mmr), trading weight for novelty at mmr_diversity.
    representation: str = "ctfidf"
    mmr_diversity: float = 0.2
    mmr_candidates: int = 30
    # Every fit clusters a second time with seed + 1 (UMAP, HDBSCAN, outlier reduction; no
    # words), in a child process on the core the seeded, single-threaded UMAP leaves idle, and
    # stores the share of papers that keep their topic (seed_check_agreement).
    seed_check: bool = True

    def __post_init__(self) -> None:
        if self.representation not in REPRESENTATIONS:
            known = ", ".join(REPRESENTATIONS)
            raise ValueError(f"representation {self.representation!r} is not one of {known}")
        if not 0.0 <= self.mmr_diversity <= 1.0:
            raise ValueError(f"mmr_diversity {self.mmr_diversity} is not between 0 and 1")

    @property
    def candidate_words(self) -> int:
        """How many c-TF-IDF terms per topic the representation chooses from."""
        if self.representation == "mmr":
            return max(self.mmr_candidates, self.top_n_words)
        return self.top_n_words

    @classmethod
    def for_corpus(cls, n_docs: int, **overrides: object) -> TopicParams:
        """Settings scaled to corpus size: bigger corpora get bigger minimum topics.

        The minimum topic is 1/250 of the corpus, and at least half the square root of its
        size: with 10 papers, 2,500 arXiv abstracts split into 81 topics of ~30 papers whose
        top words rarely co-occur (NPMI -0.22); with 25, 30-40 topics (NPMI 0.07-0.15).
        Above 15,625 papers the 1/250 term rules, as before.
        """
        mcs = max(10, n_docs // 250, round(0.5 * n_docs**0.5))
        return cls(
            min_cluster_size=mcs,
            min_samples=max(3, mcs // 5),
            **overrides,  # type: ignore[arg-type]
        )


@dataclass
class TopicFit:
    """Result of a fit: one row per topic and one per paper."""

    topics: (
        pd.DataFrame
    )  # topic_id, label, terms, term_weights, size, npmi, centroid, representative_ids
    assignments: pd.DataFrame  # paper_id, topic_id, similarity, method
    outlier_share: float
    outlier_share_before: float
    npmi: float
    diversity: float
    assign_threshold: float
    map_coords: pd.DataFrame | None = None  # paper_id, x, y for a sample of papers
    # share of papers that keep their topic when the fit is clustered again with seed + 1
    seed_check_agreement: float | None = None


def make_vectorizer(vocabulary: list[str] | None = None):
    """CountVectorizer for scientific English: stop words, uni- and bigrams, no bare numbers.

    BERTopic applies it to one concatenated document per topic, so document-frequency cut-offs
    would drop exactly the words unique to a topic; there are none. Passing ``vocabulary`` gives
    the same tokenisation restricted to those terms (used to score coherence on documents).
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    return CountVectorizer(
        stop_words=sorted((ENGLISH_STOP_WORDS - STOP_LIST_CONTENT_WORDS) | SCIENTIFIC_STOP_WORDS),
        ngram_range=(1, 2),
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9\-]+\b",  # noqa: S106 - not a password
        lowercase=True,
        vocabulary=vocabulary,
    )


def term_counts(
    docs: Sequence[str], terms: Iterable[str]
) -> tuple[sparse.csr_matrix, dict[str, int]]:
    """Counts of ``terms`` in each document, exactly as ``make_vectorizer(terms).transform`` gives.

    Returns the documents x terms matrix and the column of each term. The same preprocessing,
    token pattern and stop words, but a bigram is only formed where its first word starts one
    of ``terms``: CountVectorizer builds and looks up every bigram of every document (31,466
    abstracts, 311 terms: 5.0 s against 2.4 s here).
    """
    reference = make_vectorizer()
    preprocess, tokenize = reference.build_preprocessor(), reference.build_tokenizer()
    stop = frozenset(reference.get_stop_words() or ())
    vocabulary = {term: col for col, term in enumerate(sorted(set(terms)))}
    unigrams = {t for t in vocabulary if " " not in t}
    starts = {t.split(" ", 1)[0] for t in vocabulary if " " in t}
    indptr, indices, counts = [0], [], []
    for doc in docs:
        words = [w for w in tokenize(preprocess(doc)) if w not in stop]
        found: dict[int, int] = {}
        for i, word in enumerate(words):
            if word in unigrams:
                col = vocabulary[word]
                found[col] = found.get(col, 0) + 1
            if word in starts and i + 1 < len(words):
                col = vocabulary.get(f"{word} {words[i + 1]}")
                if col is not None:
                    found[col] = found.get(col, 0) + 1
        indices.extend(found)
        counts.extend(found.values())
        indptr.append(len(indices))
    matrix = sparse.csr_matrix(
        (np.asarray(counts, dtype=np.int64), np.asarray(indices, dtype=np.int64), indptr),
        shape=(len(indptr) - 1, len(vocabulary)),
    )
    matrix.sort_indices()
    return matrix, vocabulary


def short_label(terms: list[str], n: int = 3) -> str:
    """A readable label from top terms, skipping words already covered by a chosen phrase."""
    chosen: list[str] = []
    for term in terms:
        covered = any(term in c.split() or term == c for c in chosen)
        parts_covered = len(term.split()) > 1 and all(
            any(p in c.split() for c in chosen) for p in term.split()
        )
        if covered or parts_covered:
            continue
        chosen = [c for c in chosen if not (len(c.split()) == 1 and c in term.split())]
        chosen.append(term)
        if len(chosen) == n:
            break
    return ", ".join(chosen)


TermList = tuple[list[str], list[float]]  # a topic's terms, best first, and their weights


def select_by_mmr(weights: np.ndarray, vectors: np.ndarray, diversity: float, n: int) -> list[int]:
    """Maximal marginal relevance over ranked terms: the positions of ``n`` of them, in order.

    The relevance of a term is its c-TF-IDF weight over the best one's; its redundancy is its
    highest cosine to a term already chosen (``vectors``: unit rows). The best term comes
    first; each next one maximises ``(1 - diversity) * relevance - diversity * redundancy``.
    ``diversity=0`` gives the ranking back. Relevance is the weight, not the similarity to an
    embedding of the topic as in BERTopic's ``MaximalMarginalRelevance``, which picks words
    close in meaning that seldom occur together: on 5,000 arXiv abstracts at diversity 0.3,
    NPMI 0.040 here against -0.152 for BERTopic's (0.145 without MMR), and its topic of tabular
    data read "datasets, unlearning, prediction".
    """
    if len(weights) == 0:
        return []
    top = float(np.max(weights))
    relevance = np.asarray(weights, dtype=np.float64) / (top if top > 0 else 1.0)
    similarity = vectors @ vectors.T
    chosen = [0]
    left = list(range(1, len(weights)))
    while left and len(chosen) < n:
        redundancy = similarity[np.ix_(left, chosen)].max(axis=1)
        score = (1.0 - diversity) * relevance[left] - diversity * redundancy
        chosen.append(left.pop(int(np.argmax(score))))
    return sorted(chosen)


def represent_terms(
    candidates: Sequence[TermList],
    *,
    top_n: int,
    representation: str,
    diversity: float,
    embedder: Embedder | None,
) -> list[TermList]:
    """Each topic's ``top_n`` terms out of its ranked ``candidates`` (see TopicParams).

    ``mmr`` embeds every distinct candidate once, in one call to ``embedder``.
    """
    if representation == "ctfidf":
        return [(list(w[:top_n]), list(s[:top_n])) for w, s in candidates]
    if representation != "mmr":
        raise ValueError(f"unknown representation {representation!r}")
    if embedder is None:
        raise ValueError("the mmr representation needs an embedder to embed candidate words")
    vocabulary = sorted({w for words, _ in candidates for w in words})
    if not vocabulary:
        return [([], []) for _ in candidates]
    vectors = np.asarray(embedder.encode(vocabulary), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    row = {w: i for i, w in enumerate(vocabulary)}
    out = []
    for words, weights in candidates:
        keep = select_by_mmr(
            np.asarray(weights), vectors[[row[w] for w in words]], diversity, top_n
        )
        out.append(([words[i] for i in keep], [float(weights[i]) for i in keep]))
    return out


def topic_terms(
    model, topic_ids: Sequence[int], params: TopicParams, embedder: Embedder | None
) -> list[TermList]:
    """The words of a fitted BERTopic ``model``'s topics, chosen as ``params`` say.

    The model must hold at least ``params.candidate_words`` words per topic.
    """
    ranked = []
    for topic in topic_ids:
        words = model.get_topic(topic) or []
        ranked.append(([w for w, _ in words], [float(s) for _, s in words]))
    return represent_terms(
        ranked,
        top_n=params.top_n_words,
        representation=params.representation,
        diversity=params.mmr_diversity,
        embedder=embedder,
    )


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


def second_seed_labels(
    embeddings: np.ndarray, knn: tuple[np.ndarray, np.ndarray], params: TopicParams, seed: int
) -> np.ndarray:
    """The fit's topics of every paper (-1: outlier) with ``seed``, without topic words.

    The same UMAP (on the same neighbours), HDBSCAN and outlier reduction as ``fit_topics``.
    """
    reducer = umap_model(
        embeddings, params.n_components, params.min_dist, params.n_neighbors, seed, knn
    )
    clusterer = OutlierReducingClusterer(hdbscan_model(params), embeddings, params.outlier_quantile)
    with quiet_umap():
        reduced = reducer.fit_transform(embeddings)
    return np.asarray(clusterer.fit(reduced).labels_)


def _seed_check_main(folder: str, seed: str, params_json: str) -> None:
    """Child process of :class:`SeedCheck` (``python -m pipeline.topics seed-check ...``).

    Maps the parent's arrays, removes their folder (nothing is left behind if the parent is
    killed), clusters, and writes the labels to stdout as ``.npy``. It dies with its parent.
    """
    try:  # Linux: a SIGTERM when the parent dies, so an orphan does not go on computing
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    root = Path(folder)
    embeddings = np.load(root / "embeddings.npy", mmap_mode="r")
    knn = (np.load(root / "knn_indices.npy"), np.load(root / "knn_distances.npy"))
    shutil.rmtree(root, ignore_errors=True)
    params = TopicParams(**json.loads(params_json))
    labels = second_seed_labels(np.asarray(embeddings), knn, params, int(seed))
    np.save(sys.stdout.buffer, labels.astype(np.int64))
    sys.stdout.flush()


class SeedCheck:
    """The fit's clustering with a second seed, run beside the fit in a child process.

    A seeded UMAP runs on one core, so on a machine with two or more the check costs little
    wall time. Below ``CHILD_MIN`` papers, where starting a child (about 3 s of imports) costs
    more than the clustering, on one core, or when the child fails, it runs in this process
    when asked for.
    """

    CHILD_MIN = 2000

    def __init__(
        self,
        embeddings: np.ndarray,
        knn: tuple[np.ndarray, np.ndarray],
        params: TopicParams,
        seed: int,
    ) -> None:
        self.embeddings, self.knn, self.params, self.seed = embeddings, knn, params, seed
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._errors: IO[bytes] | None = None

    @property
    def in_child(self) -> bool:
        """Whether a child process computes the check."""
        return self._child is not None

    def __enter__(self) -> SeedCheck:
        if len(self.embeddings) < self.CHILD_MIN or (os.cpu_count() or 1) < 2:
            return self
        self._folder = tempfile.TemporaryDirectory(
            prefix="trends-seed-check-", ignore_cleanup_errors=True
        )
        root = Path(self._folder.name)
        np.save(root / "embeddings.npy", np.asarray(self.embeddings, dtype=np.float32))
        np.save(root / "knn_indices.npy", self.knn[0])
        np.save(root / "knn_distances.npy", self.knn[1])
        self._errors = tempfile.TemporaryFile()
        command = [sys.executable, "-m", "pipeline.topics", "seed-check", str(root)]
        self._child = subprocess.Popen(
            [*command, str(self.seed), json.dumps(asdict(self.params))],
            stdout=subprocess.PIPE,
            stderr=self._errors,
            cwd=Path(__file__).resolve().parents[1],
        )
        return self

    def labels(self) -> np.ndarray:
        """The second seed's labels: the child's result, or computed here."""
        if self._child is not None:
            out, _ = self._child.communicate()
            if self._child.returncode == 0:
                return np.load(io.BytesIO(out))
            assert self._errors is not None
            self._errors.seek(0)
            tail = self._errors.read().decode(errors="replace").strip().splitlines()[-3:]
            log.warning(
                "seed check child exited with %s (%s); computing it in this process",
                self._child.returncode,
                " | ".join(tail),
            )
        return second_seed_labels(self.embeddings, self.knn, self.params, self.seed)

    def __exit__(self, *exc: object) -> None:
        if self._child is not None:
            if self._child.poll() is None:
                self._child.kill()  # the fit failed before it asked for the labels
            self._child.wait()
            if self._child.stdout is not None:
                self._child.stdout.close()
        if self._errors is not None:
            self._errors.close()
        if self._folder is not None:
            self._folder.cleanup()


def labels_agreement(embeddings: np.ndarray, labels_a: np.ndarray, labels_b: np.ndarray) -> float:
    """Share of papers, in topics both clusterings found, that keep their topic from a to b.

    Topics of b are matched to topics of a as a refit's are to the previous fit's
    (:func:`pipeline.lineage.match_topics`), so this is the figure a refit with the other
    seed would report as kept.
    """
    index = pd.RangeIndex(len(labels_a))
    assign_a, assign_b = pd.Series(labels_a, index=index), pd.Series(labels_b, index=index)
    cents_a, cents_b = centroids_of(embeddings, labels_a), centroids_of(embeddings, labels_b)
    if not cents_a or not cents_b:
        return float("nan")
    names = {t: f"a{t}" for t in cents_a}
    topics_a = pd.DataFrame(
        {
            "topic_id": list(cents_a),
            "stable_id": list(names.values()),
            "centroid": list(cents_a.values()),
        }
    )
    topics_b = pd.DataFrame({"topic_id": list(cents_b), "centroid": list(cents_b.values())})
    lineage = match_topics(topics_a, topics_b, assign_a, assign_b, next_number=0)
    return seed_agreement(lineage, assign_a, assign_b, names)


@contextmanager
def quiet_umap() -> Iterator[None]:
    """Silence the two warnings a seeded UMAP on given neighbours always raises at fit time."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"n_jobs value", category=UserWarning)
        yield


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
) -> TopicFit:
    """Fit BERTopic on precomputed embeddings and reduce outliers by centroid similarity.

    Same inputs and seed give the same topics. Outliers whose similarity to their nearest
    centroid reaches the fit's own ``outlier_quantile`` of in-topic similarities join that topic.
    ``embedder`` (the model of ``embeddings``) embeds candidate words; only the ``mmr``
    representation needs it.
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
        fit = _describe_fit(paper_ids, docs, embeddings, params, seed, embedder, model, labels)
        other = check.labels() if check else None
    if other is not None:
        fit.seed_check_agreement = labels_agreement(embeddings, labels, other)
    return fit


def _describe_fit(
    paper_ids: list[str],
    docs: list[str],
    embeddings: np.ndarray,
    params: TopicParams,
    seed: int,
    embedder: Embedder | None,
    model,
    labels: np.ndarray,
) -> TopicFit:
    """A fitted BERTopic ``model`` as a :class:`TopicFit`: words, NPMI, centroids, map."""
    clusterer = model.hdbscan_model
    sims = clusterer.similarity_
    method = np.where(clusterer.reassigned_, "outlier_reduction", "fit").astype(object)
    centroids = centroids_of(embeddings, labels)

    topic_ids = sorted(set(labels.tolist()))
    chosen = topic_terms(model, topic_ids, params, embedder)
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
        map_coords=project_map(paper_ids, embeddings, params, seed),
        topics=topics,
        assignments=assignments,
        outlier_share=float((labels == -1).mean()),
        outlier_share_before=clusterer.outlier_share_before_,
        npmi=float(np.nanmean(scores)) if len(scores) else float("nan"),
        diversity=topic_diversity(topics.loc[real, "terms"].tolist()),
        assign_threshold=clusterer.threshold_,
    )


def project_map(
    paper_ids: list[str], embeddings: np.ndarray, params: TopicParams, seed: int
) -> pd.DataFrame:
    """2-D UMAP coordinates of a seeded sample of papers, for the report's topic map."""
    n = len(paper_ids)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(n, size=min(n, params.map_sample), replace=False))
    if len(idx) < 5:
        return pd.DataFrame({"paper_id": [], "x": [], "y": []})
    sample = embeddings[idx]
    with quiet_umap():
        reducer = umap_model(sample, 2, 0.1, 15, seed).set_params(n_epochs=params.map_epochs)
        coords = reducer.fit_transform(sample)
    return pd.DataFrame(
        {"paper_id": [paper_ids[i] for i in idx], "x": coords[:, 0], "y": coords[:, 1]}
    )


@dataclass(frozen=True)
class TopicSummary:
    """What one full fit did (updates report an :class:`~pipeline.topic_update.UpdateSummary`)."""

    topic_run_id: str
    mode: str
    n_docs: int
    n_topics: int
    outlier_share: float
    npmi: float | None
    diversity: float | None
    seconds: float
    lineage_counts: dict[str, int] | None = None
    agreement: float | None = None
    seed_agreement: float | None = None

    def line(self) -> str:
        """One-line summary for the CLI and logs."""
        quality = ""
        if self.npmi is not None:
            quality = f", NPMI {self.npmi:.3f}, diversity {self.diversity:.2f}"
        if self.seed_agreement is not None and np.isfinite(self.seed_agreement):
            quality += f", seed stability {self.seed_agreement:.0%}"
        lineage = ""
        if self.lineage_counts:
            events = ", ".join(f"{n} {e}" for e, n in sorted(self.lineage_counts.items()))
            kept = (
                ""
                if self.agreement is None
                else f"; {self.agreement:.0%} of papers kept their topic"
            )
            lineage = f" ({events}{kept})"
        return (
            f"topics {self.mode}: {self.topic_run_id} placed {self.n_docs:,} papers in "
            f"{self.n_topics} topics{lineage}, outliers {self.outlier_share:.1%}{quality}, "
            f"{self.seconds:.1f}s"
        )


def current_topic_run(store: Store) -> str | None:
    """The latest complete fit."""
    return store.scalar("select topic_run_id from topic_runs order by created_at desc limit 1")


def fit_and_store(
    store: Store,
    model: str,
    seed: int,
    params: TopicParams | None = None,
    *,
    representation: str = "ctfidf",
    embedder: Callable[[], Embedder] | None = None,
) -> TopicSummary:
    """Fit topics on every embedded paper, match them to the previous fit, store it atomically.

    Without ``params`` the settings scale to the corpus (``TopicParams.for_corpus``) with the
    given ``representation``; ``embedder`` makes the model of ``model``, loaded only when the
    representation embeds words.
    """
    started = time.perf_counter()
    ids, embeddings = load_embeddings(store, model)
    if len(ids) < 20:
        raise ValueError(f"only {len(ids)} embedded papers for {model}; need at least 20 to fit")
    texts = store.query(
        "select paper_id, title || '. ' || abstract as text from papers order by paper_id"
    ).set_index("paper_id")["text"]
    docs = texts.loc[ids].tolist()
    params = params or TopicParams.for_corpus(len(ids), representation=representation)
    words_embedder = embedder() if embedder and params.representation == "mmr" else None
    fit = fit_topics(ids, docs, embeddings, params, seed, words_embedder)
    previous = current_topic_run(store)
    lineage, agreement = lineage_against(store, previous, fit)
    seconds = time.perf_counter() - started
    run_id = f"fit-{datetime.now(UTC):%Y%m%dT%H%M%S}-s{seed}"
    now = datetime.now(UTC).replace(tzinfo=None)
    _write_fit(store, run_id, model, seed, params, fit, seconds, now, previous, lineage, agreement)
    return TopicSummary(
        run_id,
        "full",
        len(ids),
        int((fit.topics["topic_id"] != -1).sum()),
        fit.outlier_share,
        fit.npmi,
        fit.diversity,
        seconds,
        lineage_counts=lineage.events["event"].value_counts().to_dict(),
        agreement=agreement,
        seed_agreement=fit.seed_check_agreement,
    )


def next_stable_number(store: Store) -> int:
    """The number the next new stable topic id gets (ids are never reused)."""
    last = store.scalar(
        "select max(cast(substr(stable_id, 2) as integer)) from topics where stable_id like 'T%'"
    )
    return int(last or 0) + 1


def lineage_against(
    store: Store, previous: str | None, fit: TopicFit
) -> tuple[Lineage, float | None]:
    """Match a new fit's topics to the fit ``previous`` (all born when there is none).

    Also returns the share of papers, among those in real topics of both fits, whose stable
    topic is the same in both (None without a previous fit).
    """
    real = fit.topics[fit.topics["topic_id"] != -1]
    prev_topics = pd.DataFrame(columns=["topic_id", "stable_id", "centroid"])
    prev_assign = pd.Series(dtype=int)
    if previous is not None:
        prev_topics = store.query(
            "select topic_id, stable_id, centroid from topics"
            " where topic_run_id = ? and topic_id <> -1 and stable_id is not null",
            [previous],
        )
        prev_assign = store.query(
            "select paper_id, topic_id from paper_topics where topic_run_id = ?", [previous]
        ).set_index("paper_id")["topic_id"]
    new_assign = fit.assignments.set_index("paper_id")["topic_id"]
    lineage = match_topics(prev_topics, real, prev_assign, new_assign, next_stable_number(store))
    if prev_topics.empty:
        return lineage, None
    stable_prev = dict(
        zip(prev_topics["topic_id"].astype(int), prev_topics["stable_id"], strict=True)
    )
    return lineage, seed_agreement(lineage, prev_assign, new_assign, stable_prev)


def topics_table(topics: pd.DataFrame, run_id: str, stable_ids: list[str | None]) -> pa.Table:
    """Rows of the ``topics`` table for a frame of topics (as :class:`TopicFit` holds them)."""
    return pa.table(
        {
            "topic_run_id": pa.array([run_id] * len(topics), pa.string()),
            "topic_id": pa.array(topics["topic_id"], pa.int32()),
            "label": pa.array(topics["label"], pa.string()),
            "terms": pa.array(topics["terms"].tolist(), pa.list_(pa.string())),
            "term_weights": pa.array(topics["term_weights"].tolist(), pa.list_(pa.float64())),
            "size": pa.array(topics["size"], pa.int32()),
            "npmi": pa.array(topics["npmi"].astype(float).tolist(), pa.float64()),
            "centroid": pa.array(
                [
                    None if c is None else np.asarray(c, np.float32).tolist()
                    for c in topics["centroid"]
                ],
                pa.list_(pa.float32()),
            ),
            "representative_ids": pa.array(
                topics["representative_ids"].tolist(), pa.list_(pa.string())
            ),
            "stable_id": pa.array(stable_ids, pa.string()),
        }
    )


def _write_fit(
    store: Store,
    run_id: str,
    model: str,
    seed: int,
    params: TopicParams,
    fit: TopicFit,
    seconds: float,
    now: datetime,
    previous: str | None,
    lineage: Lineage,
    agreement: float | None,
) -> None:
    stable = [lineage.stable_ids.get(int(t)) for t in fit.topics["topic_id"]]
    topics_arrow = topics_table(fit.topics, run_id, stable)
    events = lineage.events.assign(topic_run_id=run_id, previous_run_id=previous)
    assignments = fit.assignments.assign(topic_run_id=run_id, assigned_at=now)
    run_params = {
        **asdict(params),
        "assign_threshold": fit.assign_threshold,
        "outlier_share_before_reduction": fit.outlier_share_before,
    }
    coords = (
        fit.map_coords
        if fit.map_coords is not None
        else pd.DataFrame({"paper_id": [], "x": [], "y": []})
    )
    store.register("incoming_map", coords.assign(topic_run_id=run_id))
    store.register("incoming_lineage", events)
    store.register_arrow("incoming_topics", topics_arrow)
    store.register("incoming_paper_topics", assignments)
    try:
        with store.transaction():
            store.execute(
                "insert into topic_runs (topic_run_id, kind, model, seed, params, n_docs, n_topics,"
                " outlier_share, npmi, diversity, seed_agreement, fit_seconds, created_at)"
                " values (?, 'full', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    model,
                    seed,
                    json.dumps(run_params),
                    len(assignments),
                    int((fit.topics["topic_id"] != -1).sum()),
                    fit.outlier_share,
                    _finite(fit.npmi),
                    _finite(fit.diversity),
                    _finite(fit.seed_check_agreement),
                    seconds,
                    now,
                ],
            )
            store.execute("insert into topics by name select * from incoming_topics")
            store.execute(
                "insert into paper_topics by name select topic_run_id, paper_id, topic_id,"
                " similarity, method, assigned_at from incoming_paper_topics"
            )
            store.execute(
                "insert into paper_map by name select topic_run_id, paper_id::varchar as paper_id,"
                " x::float as x, y::float as y from incoming_map"
            )
            store.execute(
                "insert into topic_lineage by name select topic_run_id,"
                " previous_run_id::varchar as previous_run_id, event, stable_id,"
                " topic_id::integer as topic_id, previous_topic_id::integer as previous_topic_id,"
                " score::double as score from incoming_lineage"
            )
            store.execute(
                "update topic_runs set previous_run_id = ?, agreement_with_previous = ?"
                " where topic_run_id = ?",
                [previous, _finite(agreement), run_id],
            )
    finally:
        store.unregister("incoming_map")
        store.unregister("incoming_lineage")
        store.unregister("incoming_topics")
        store.unregister("incoming_paper_topics")


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


if __name__ == "__main__" and sys.argv[1:2] == ["seed-check"]:
    _seed_check_main(*sys.argv[2:5])
