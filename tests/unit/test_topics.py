"""Topic fitting and placement on synthetic clusters with real words (no model needed)."""

from dataclasses import replace

import numpy as np
import pytest
from embedded_papers import load_embedded_papers
from sklearn.metrics import adjusted_rand_score

from pipeline.embed import load_embeddings
from pipeline.topics.fit import bertopic_class, fit_topics
from pipeline.topics.outliers import OutlierReducingClusterer
from pipeline.topics.params import TopicParams
from pipeline.topics.persistence import current_topic_run
from pipeline.topics.seedcheck import SeedCheck, labels_agreement, second_seed_labels
from pipeline.topics.stage import fit_and_store, place_new_papers
from pipeline.topics.vectors import centroids_of, cosine_knn, nearest_topic
from pipeline.topics.words import (
    make_vectorizer,
    represent_terms,
    select_by_mmr,
    short_label,
    term_counts,
)

THEMES = {
    0: "robot manipulation grasping gripper arm trajectory",
    1: "protein folding molecule drug binding chemistry",
    2: "speech audio recognition acoustic speaker waveform",
    3: "graph neural network node message passing",
}


def synthetic_corpus(n_per=60, dim=32, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(len(THEMES), dim)) * 4
    X, labels, docs = [], [], []
    for t, words in THEMES.items():
        vocab = words.split()
        for _ in range(n_per):
            X.append(centers[t] + rng.normal(size=dim))
            labels.append(t)
            docs.append(" ".join(rng.choice(vocab, size=12)) + " study results")
    X = np.asarray(X, dtype=np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return [f"p{i:03d}" for i in range(len(docs))], docs, X, np.asarray(labels)


def test_short_label_skips_words_covered_by_phrases():
    assert short_label(["reinforcement learning", "reinforcement", "policy", "reward"]) == (
        "reinforcement learning, policy, reward"
    )
    assert (
        short_label(["robot", "manipulation", "robot manipulation", "grasp"])
        == "robot, manipulation, grasp"
    )


def test_nearest_topic_and_centroids():
    X = np.array([[1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32)
    cents = centroids_of(X, np.array([0, 0, 1]))
    assert np.allclose(np.linalg.norm(cents[0]), 1)
    topic, sim = nearest_topic(np.array([[0.1, 1.0]], dtype=np.float32), cents)
    assert topic.tolist() == [1] and sim[0] > 0.9


def test_cosine_knn_is_exact_and_blocking_changes_nothing(monkeypatch):
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 16)).astype(np.float32)
    X[7] = X[3]  # twins: each must still list itself first
    idx, dist = cosine_knn(X, 10)
    assert idx.shape == dist.shape == (300, 10) and idx.dtype == np.int64
    assert (idx[:, 0] == np.arange(300)).all() and np.allclose(dist[:, 0], 0, atol=1e-6)
    assert idx[3, 1] == 7 and idx[7, 1] == 3
    assert (np.diff(dist, axis=1) >= -1e-6).all()
    ref_dist, _ = (
        NearestNeighbors(n_neighbors=10, metric="cosine", algorithm="brute").fit(X).kneighbors(X)
    )
    assert np.allclose(np.sort(dist[:, 1:], axis=1), np.sort(ref_dist[:, 1:], axis=1), atol=1e-5)
    monkeypatch.setattr("pipeline.topics.vectors.KNN_BLOCK_FLOATS", 300 * 7)  # blocks of 7 rows
    idx2, dist2 = cosine_knn(X, 10)
    assert (idx2 == idx).all() and np.allclose(dist2, dist)
    assert cosine_knn(X[:4], 10)[0].shape == (4, 4)


@pytest.fixture(scope="module")
def fitted():
    ids, docs, X, truth = synthetic_corpus()
    params = TopicParams(min_cluster_size=25, min_samples=5, n_neighbors=10)
    return ids, docs, X, truth, fit_topics(ids, docs, X, params, seed=7), params


def test_fit_recovers_clusters_with_meaningful_terms(fitted):
    ids, docs, X, truth, fit, _ = fitted
    assert len(fit.topics[fit.topics.topic_id != -1]) == 4
    assert adjusted_rand_score(truth, fit.assignments["topic_id"]) > 0.9
    for row in fit.topics[fit.topics.topic_id != -1].itertuples():
        members = fit.assignments.loc[fit.assignments.topic_id == row.topic_id].index
        theme = np.bincount(truth[members]).argmax()
        assert set(row.terms[:3]) <= set(THEMES[theme].split()), (row.terms, theme)
    assert 0 <= fit.outlier_share <= fit.outlier_share_before <= 1
    assert 0 < fit.diversity <= 1 and fit.npmi > 0


class FixedLabels:
    """A clusterer stand-in that returns given labels."""

    def __init__(self, labels):
        self.given = np.asarray(labels)

    def fit(self, reduced):
        self.labels_ = self.given
        return self


def test_outliers_join_the_nearest_centroid_only_when_close_enough():
    angles = np.radians([0, 4, 8, 90, 94, 98, 6, 45, 200])
    X = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    labels = [0, 0, 0, 1, 1, 1, -1, -1, -1]  # 6 degrees: inside topic 0's spread; 45, 200: not
    reducer = OutlierReducingClusterer(FixedLabels(labels), X, quantile=0.0).fit(X[:, :1])
    assert reducer.labels_.tolist() == [0, 0, 0, 1, 1, 1, 0, -1, -1]
    assert reducer.reassigned_.tolist() == [False] * 6 + [True, False, False]
    assert reducer.outlier_share_before_ == pytest.approx(3 / 9)
    # the threshold is the loosest member's similarity (quantile 0): 4 degrees off its centroid
    assert reducer.threshold_ == pytest.approx(np.cos(np.radians(4)), abs=1e-6)
    assert reducer.similarity_[6] == pytest.approx(np.cos(np.radians(2)), abs=1e-6)
    assert reducer.similarity_[1] == pytest.approx(1.0, abs=1e-6)


def test_every_paper_an_outlier_leaves_them_so():
    X = np.eye(3, dtype=np.float32)
    reducer = OutlierReducingClusterer(FixedLabels([-1, -1, -1]), X, quantile=0.03).fit(X)
    assert reducer.labels_.tolist() == [-1, -1, -1] and not reducer.reassigned_.any()


def test_bertopic_still_has_the_representative_docs_hook():
    # fit_topics skips BERTopic's own representative documents through a private method; a
    # BERTopic that renamed it would silently bring the cost back.
    from bertopic import BERTopic

    assert callable(getattr(BERTopic, "_save_representative_docs", None))
    assert bertopic_class()._save_representative_docs is not BERTopic._save_representative_docs


def test_mmr_trades_weight_for_novelty_and_keeps_the_ranking_order():
    weights = np.array([1.0, 0.95, 0.9, 0.5])
    # the second term says what the first says; the others are new
    vectors = np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    assert select_by_mmr(weights, vectors, diversity=0.0, n=3) == [0, 1, 2]
    assert select_by_mmr(weights, vectors, diversity=0.5, n=3) == [0, 2, 3]
    assert select_by_mmr(weights, vectors, diversity=0.5, n=10) == [0, 1, 2, 3]
    assert select_by_mmr(np.array([]), np.zeros((0, 3)), diversity=0.5, n=3) == []


def test_represent_terms_embeds_each_candidate_once(word_embedder):
    candidates = [
        (["graph", "graphs", "graph neural", "node", "message"], [5.0, 4.9, 4.0, 3.0, 1.0]),
        (["graph", "protein", "folding"], [2.0, 1.5, 1.0]),
    ]
    plain = represent_terms(
        candidates, top_n=2, representation="ctfidf", diversity=0.2, embedder=None
    )
    assert plain == [(["graph", "graphs"], [5.0, 4.9]), (["graph", "protein"], [2.0, 1.5])]
    with pytest.raises(ValueError, match="needs an embedder"):
        represent_terms(candidates, top_n=2, representation="mmr", diversity=0.2, embedder=None)
    chosen = represent_terms(
        candidates, top_n=3, representation="mmr", diversity=0.5, embedder=word_embedder
    )
    assert word_embedder.calls == [sorted({w for words, _ in candidates for w in words})]
    words, weights = chosen[0]
    assert words[0] == "graph" and "graph neural" not in words and len(words) == 3
    assert weights == sorted(weights, reverse=True)  # still in c-TF-IDF order
    assert all(set(w) <= set(c[0]) for (w, _), c in zip(chosen, candidates, strict=True))


def test_unknown_representation_is_refused():
    with pytest.raises(ValueError, match="representation 'keywords' is not one of ctfidf, mmr"):
        TopicParams(representation="keywords")
    with pytest.raises(ValueError, match="mmr_diversity"):
        TopicParams(mmr_diversity=1.5)


def test_mmr_fit_picks_its_words_among_the_c_tf_idf_candidates(fitted, word_embedder):
    ids, docs, X, _, fit, params = fitted
    mmr = replace(params, representation="mmr", mmr_diversity=0.5)
    with pytest.raises(ValueError, match="needs the embedding model"):
        fit_topics(ids, docs, X, mmr, seed=7)
    ranked = fit_topics(ids, docs, X, replace(params, top_n_words=30), seed=7)
    chosen = fit_topics(ids, docs, X, mmr, seed=7, embedder=word_embedder)
    assert chosen.assignments.equals(fit.assignments)  # words change, topics do not
    assert len(word_embedder.calls) == 1
    differ = 0
    for mine, wide, plain in zip(
        chosen.topics.itertuples(), ranked.topics.itertuples(), fit.topics.itertuples(), strict=True
    ):
        assert set(mine.terms) <= set(wide.terms) and len(mine.terms) == len(plain.terms)
        if mine.topic_id != -1:
            assert mine.terms[0] == plain.terms[0]
        differ += mine.terms != plain.terms
    assert differ > 0


def test_every_fit_measures_its_seed_stability(fitted):
    ids, docs, X, truth, fit, params = fitted
    other = second_seed_labels(X, cosine_knn(X, params.n_neighbors), params, seed=8)
    assert fit.seed_check_agreement == labels_agreement(
        X, fit.assignments["topic_id"].to_numpy(), other
    )
    assert fit.seed_check_agreement > 0.9  # four well-separated clusters: any seed finds them
    unchecked = fit_topics(ids, docs, X, replace(params, seed_check=False), seed=7)
    assert unchecked.seed_check_agreement is None
    assert unchecked.assignments.equals(fit.assignments)


def test_seed_check_in_a_child_process_gives_what_it_gives_here(fitted, monkeypatch):
    _, _, X, _, fit, params = fitted
    knn = cosine_knn(X, params.n_neighbors)
    monkeypatch.setattr(SeedCheck, "CHILD_MIN", 0)
    with SeedCheck(X, knn, params, seed=8) as check:
        assert check.in_child
        labels = check.labels()
    assert np.array_equal(labels, second_seed_labels(X, knn, params, seed=8))


def test_labels_agreement_matches_topics_whatever_their_numbers():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 8))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    a = np.repeat([0, 1, 2], 20)
    assert labels_agreement(X, a, (a + 1) % 3) == 1.0  # renumbered, same partition
    b = a.copy()
    b[:5] = 1  # five papers of topic 0 moved to topic 1
    b[20:22] = -1  # two papers became outliers: not counted
    assert labels_agreement(X, a, b) == pytest.approx(53 / 58)
    assert np.isnan(labels_agreement(X, a, np.full(60, -1)))


