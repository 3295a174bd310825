"""Topic names and areas on synthetic topics with planted phrases (no model needed)."""

import numpy as np
import pandas as pd
import pytest
from embedded_papers import load_embedded_papers

from pipeline.topics.areas import area_count, group_topics
from pipeline.topics.naming import (
    NameRules,
    candidate_phrases,
    compose_name,
    keep_names,
    name_accuracy,
    name_topics,
    near_duplicates,
)

# Each topic has a phrase only it uses, and shares its filler words with every other topic.
PLANTED = {
    0: "protein folding dynamics",
    1: "speech recognition",
    2: "graph neural networks",
    3: "robot grasping policies",
}
FILLER = "we study models and data with large language models to learn representations".split()  # noqa: SIM905


def planted_corpus(n_per=40, seed=0):
    rng = np.random.default_rng(seed)
    docs, labels = [], []
    for topic, phrase in PLANTED.items():
        for _ in range(n_per):
            words = list(rng.choice(FILLER, size=10))
            words.insert(int(rng.integers(0, 10)), phrase)
            docs.append(f"Title about {phrase}. " + " ".join(words) + ".")
            labels.append(topic)
    return docs, np.asarray(labels)


def centroids_from(docs, labels, encode):
    vectors = np.asarray(encode(docs), np.float64)
    return {int(t): vectors[labels == t].mean(axis=0) for t in np.unique(labels)}


def test_candidate_phrases_neither_start_nor_end_with_stop_words_nor_cross_punctuation():
    phrases = candidate_phrases("Diffusion models for video generation. The results show gains")
    assert "diffusion models for video generation" not in phrases  # five words: too long
    assert "models for video generation" in phrases and "diffusion models" in phrases
    assert not any(p.split()[0] in {"for", "the"} or p.split()[-1] == "for" for p in phrases)
    assert "generation results" not in phrases  # crosses the full stop
    assert not any("results" in p.split() for p in phrases)  # scientific boilerplate


@pytest.mark.parametrize("embedded", [False, True])
def test_each_topic_is_named_by_its_planted_phrase(word_embedder, embedded):
    docs, labels = planted_corpus()
    encode = word_embedder.encode if embedded else None
    names = name_topics(docs, labels, centroids_from(docs, labels, word_embedder.encode), encode)
    for topic, phrase in PLANTED.items():
        name = names[topic]
        assert 2 <= len(name.replace(",", "").split()) <= 6
        # every word of the name comes from the topic's own phrase, none from the filler
        assert set(name.replace(",", "").split()) <= set(phrase.split()), (topic, name)


def test_names_are_unique_words_of_their_topic_so_accuracy_beats_shuffled_names(word_embedder):
    docs, labels = planted_corpus()
    centroids = centroids_from(docs, labels, word_embedder.encode)
    names = name_topics(docs, labels, centroids, word_embedder.encode)
    assert name_accuracy(names, centroids, word_embedder.encode) == 1.0
    shuffled = dict(zip(names, np.roll(list(names.values()), 1), strict=True))
    assert name_accuracy(shuffled, centroids, word_embedder.encode) == 0.0


def test_near_duplicates_are_not_joined():
    phrases = ["diffusion models", "diffusion model", "video generation"]
    name = compose_name(phrases, np.array([3.0, 2.0, 1.0]), None, NameRules(min_words=4))
    assert name == "diffusion models, video generation"


def test_forms_of_one_word_are_near_duplicates_but_words_sharing_a_short_prefix_are_not():
    phrases = ["robot", "robotic manipulation", "medical imaging", "grasping"]
    name = compose_name(phrases, np.array([4.0, 3.0, 2.0, 1.0]), None, NameRules(min_words=4))
    assert name == "robot, medical imaging, grasping"
    assert near_duplicates("hallucination", "hallucinated outputs")
    assert near_duplicates("agent", "agentic workflows")
    assert not near_duplicates("medical", "media bias")  # four letters in common: two words
    assert not near_duplicates("causal discovery", "casual users")


def test_a_name_stays_within_max_words():
    phrases = ["a b c d", "e f g h", "i j"]
    name = compose_name(phrases, np.array([3.0, 2.0, 1.0]), None, NameRules(min_words=6))
    assert name == "a b c d, i j"


def test_a_continued_topic_keeps_its_name_unless_its_content_moved():
    names = {0: "new zero", 1: "new one", 2: "new two"}
    lineage = pd.DataFrame(
        {
            "event": ["continued", "continued", "born"],
            "topic_id": [0, 1, 2],
            "previous_topic_id": [5, 6, None],
            "score": [0.9, 0.55, None],
        }
    )
    kept = keep_names(names, lineage, {5: "old five", 6: "old six"})
    assert kept == {0: "old five", 1: "new one", 2: "new two"}


def test_areas_group_topics_whose_centroids_are_close():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=16), rng.normal(size=16)
    centroids = {t: a + 0.1 * rng.normal(size=16) for t in range(5)}
    centroids |= {t: b + 0.1 * rng.normal(size=16) for t in range(5, 8)}
    areas = group_topics(centroids, 2)
    assert {areas[t] for t in range(5)} == {1} and {areas[t] for t in range(5, 8)} == {2}
    assert area_count(3) == 1 and area_count(16) == 4 and area_count(200) == 8


