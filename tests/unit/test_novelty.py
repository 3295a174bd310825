"""Topic updates: new papers join topics or the novelty pool; dense pools become new topics.

The fit is written by hand (no UMAP), so these tests run in seconds.
"""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipeline.topics.novelty import (
    find_new_topics,
    novelty_rule,
    place_by_centroid,
    pool_minimum,
)
from pipeline.topics.persistence import topics_table
from pipeline.topics.stage import place_new_papers
from pipeline.topics.vectors import centroids_of
from pipeline.topics.words import (
    class_tfidf,
    class_top_terms,
    clean_for_terms,
    make_vectorizer,
    streamed_class_top_terms,
)

DIM = 48
THEMES = {
    0: ("robot manipulation grasping gripper arm trajectory", 0.9),
    1: ("protein folding molecule drug binding chemistry", 1.1),
    2: ("speech audio recognition acoustic speaker waveform", 1.0),
}
NEW_THEME = "quantum circuit qubit entanglement gate hamiltonian"
PARAMS = {"min_cluster_size": 15, "min_samples": 5, "top_n_words": 5}


def unit(x):
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def directions(seed=0):
    """Orthogonal unit directions: one per fitted theme and one for the new theme."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(DIM, DIM)))
    return q.T[: len(THEMES) + 1].astype(np.float32)


def papers_around(center, n, spread, words, prefix, rng):
    """``n`` papers near a direction, with abstracts drawn from the theme's words."""
    X = unit(center * 3.0 + rng.normal(size=(n, DIM)) * spread / np.sqrt(DIM) * 3.0)
    vocab = words.split()
    docs = [" ".join(rng.choice(vocab, size=10)) for _ in range(n)]
    return [f"{prefix}{i:03d}" for i in range(n)], docs, X


def scattered(n, prefix, rng):
    """Papers in random directions: far from every topic and from each other."""
    X = unit(rng.normal(size=(n, DIM)))
    docs = [
        " ".join(rng.choice(["misc", "assorted", "various", "other"], size=8)) for _ in range(n)
    ]
    return [f"{prefix}{i:03d}" for i in range(n)], docs, X


def add_papers(store, ids, docs, X):
    store.register(
        "p", pd.DataFrame({"paper_id": ids, "title": docs, "abstract": docs, "content_hash": ids})
    )
    store.execute(
        "insert into papers (paper_id, source, title, abstract, date_precision, content_hash,"
        " first_run_id, last_run_id, ingested_at, updated_at) select paper_id, 'syn', title,"
        " abstract, 'unknown', content_hash, 'r', 'r', now(), now() from p"
    )
    store.unregister("p")
    table = pa.table(
        {
            "paper_id": ids,
            "model": ["syn"] * len(ids),
            "content_hash": ids,
            "embedding": pa.array(np.asarray(X).tolist(), pa.list_(pa.float32())),
        }
    )
    store.register_arrow("e", table)
    store.execute("insert into paper_embeddings select *, now() from e")
    store.unregister("e")


def write_fit(store, ids, X, labels, run_id="fit-1", params=None):
    """A fit as `trends topics --full` stores it, with the rule's threshold from the fit."""
    cents = centroids_of(X, labels)
    own = np.array([X[i] @ cents[t] for i, t in enumerate(labels)])
    threshold = float(np.quantile(own, 0.05))
    store.execute(
        "insert into topic_runs (topic_run_id, kind, model, seed, params, n_docs, n_topics,"
        " outlier_share, created_at) values (?, 'full', 'syn', 1, ?, ?, ?, 0, now())",
        [
            run_id,
            json.dumps({**(params or PARAMS), "assign_threshold": threshold}),
            len(ids),
            len(cents),
        ],
    )
    rows = pd.DataFrame(
        {
            "topic_id": list(cents),
            "label": [THEMES[t][0].split()[0] for t in cents],
            "terms": [THEMES[t][0].split()[:3] for t in cents],
            "term_weights": [[1.0, 0.5, 0.2]] * len(cents),
            "size": [int((labels == t).sum()) for t in cents],
            "npmi": [0.1] * len(cents),
            "centroid": list(cents.values()),
            "representative_ids": [[ids[int(np.flatnonzero(labels == t)[0])]] for t in cents],
        }
    )
    store.register_arrow("t", topics_table(rows, run_id, [f"T{t + 1:04d}" for t in cents]))
    store.execute("insert into topics by name select * from t")
    store.unregister("t")
    store.register(
        "pt",
        pd.DataFrame({"paper_id": ids, "topic_id": labels, "similarity": own, "method": "fit"}),
    )
    store.execute(
        "insert into paper_topics select ?, paper_id, topic_id, similarity, method, now() from pt",
        [run_id],
    )
    store.unregister("pt")
    return threshold


