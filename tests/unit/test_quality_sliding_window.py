"""pipeline.quality.npmi_sliding_window against hand-computed gensim ``c_npmi`` figures."""

import math

import pytest

from pipeline.quality import npmi_sliding_window

EPS = 1e-12


def never_together(p_i: float, p_j: float) -> float:
    """gensim's score of a pair that shares no window."""
    return math.log(EPS / (p_i * p_j)) / -math.log(EPS)


def test_short_texts_are_one_window_each_and_every_text_counts():
    texts = [["b", "c", "a"], ["a", "d"], [], ["e"]]  # 4 windows, the empty text included
    together, apart = npmi_sliding_window([["b", "c"], ["b", "d"]], texts)
    assert together == pytest.approx(1.0)  # p(b) = p(c) = p(b, c) = 1/4
    assert apart == pytest.approx(never_together(0.25, 0.25))


def test_windows_slide_one_token_at_a_time():
    texts = [["a", "b", "c", "d"]]  # windows of 2: ab, bc, cd
    (score,) = npmi_sliding_window([["a", "b", "d"]], texts, window_size=2)
    p = 1 / 3
    ab = math.log((p + EPS) / (p * (2 / 3))) / -math.log(p + EPS)
    expected = (2 * ab + 2 * never_together(p, 2 / 3) + 2 * never_together(p, p)) / 6
    assert score == pytest.approx(expected)


def test_a_word_leaving_the_window_is_unmarked_even_if_it_recurs_in_it():
    # Windows of 3: [a b a], [b a c]. gensim unmarks the leaving "a" although "a" is still in
    # the second window, so "a" and "c" never count as sharing a window.
    (score,) = npmi_sliding_window([["a", "c"]], [["a", "b", "a", "c"]], window_size=3)
    assert score == pytest.approx(never_together(0.5, 0.5))


def test_unknown_topic_word_is_an_error():
    with pytest.raises(ValueError, match="zebra"):
        npmi_sliding_window([["a", "zebra"]], [["a", "b"]])
