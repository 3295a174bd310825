"""Unit tests for pipeline.quality: topic diversity and NPMI coherence on hand-built inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import sparse

from pipeline.quality import npmi_coherence, topic_diversity

# --------------------------------------------------------------------------------------------
# topic_diversity
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topics", "top_n", "expected"),
    [
        ([["a", "b"], ["c", "d"]], 10, 1.0),
        ([["a", "b"], ["b", "c"]], 10, 3 / 4),
        ([["a", "b"], ["a", "b"], ["a", "b"]], 10, 2 / 6),
        ([["a", "a"]], 10, 1 / 2),
        ([["a", "b", "c"], ["a", "d", "e"]], 2, 3 / 4),  # only the top 2 of each count
        ([["a", "b", "c"], ["d", "e", "a"]], 2, 1.0),  # "a" is beyond topic 2's top 2
        ([["a", "b", "c", "d"], ["x"]], 3, 4 / 4),
        ([("a", "b"), ("b", "c")], 10, 3 / 4),  # tuples work too
    ],
)
def test_topic_diversity_exact(topics, top_n, expected):
    assert topic_diversity(topics, top_n=top_n) == pytest.approx(expected, abs=1e-12)


def test_topic_diversity_default_top_n_is_ten():
    t1 = [f"w{i}" for i in range(12)]
    t2 = [f"v{i}" for i in range(10)] + ["w0", "w1"]
    assert topic_diversity([t1, t2]) == 1.0  # overlap lies beyond the top 10
    assert topic_diversity([t1, t2], top_n=12) == pytest.approx(22 / 24)


def test_topic_diversity_empty_is_nan():
    assert math.isnan(topic_diversity([]))
    assert math.isnan(topic_diversity([[], []]))


# --------------------------------------------------------------------------------------------
# npmi_coherence
# --------------------------------------------------------------------------------------------

VOCAB = {w: i for i, w in enumerate(["a", "b", "c", "d", "e", "f", "g"])}
#                     a  b  c  d  e  f  g
_DOCS = np.array(
    [
        [3, 1, 2, 0, 1, 1, 1],  # doc 0
        [1, 5, 1, 0, 1, 0, 1],  # doc 1
        [0, 0, 0, 2, 0, 1, 1],  # doc 2
        [0, 0, 0, 1, 0, 0, 1],  # doc 3
    ]
)
# a, b: both exactly in docs 0-1            -> p(a)=p(b)=p(a,b)=1/2      -> NPMI 1
# c, d: c in docs 0-1, d in docs 2-3        -> never together            -> NPMI -1
# e, f: e in docs 0-1, f in docs 0 and 2    -> p(e,f)=1/4=p(e)p(f)       -> NPMI 0
# g: in every document                      -> p(g, x) = p(x)


def _matrix(fmt: str = "csr"):
    return sparse.csr_matrix(_DOCS) if fmt == "csr" else sparse.csc_matrix(_DOCS)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_npmi_perfect_never_and_independent_pairs(fmt):
    scores = npmi_coherence([["a", "b"], ["c", "d"], ["e", "f"]], _matrix(fmt), VOCAB)
    assert scores == pytest.approx([1.0, -1.0, 0.0], abs=1e-12)


def test_npmi_averages_pairs():
    # pairs: (a,b)=1, (a,f)=0 (a in docs 0-1, f in docs 0,2), (b,f)=0 -> mean 1/3
    (score,) = npmi_coherence([["a", "b", "f"]], _matrix(), VOCAB)
    assert score == pytest.approx(1 / 3, abs=1e-12)


def test_npmi_matches_hand_computation_for_partial_overlap():
    # 5 docs: x in docs 0,1,2; y in docs 0,1,3 -> p(x)=p(y)=0.6, p(x,y)=0.4
    docs = sparse.csr_matrix(np.array([[1, 1], [2, 1], [1, 0], [0, 4], [0, 0]]))
    (score,) = npmi_coherence([["x", "y"]], docs, {"x": 0, "y": 1})
    expected = math.log(0.4 / (0.6 * 0.6)) / -math.log(0.4)
    assert expected == pytest.approx(0.114986, abs=1e-6)
    assert score == pytest.approx(expected, abs=1e-12)


def test_npmi_negative_for_rarely_co_occurring_words():
    # 4 docs: x in docs 0,1,2; y in docs 2,3 -> p(x)=3/4, p(y)=1/2, p(x,y)=1/4
    docs = sparse.csr_matrix(np.array([[1, 0], [1, 0], [1, 1], [0, 1]]))
    (score,) = npmi_coherence([["x", "y"]], docs, {"x": 0, "y": 1})
    expected = math.log(0.25 / (0.75 * 0.5)) / -math.log(0.25)
    assert score == pytest.approx(expected, abs=1e-12)
    assert -1 < score < 0


def test_npmi_counts_presence_not_frequency():
    binary = sparse.csr_matrix((_DOCS > 0).astype(int))
    topics = [["a", "b", "c"], ["e", "f", "g"], ["a", "d", "g"]]
    assert npmi_coherence(topics, _matrix(), VOCAB) == pytest.approx(
        npmi_coherence(topics, binary, VOCAB), abs=1e-12
    )


def test_npmi_words_in_every_document():
    # g is in every doc: p(g, a) = p(a) -> log(1/p(g)) = 0 -> NPMI 0; (g, g)-like p=1 pairs -> 1
    (score,) = npmi_coherence([["a", "g"]], _matrix(), VOCAB)
    assert score == pytest.approx(0.0, abs=1e-12)
    everywhere = sparse.csr_matrix(np.ones((3, 2)))
    assert npmi_coherence([["p", "q"]], everywhere, {"p": 0, "q": 1}) == [1.0]


def test_npmi_skips_unknown_words_and_honours_top_n():
    scores = npmi_coherence(
        [["a", "zzz", "b"], ["a", "b", "c", "d"], ["a", "b", "c", "d"]],
        _matrix(),
        VOCAB,
        top_n=3,
    )
    # topic 1: unknown word skipped -> only (a,b)
    # topics 2-3: top 3 = a, b, c -> all pairs perfectly co-occurring (d is beyond top_n)
    assert scores == pytest.approx([1.0, 1.0, 1.0], abs=1e-12)
    (with_d,) = npmi_coherence([["a", "b", "c", "d"]], _matrix(), VOCAB, top_n=4)
    # pairs: ab, ac, bc = 1; ad, bd, cd = -1 -> mean 0
    assert with_d == pytest.approx(0.0, abs=1e-12)


def test_npmi_fewer_than_two_known_words_is_nan():
    scores = npmi_coherence([["a"], ["zzz", "yyy"], [], ["a", "zzz"]], _matrix(), VOCAB)
    assert len(scores) == 4
    assert all(math.isnan(s) for s in scores)


def test_npmi_one_score_per_topic_in_order():
    topics = [["c", "d"], ["a", "b"], ["e", "f"], ["c", "d"]]
    scores = npmi_coherence(topics, _matrix(), VOCAB)
    assert scores == pytest.approx([-1.0, 1.0, 0.0, -1.0], abs=1e-12)
    assert all(isinstance(s, float) for s in scores)