@pytest.fixture
def fitted(store):
    """A store holding a hand-written fit of three topics (60 papers each)."""
    return fitted_store(store, PARAMS)


def fitted_store(store, params):
    rng = np.random.default_rng(1)
    dirs = directions()
    ids, docs, X, labels = [], [], [], []
    for t, (words, spread) in THEMES.items():
        i, d, x = papers_around(dirs[t], 60, spread, words, f"f{t}-", rng)
        ids += i
        docs += d
        X.append(x)
        labels += [t] * len(i)
    X = np.vstack(X)
    add_papers(store, ids, docs, X)
    write_fit(store, ids, X, np.asarray(labels), params=params)
    return store, dirs, rng


def snapshot(store):
    topics = store.query("select * exclude (centroid) from topics order by topic_id")
    fitted = store.query("select * from paper_topics where method = 'fit' order by paper_id")
    return topics, fitted


# -- pure rules ---------------------------------------------------------------------------------


def test_pool_minimum_has_a_floor():
    assert pool_minimum(10) == 30 and pool_minimum(125) == 125


def test_papers_far_from_every_centroid_go_to_the_pool():
    cents = {0: unit([1.0, 0.0, 0.0]), 1: unit([0.0, 1.0, 0.0])}
    X = unit([[0.9, 0.1, 0.0], [0.1, 0.9, 0.1], [0.05, 0.05, 1.0]])
    topic, nearest, sims = place_by_centroid(X, cents, threshold=0.5)
    assert topic.tolist() == [0, 1, -1]
    assert nearest.tolist()[:2] == [0, 1] and sims[2] < 0.5


def test_rule_comes_from_the_loosest_fitted_topic():
    rng = np.random.default_rng(0)
    dirs = directions()
    _, _, tight = papers_around(dirs[0], 40, 0.5, "a b", "t", rng)
    _, _, loose = papers_around(dirs[1], 40, 1.5, "a b", "l", rng)
    X = np.vstack([tight, loose])
    labels = np.array([0] * 40 + [1] * 40)
    rule = novelty_rule(X, labels, min_cluster_size=15, min_samples=5)
    alone = novelty_rule(loose, np.zeros(40, dtype=int), 15, 5)
    assert rule.density == pytest.approx(alone.density)
    assert rule.cohesion == pytest.approx(alone.cohesion)
    assert rule.min_size == 15 and rule.k == 5


def test_dense_pool_group_is_found_and_scattered_papers_are_not():
    rng = np.random.default_rng(2)
    dirs = directions()
    _, _, fitted = papers_around(dirs[0], 60, 1.0, "a", "f", rng)
    rule = novelty_rule(fitted, np.zeros(60, dtype=int), min_cluster_size=15, min_samples=5)
    _, _, dense = papers_around(dirs[3], 60, 1.0, "q", "n", rng)
    _, _, noise = scattered(40, "s", rng)
    labels = find_new_topics(np.vstack([noise, dense]), rule)
    assert (labels[40:] == 0).mean() >= 0.8
    assert (labels[:40] == -1).all()
    assert (find_new_topics(noise, rule) == -1).all()
    # a dense group smaller than the fit's smallest topic forms nothing
    assert (find_new_topics(np.vstack([noise, dense[:10]]), rule) == -1).all()


def test_class_top_terms_favour_words_unique_to_the_class():
    docs = ["qubit gate circuit model"] * 5 + ["robot arm model"] * 5 + ["speech model"] * 5
    terms = class_top_terms(docs, np.array([2] * 5 + [0] * 5 + [1] * 5), [2], 3)
    words, weights = terms[2]
    assert "model" not in words and weights == sorted(weights, reverse=True)
    assert all({"qubit", "gate", "circuit"} & set(w.split()) for w in words)


def test_class_top_terms_equal_a_c_tf_idf_over_the_whole_vocabulary():
    rng = np.random.default_rng(4)
    words = [w for theme, _ in THEMES.values() for w in theme.split()] + NEW_THEME.split()
    docs = [" ".join(rng.choice(words, size=int(rng.integers(3, 15)))) for _ in range(80)]
    classes = rng.integers(-1, 4, size=80)
    vectorizer = make_vectorizer()
    doc_term = vectorizer.fit_transform(clean_for_terms(docs))
    uniq = np.unique(classes)
    class_term = np.stack([np.asarray(doc_term[classes == c].sum(axis=0)).ravel() for c in uniq])
    full = class_tfidf(class_term).toarray()
    vocab = vectorizer.get_feature_names_out()
    got = class_top_terms(docs, classes, [1, 3], 8)
    for target in (1, 3):
        row = full[list(uniq).index(target)]
        top = np.argsort(-row, kind="stable")[:8]
        assert np.allclose(got[target][1], row[top])
        assert set(got[target][0]) <= set(vocab[row > 0])