def test_a_refit_that_keeps_its_topics_keeps_their_names_and_stable_ids(store):
    """Names are stored with the fit, used as the report's label, and survive a refit."""
    from conftest import WordEmbedder

    from pipeline.topics.params import TopicParams
    from pipeline.topics.stage import fit_and_store

    word_embedder = WordEmbedder(dim=32)  # the fit's "model": vectors as wide as the papers'
    docs, labels = planted_corpus(n_per=45)
    ids = [f"p{i:03d}" for i in range(len(docs))]
    X = word_embedder.encode(docs)  # papers in the space the names are embedded in
    load_embedded_papers(store, ids, docs, X)
    params = TopicParams(min_cluster_size=20, n_neighbors=10, seed_check=False)
    first = fit_and_store(store, "syn", seed=3, params=params, embedder=lambda: word_embedder)
    query = (
        "select stable_id, name, area_id from topics where topic_run_id = ? and topic_id <> -1"
        " order by stable_id"
    )
    before = store.query(query, [first.topic_run_id])
    assert len(before) == len(PLANTED) and before["name"].notna().all()
    # each planted phrase names exactly one topic
    for phrase in PLANTED.values():
        words = set(phrase.split())
        assert sum(set(n.replace(",", "").split()) <= words for n in before["name"]) == 1, before[
            "name"
        ].tolist()
    areas = store.query("select * from topic_areas where topic_run_id = ?", [first.topic_run_id])
    assert areas["n_topics"].sum() == len(PLANTED) and areas["name"].str.len().gt(0).all()
    assert set(before["area_id"]) == set(areas["area_id"])
    # the report's topic table shows the name as the label
    shown = store.query_file("report/topic_table", {"topic_run_id": first.topic_run_id})
    assert set(before["name"]) <= set(shown["label"])

    # mark the first fit's names so that a kept name is told from one made again
    store.execute(
        "update topics set name = 'kept ' || name where topic_run_id = ?", [first.topic_run_id]
    )
    second = fit_and_store(store, "syn", seed=4, params=params, embedder=lambda: word_embedder)
    after = store.query(query, [second.topic_run_id])
    assert after["stable_id"].tolist() == before["stable_id"].tolist()
    assert after["name"].tolist() == ["kept " + n for n in before["name"]]


def test_an_encoder_of_another_model_is_refused(word_embedder):
    docs, labels = planted_corpus(n_per=5)
    centroids = {t: np.ones(8) for t in PLANTED}
    with pytest.raises(ValueError, match="fit's own model"):
        name_topics(docs, labels, centroids, word_embedder.encode)


def test_a_hyphenated_word_is_a_near_duplicate_of_its_parts():
    phrases = ["retrieval", "retrieval-augmented generation", "document ranking"]
    name = compose_name(phrases, np.array([3.0, 2.0, 1.0]), None, NameRules())
    assert name == "retrieval, document ranking"


def test_the_names_benchmark_measures_names_and_labels_of_a_stored_fit(tmp_path, monkeypatch):
    """benchmarks/names.py reads the latest fit and scores its stored names, labels and renames."""
    import importlib.util
    import sys
    from pathlib import Path

    from conftest import WordEmbedder

    from pipeline.store import open_writer
    from pipeline.topics.params import TopicParams
    from pipeline.topics.stage import fit_and_store

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "names.py"
    spec = importlib.util.spec_from_file_location("names_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # its dataclasses look their module up
    spec.loader.exec_module(bench)

    word_embedder = WordEmbedder(dim=32)
    docs, _ = planted_corpus(n_per=45)
    ids = [f"p{i:03d}" for i in range(len(docs))]
    db = tmp_path / "work" / "trends.duckdb"
    with open_writer(db) as store:
        load_embedded_papers(store, ids, docs, word_embedder.encode(docs))
        params = TopicParams(min_cluster_size=20, n_neighbors=10, seed_check=False)
        fit_and_store(store, "syn", seed=3, params=params, embedder=lambda: word_embedder)
        # the largest topic loses its name: it counts as wrong for the names, not left out
        store.execute(
            "update topics set name = null where topic_id = ("
            " select topic_id from topics where topic_id <> -1 order by size desc, topic_id"
            " limit 1)"
        )
    fit = bench.read_fit(db, rename=True)
    assert len(fit.centroids) == len(PLANTED) and len(fit.docs) == len(docs)
    report = bench.measure(fit, word_embedder.encode, examples=2, rename=True)
    assert report["topics"] == len(PLANTED) and report["named"] == len(PLANTED) - 1
    assert report["accuracy_names"] == pytest.approx((len(PLANTED) - 1) / len(PLANTED))
    # naming again from the fit's own papers gives every topic its name back
    assert report["accuracy_renamed"] == 1.0 and report["renamed_differ"] == 1
    largest, second = report["examples"]
    assert largest["size"] >= second["size"] and largest["name"] == ""
    assert largest["name_nearest"] is None and largest["renamed"]
    assert second["name_nearest"] == second["topic_id"]
    assert largest["label"] and report["accuracy_labels"] <= 1.0
