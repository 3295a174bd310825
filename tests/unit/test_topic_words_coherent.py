"""Topic words re-ranked by co-occurrence (pipeline.topics.words.coherent_terms and its parts)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import sparse

from pipeline.quality import npmi_coherence
from pipeline.topics.words import coherent_terms, pairwise_npmi, select_coherent


def test_pairwise_npmi_matches_the_topic_measure_pair_by_pair():
    # documents x terms (a, b, c, d): a and b always together, c once with a, d alone
    counts = sparse.csr_matrix(
        np.array([[1, 2, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [3, 0, 1, 0], [0, 0, 0, 1]])
    )
    npmi = pairwise_npmi(counts)
    vocabulary = {"a": 0, "b": 1, "c": 2, "d": 3}
    for i, j in [(0, 1), (0, 2), (1, 2), (0, 3), (2, 3)]:
        words = [list(vocabulary)[i], list(vocabulary)[j]]
        (expected,) = npmi_coherence([words], counts, vocabulary)
        assert npmi[i, j] == pytest.approx(expected)
        assert npmi[j, i] == pytest.approx(expected)
    assert npmi[0, 3] == -1.0  # never in one document
    # p(a)=3/5, p(c)=2/5, p(a,c)=1/5
    assert npmi[0, 2] == pytest.approx(math.log((1 / 5) / (3 / 5 * 2 / 5)) / -math.log(1 / 5))
    assert np.allclose(np.diag(npmi), 1.0)


def test_without_coherence_the_ranking_comes_back():
    weights = np.array([1.0, 0.9, 0.8, 0.7])
    npmi = np.full((4, 4), -1.0)
    assert select_coherent(weights, npmi, coherence=0.0, n=3) == [0, 1, 2]


def test_a_word_that_never_meets_the_others_gives_way_to_one_that_does():
    weights = np.array([1.0, 0.95, 0.9, 0.5])
    npmi = np.array(
        [
            [1.0, -1.0, 0.6, 0.5],
            [-1.0, 1.0, -1.0, -1.0],
            [0.6, -1.0, 1.0, 0.4],
            [0.5, -1.0, 0.4, 1.0],
        ]
    )
    assert select_coherent(weights, npmi, coherence=0.5, n=3) == [0, 2, 3]
    assert select_coherent(weights, npmi, coherence=0.5, n=10) == [0, 1, 2, 3]  # all there are
    assert select_coherent(np.array([]), np.zeros((0, 0)), coherence=0.5, n=3) == []


def test_coherent_terms_counts_co_occurrence_in_the_documents():
    docs = [
        "graph neural network",
        "graph neural message passing",
        "graph neural network pooling",
        "banana bread",
        "banana split",
    ]
    candidates = [(["graph", "banana", "neural"], [1.0, 0.95, 0.9]), ([], [])]
    (words, weights), empty = coherent_terms(candidates, docs, top_n=2, coherence=0.5)
    assert words == ["graph", "neural"]
    assert weights == [1.0, 0.9]
    assert empty == ([], [])
    # the ranking alone would have kept "banana"
    (ranked, _), _ = coherent_terms(candidates, docs, top_n=2, coherence=0.0)
    assert ranked == ["graph", "banana"]


def test_a_word_a_larger_topic_shows_gives_way_when_distinct():
    docs = ["model training data", "model training loss", "graph model node", "graph node edge"]
    candidates = [
        (["model", "training", "data"], [1.0, 0.9, 0.5]),
        (["model", "graph", "node"], [1.0, 0.95, 0.9]),
    ]
    plain = coherent_terms(candidates, docs, top_n=2, coherence=0.5)
    assert plain[1][0][0] == "model"  # both topics show "model"
    distinct = coherent_terms(candidates, docs, top_n=2, coherence=0.5, distinct=1.0)
    assert distinct[0] == plain[0]  # the first topic chooses freely
    assert distinct[1][0] == ["graph", "node"]


class RankedModel:
    """A fitted model's c-TF-IDF ranking per topic, as BERTopic's ``get_topic`` gives it."""

    def __init__(self, topics: dict[int, list[tuple[str, float]]]) -> None:
        self.topics = topics

    def get_topic(self, topic: int) -> list[tuple[str, float]]:
        return self.topics[topic]


def test_the_fit_re_ranks_its_words_when_term_coherence_is_set():
    from pipeline.topics.params import TopicParams
    from pipeline.topics.words import topic_terms

    model = RankedModel({0: [("graph", 1.0), ("banana", 0.95), ("neural", 0.9)]})
    docs = ["Graph neural nets.", "graph neural pooling", "graph neural", "banana bread"]
    coherent = TopicParams(top_n_words=2, term_coherence=0.5)
    assert coherent.candidate_words == coherent.mmr_candidates  # more words to choose from
    assert topic_terms(model, [0], coherent, None, docs) == [(["graph", "neural"], [1.0, 0.9])]
    assert TopicParams().term_coherence == 0.5  # the product's default since issue 24
    ranked = TopicParams(top_n_words=2, term_coherence=0.0)
    assert ranked.candidate_words == 2
    assert topic_terms(model, [0], ranked, None) == [(["graph", "banana"], [1.0, 0.95])]
    with pytest.raises(ValueError, match="documents"):
        topic_terms(model, [0], coherent, None)
    with pytest.raises(ValueError, match="term_coherence"):
        TopicParams(term_coherence=1.5)


def test_born_topics_choose_words_as_the_fit_does_reading_the_papers_in_batches():
    """An update counts co-occurrence batch by batch; the words equal one pass over all."""
    from pathlib import Path

    import pandas as pd

    from pipeline.topics.words import clean_for_terms, streamed_coherent_terms

    arxiv = Path(__file__).resolve().parents[3] / "shared" / "data" / "arxiv_cs_ai_2025.parquet"
    frame = pd.read_parquet(arxiv, columns=["title", "abstract"]).head(300)
    docs = (frame["title"] + ". " + frame["abstract"]).tolist()
    candidates = [
        (
            ["language", "reinforcement", "models", "reward", "policy", "graph"],
            [6, 5, 4, 3, 2, 1.0],
        ),
        (["image", "diffusion", "agents", "generation", "text", "tool"], [6, 5, 4, 3, 2, 1.0]),
    ]

    def batches():
        for start in range(0, len(docs), 64):
            yield docs[start : start + 64], np.zeros(len(docs[start : start + 64]))

    whole = coherent_terms(candidates, clean_for_terms(docs), top_n=3, coherence=0.5)
    assert streamed_coherent_terms(candidates, batches, top_n=3, coherence=0.5) == whole
    assert whole != [(w[:3], s[:3]) for w, s in candidates]  # co-occurrence changed the choice
    empty = streamed_coherent_terms([([], [])], batches, top_n=3, coherence=0.5)
    assert empty == [([], [])]


def test_an_update_takes_the_word_rule_its_fit_stored():
    from pipeline.topics.update import FitRules

    stored = {"assign_threshold": 0.4, "term_coherence": 0.5}
    assert FitRules.of_params(stored).words.term_coherence == 0.5
    # a fit stored before co-occurrence re-ranking ranked its words: its new topics rank too
    assert FitRules.of_params({"assign_threshold": 0.4}).words.term_coherence == 0.0