def test_streamed_class_top_terms_equal_the_in_memory_ones_for_any_batching():
    rng = np.random.default_rng(5)
    words = [w for theme, _ in THEMES.values() for w in theme.split()] + NEW_THEME.split()
    docs = [" ".join(rng.choice(words, size=int(rng.integers(3, 15)))) for _ in range(90)]
    classes = rng.integers(-1, 4, size=90)
    whole = class_top_terms(docs, classes, [0, 2], 6)
    for size in (1, 7, 89):

        def batches(size=size):
            for lo in range(0, len(docs), size):
                yield docs[lo : lo + size], classes[lo : lo + size]

        got = streamed_class_top_terms(batches, np.unique(classes), [0, 2], 6)
        assert got.keys() == whole.keys()
        for target in whole:
            assert got[target][0] == whole[target][0]
            assert np.allclose(got[target][1], whole[target][1])


# -- the update stage on a store ----------------------------------------------------------------


def test_update_places_new_papers_and_pools_the_misfits(fitted):
    store, dirs, rng = fitted
    before = snapshot(store)
    near_ids, near_docs, near = papers_around(dirs[1], 6, 0.6, THEMES[1][0], "u1-", rng)
    far_ids, far_docs, far = scattered(4, "x", rng)
    add_papers(store, near_ids + far_ids, near_docs + far_docs, np.vstack([near, far]))
    summary = place_new_papers(store, "syn")
    assert summary.mode == "update" and summary.n_docs == 10
    assert summary.n_placed == 6 and summary.n_pooled == 4 and summary.born == []
    assert "placed 10 papers" in summary.line() and "4 went to the novelty pool" in summary.line()
    placed = store.query(
        "select paper_id, topic_id from paper_topics where method = 'update'"
    ).set_index("paper_id")["topic_id"]
    assert (placed.loc[near_ids] == 1).all() and (placed.loc[far_ids] == -1).all()
    pool = store.query("select paper_id from novelty_pool order by paper_id")["paper_id"]
    assert pool.tolist() == sorted(far_ids)
    assert store.scalar("select count(*) from topic_updates") == 1
    for a, b in zip(before, snapshot(store), strict=True):
        pd.testing.assert_frame_equal(a, b)
    # nothing new: nothing changes, nothing is duplicated
    again = place_new_papers(store, "syn")
    assert again.mode == "current" and again.pool_size == 4
    assert store.scalar("select count(*) from paper_topics") == 190
    assert store.scalar("select count(*) from topic_updates") == 1


def test_dense_pool_becomes_a_new_topic_with_a_birth(fitted):
    store, dirs, rng = fitted
    before = snapshot(store)
    # first day: some papers of a new theme and a few misfits; the pool is below its minimum
    q_ids, q_docs, q = papers_around(dirs[3], 40, 1.0, NEW_THEME, "q", rng)
    s_ids, s_docs, s = scattered(8, "s", rng)
    add_papers(store, q_ids[:12] + s_ids, q_docs[:12] + s_docs, np.vstack([q[:12], s]))
    first = place_new_papers(store, "syn")
    assert first.n_pooled == 20 and first.pool_size == 20 and first.born == []
    # second day: the rest of the new theme arrives; the pool reaches its minimum (30)
    add_papers(store, q_ids[12:], q_docs[12:], q[12:])
    second = place_new_papers(store, "syn")
    assert len(second.born) == 1
    stable_id, label, size = second.born[0]
    assert stable_id == "T0004" and size >= 36
    new_topic = store.query("select * from topics where stable_id = ?", [stable_id]).iloc[0]
    assert new_topic["topic_id"] == 3 and set(new_topic["terms"][:3]) <= set(NEW_THEME.split())
    assert new_topic["size"] == size and np.isfinite(new_topic["npmi"])
    birth = store.query("select * from topic_lineage")
    assert birth[["event", "stable_id", "topic_id"]].values.tolist() == [["born", stable_id, 3]]
    assert birth["update_run_id"].iloc[0] == second.update_run_id
    # papers of the new theme, from both days, left the pool; the misfits stayed
    members = store.query("select paper_id from paper_topics where topic_id = 3 order by paper_id")[
        "paper_id"
    ]
    assert len(set(q_ids[:12]) & set(members)) >= 10 and len(members) == size
    pool = set(store.query("select paper_id from novelty_pool")["paper_id"])
    assert pool.isdisjoint(members) and second.pool_size == len(pool)
    assert set(s_ids) | (set(q_ids) - set(members)) == pool
    record = store.query(
        "select n_born, n_joined_born, pool_size, params from topic_updates"
        " where update_run_id = ?",
        [second.update_run_id],
    ).iloc[0]
    assert record["n_born"] == 1 and record["n_joined_born"] == size
    assert json.loads(record["params"])["rule"]["min_size"] == 15
    # existing topics and their papers are untouched
    topics_after, fitted_after = snapshot(store)
    pd.testing.assert_frame_equal(before[0], topics_after[topics_after.topic_id < 3])
    pd.testing.assert_frame_equal(before[1], fitted_after)
    # rerun: nothing to place, no duplicate topic, birth or row
    assert place_new_papers(store, "syn").mode == "current"
    assert store.scalar("select count(*) from topics where topic_id = 3") == 1
    assert store.scalar("select count(*) from topic_lineage") == 1
    assert store.scalar("select count(*) from paper_topics") == 180 + 48
    # later papers of the new theme join it like any topic
    more_ids, more_docs, more = papers_around(dirs[3], 3, 1.0, NEW_THEME, "r", rng)
    add_papers(store, more_ids, more_docs, more)
    assert place_new_papers(store, "syn").n_placed == 3
    assert store.scalar("select count(*) from paper_topics where topic_id = 3") == size + 3