def test_same_seed_same_topics(fitted):
    ids, docs, X, _, fit, params = fitted
    again = fit_topics(ids, docs, X, params, seed=7)
    assert again.assignments["topic_id"].tolist() == fit.assignments["topic_id"].tolist()
    assert again.topics["terms"].tolist() == fit.topics["terms"].tolist()


def test_fit_store_then_place_new_papers(store):
    ids, docs, X, truth = synthetic_corpus(n_per=50)
    load_embedded_papers(store, ids[:180], docs[:180], X[:180])
    with pytest.raises(ValueError, match="no topic fit"):
        place_new_papers(store, "syn")
    summary = fit_and_store(
        store, "syn", seed=3, params=TopicParams(min_cluster_size=20, n_neighbors=10)
    )
    assert summary.n_topics >= 3 and current_topic_run(store) == summary.topic_run_id
    stored = store.scalar("select params from topic_runs")
    assert '"representation": "ctfidf"' in stored and '"seed_check": true' in stored
    stability = store.scalar("select seed_agreement from topic_runs")
    assert 0.5 < stability <= 1 and f"seed stability {stability:.0%}" in summary.line()
    loaded_ids, _ = load_embeddings(store, "syn")
    assert loaded_ids == sorted(ids[:180])
    assert place_new_papers(store, "syn").mode == "current"
    # an outsider far from every topic goes to the novelty pool (-1)
    outsider = np.zeros((1, X.shape[1]), dtype=np.float32)
    outsider[0, 0] = 1.0
    load_embedded_papers(
        store, [*ids[180:], "px"], [*docs[180:], "nothing alike"], np.vstack([X[180:], outsider])
    )
    update = place_new_papers(store, "syn")
    assert update.mode == "update" and update.n_docs == 21
    placed = store.query(
        "select paper_id, topic_id, method from paper_topics where method = 'update'"
    )
    assert len(placed) == 21
    assert placed.set_index("paper_id").loc["px", "topic_id"] == -1
    fit_topic = store.query(
        "select paper_id, topic_id from paper_topics where method <> 'update'"
    ).set_index("paper_id")["topic_id"]
    # new papers of a theme land in a topic made of that theme's fitted papers
    theme_of = {p: truth[ids.index(p)] for p in ids}
    for pid, topic in placed.set_index("paper_id")["topic_id"].drop("px").items():
        members = fit_topic[fit_topic == topic].index
        assert np.mean([theme_of[m] == theme_of[pid] for m in members]) > 0.9
    assert place_new_papers(store, "syn").mode == "current"