def test_born_topics_choose_their_words_as_the_fit_did(store, word_embedder):
    """A fit that chose its words by MMR gives topics born after it MMR words too."""
    params = {**PARAMS, "representation": "mmr", "mmr_diversity": 0.5, "mmr_candidates": 12}
    store, dirs, rng = fitted_store(store, params)
    before = snapshot(store)
    q_ids, q_docs, q = papers_around(dirs[3], 40, 1.0, NEW_THEME, "q", rng)
    add_papers(store, q_ids, q_docs, q)
    with pytest.raises(ValueError, match="needs an embedder"):
        place_new_papers(store, "syn")
    for a, b in zip(before, snapshot(store), strict=True):  # nothing half-written
        pd.testing.assert_frame_equal(a, b)
    summary = place_new_papers(store, "syn", lambda: word_embedder)
    assert len(summary.born) == 1 and len(word_embedder.calls) == 1
    candidates = set(word_embedder.calls[0])
    terms = store.query("select terms from topics where topic_id = 3")["terms"].iloc[0]
    assert len(terms) == 5 and set(terms) <= candidates and len(candidates) > 5


def test_sparse_pool_forms_no_topic(fitted):
    store, _, rng = fitted
    ids, docs, X = scattered(45, "s", rng)
    add_papers(store, ids, docs, X)
    summary = place_new_papers(store, "syn")
    assert summary.n_pooled == 45 and summary.born == [] and summary.pool_size == 45
    assert store.scalar("select count(*) from topics") == 3
    assert store.scalar("select count(*) from topic_lineage") == 0
    assert "no new topics" in summary.line()


def test_update_without_a_fit_fails_clearly(store):
    with pytest.raises(ValueError, match="no topic fit"):
        place_new_papers(store, "syn")


def test_update_with_another_embedding_model_asks_for_a_refit(fitted):
    store, _, _ = fitted
    with pytest.raises(ValueError, match="refit"):
        place_new_papers(store, "other-model")


def test_born_topics_re_rank_their_words_by_co_occurrence_when_the_fit_did(store, monkeypatch):
    """A fit with ``term_coherence`` gives its born topics co-occurrence words over its papers."""
    import pipeline.topics.update as update

    calls, original = [], update.streamed_coherent_terms

    def spy(candidates, batches, *, top_n, coherence):
        chosen = original(candidates, batches, top_n=top_n, coherence=coherence)
        calls.append((candidates, coherence, sum(len(t) for t, _ in batches()), chosen))
        return chosen

    monkeypatch.setattr(update, "streamed_coherent_terms", spy)
    params = {**PARAMS, "term_coherence": 0.5, "mmr_candidates": 12}
    store, dirs, rng = fitted_store(store, params)
    q_ids, q_docs, q = papers_around(dirs[3], 40, 1.0, NEW_THEME, "q", rng)
    add_papers(store, q_ids, q_docs, q)
    summary = place_new_papers(store, "syn")
    assert len(summary.born) == 1 and len(calls) == 1
    (candidates, coherence, n_read, chosen) = calls[0]
    assert coherence == 0.5 and len(candidates[0][0]) > 5  # chosen out of more than it shows
    assert n_read == store.scalar("select count(*) from papers")  # every paper of the fit
    terms = store.query("select terms from topics where topic_id = 3")["terms"].iloc[0]
    assert list(terms) == chosen[0][0] and len(terms) == 5