def test_update_labels_weigh_terms_as_the_fit_does():
    """The update's c-TF-IDF (no BERTopic import) equals BERTopic's transformer the fit uses."""
    from bertopic.vectorizers import ClassTfidfTransformer
    from scipy import sparse

    from pipeline.topics.words import class_tfidf

    counts = sparse.csr_matrix(np.random.default_rng(0).poisson(0.7, size=(6, 40)))
    expected = ClassTfidfTransformer(reduce_frequent_words=True, bm25_weighting=True)
    assert np.allclose(
        class_tfidf(counts).toarray(), expected.fit_transform(counts.astype(float)).toarray()
    )


@pytest.mark.parametrize(
    ("n_docs", "min_cluster_size"),
    [(300, 10), (2_225, 24), (2_500, 25), (5_000, 35), (18_527, 74), (31_466, 125)],
)
def test_minimum_topic_size_grows_with_the_corpus(n_docs, min_cluster_size):
    params = TopicParams.for_corpus(n_docs)
    assert params.min_cluster_size == min_cluster_size
    assert 3 <= params.min_samples <= params.min_cluster_size


def test_topic_count_does_not_grow_as_the_corpus_shrinks():
    # the most topics a corpus can hold (n / min size) rises with the corpus size
    capacity = [n / TopicParams.for_corpus(n).min_cluster_size for n in range(500, 40_000, 500)]
    assert capacity == sorted(capacity)


def test_term_counts_equal_countvectorizer_on_real_abstracts():
    from pathlib import Path

    import pandas as pd

    arxiv = Path(__file__).resolve().parents[3] / "shared" / "data" / "arxiv_cs_ai_2025.parquet"
    frame = pd.read_parquet(arxiv, columns=["title", "abstract"]).head(400)
    docs = (frame["title"] + ". " + frame["abstract"]).tolist()
    docs += ["", "The of and", "Large language-models LARGE LANGUAGE MODELS large the language"]
    fitted = make_vectorizer().fit(docs)
    counts = np.asarray(fitted.transform(docs).sum(axis=0)).ravel()
    names = fitted.get_feature_names_out()
    bigrams = [t for t in names[np.argsort(-counts)] if " " in t][:150]
    unigrams = [t for t in names[np.argsort(-counts)] if " " not in t][:150]
    terms = [*bigrams, *unigrams, "no such term", "absent"]
    ours, vocabulary = term_counts(docs, terms)
    reference = make_vectorizer(sorted(set(terms)))
    expected = reference.transform(docs)
    assert vocabulary == reference.vocabulary_
    assert ours.shape == expected.shape == (len(docs), len(set(terms)))
    assert (ours != expected).nnz == 0 and ours.sum() > 1000
