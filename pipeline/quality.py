"""Topic quality measures (pure): NPMI coherence and topic diversity."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
from scipy import sparse


def topic_diversity(top_words: Sequence[Sequence[str]], top_n: int = 10) -> float:
    """Share of unique words among all topics' top ``top_n`` words (1.0 = no overlap)."""
    words = [w for topic in top_words for w in list(topic)[:top_n]]
    return len(set(words)) / len(words) if words else float("nan")


def npmi_coherence(
    top_words: Sequence[Sequence[str]],
    doc_term: sparse.spmatrix,
    vocabulary: dict[str, int],
    top_n: int = 10,
) -> list[float]:
    """NPMI of each topic's top words against the corpus (document co-occurrence).

    ``doc_term`` is a documents x terms count matrix whose columns ``vocabulary`` names.
    Pairs that never co-occur score -1; words missing from the vocabulary are skipped.
    """
    binary = (sparse.csc_matrix(doc_term) > 0).astype(np.float64)
    n_docs = binary.shape[0]
    scores = []
    for words in top_words:
        idx = [vocabulary[w] for w in list(words)[:top_n] if w in vocabulary]
        if len(idx) < 2:
            scores.append(float("nan"))
            continue
        sub = binary[:, idx]
        df = np.asarray(sub.sum(axis=0)).ravel() / n_docs
        co = (sub.T @ sub).toarray() / n_docs
        values = []
        for i, j in combinations(range(len(idx)), 2):
            p_ij = co[i, j]
            if p_ij <= 0:
                values.append(-1.0)
            elif p_ij >= 1:
                values.append(1.0)
            else:
                values.append(float(np.log(p_ij / (df[i] * df[j])) / -np.log(p_ij)))
        scores.append(float(np.mean(values)))
    return scores


# gensim's smoothing constant of its log-ratio measures.
_GENSIM_EPSILON = 1e-12


def npmi_sliding_window(
    top_words: Sequence[Sequence[str]],
    texts: Sequence[Sequence[str]],
    window_size: int = 10,
    top_n: int = 10,
) -> list[float]:
    """NPMI of each topic as gensim's ``c_npmi`` computes it (OCTIS, the BERTopic paper).

    Probabilities come from boolean sliding windows of ``window_size`` tokens over ``texts``
    (token lists), not from whole documents, and the figure follows gensim step by step, so
    that it can be compared with published tables:

    - every text counts, a text shorter than the window as one window (gensim >= 4.1, which
      OCTIS used; older versions skipped texts without any topic word);
    - presence in a window is updated as the window slides, the way gensim's accumulator does
      it: the token leaving the window is unmarked even when it occurs again inside it;
    - every ordered pair of a topic's words is scored, and a pair that never shares a window
      scores ``log(eps / (p_i p_j)) / -log(eps)`` with ``eps = 1e-12``; a topic's score is the
      mean over its pairs.

    Raises:
        ValueError: when a topic word occurs in none of ``texts`` (gensim fails there too).

    """
    topics = [list(t)[:top_n] for t in top_words]
    words = sorted({w for t in topics for w in t})
    index = {w: i for i, w in enumerate(words)}
    n_words = len(words)
    encoded = [
        np.fromiter((index.get(w, n_words) for w in text), dtype=np.int64, count=len(text))
        for text in texts
    ]
    word, start, stop, n_windows = _presence_intervals(encoded, n_words, window_size)
    lengths = stop - start
    occurrences = np.bincount(word, weights=lengths, minlength=n_words)
    missing = [w for w, n in zip(words, occurrences, strict=True) if n == 0]
    if missing:
        raise ValueError(f"topic words found in no text: {missing[:10]}")
    # One row per window, one column per word: expand each presence interval to its windows.
    rows = np.repeat(start, lengths) + _ranges(lengths)
    presence = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float64), (rows, np.repeat(word, lengths))),
        shape=(n_windows, n_words),
    )
    co = (presence.T @ presence).toarray() / n_windows
    p = occurrences / n_windows
    scores = []
    for topic in topics:
        ids = [index[w] for w in topic]
        values = []
        for a, i in enumerate(ids):
            for b, j in enumerate(ids):
                if a == b:
                    continue
                joint = co[i, j] + _GENSIM_EPSILON
                values.append(np.log(joint / (p[i] * p[j])) / -np.log(joint))
        scores.append(float(np.mean(values)) if values else float("nan"))
    return scores


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """``[0..l0), [0..l1), ...`` concatenated."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total, dtype=np.int64) - starts


def _presence_intervals(
    encoded: Sequence[np.ndarray], n_words: int, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Windows in which each word counts as present, as (word, first, end) intervals.

    Windows are numbered across all texts. Events per text: the first window marks its words;
    each slide unmarks the token that left, then marks the token that entered (gensim's order).
    A word is present from a marking event until its next event in the same text.
    """
    ks, vs, orders, marks, ends = [], [], [], [], []
    base = 0
    for ids in encoded:
        n_win = max(len(ids) - window + 1, 1)
        first = np.unique(ids[:window])
        first = first[first < n_words]
        parts = [(np.full(len(first), base), first, 0, True)]
        if n_win > 1:
            step = np.arange(1, n_win)
            left, entered = ids[step - 1], ids[step + window - 1]
            keep_left, keep_entered = left < n_words, entered < n_words
            parts.append((base + step[keep_left], left[keep_left], 0, False))
            parts.append((base + step[keep_entered], entered[keep_entered], 1, True))
        for k, v, order, mark in parts:
            ks.append(k)
            vs.append(v)
            orders.append(np.full(len(k), order))
            marks.append(np.full(len(k), mark))
            ends.append(np.full(len(k), base + n_win))
        base += n_win
    if not ks:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, 0
    k, v, order, mark, end = (np.concatenate(a) for a in (ks, vs, orders, marks, ends))
    sort = np.lexsort((order, k, v))
    k, v, mark, end = k[sort], v[sort], mark[sort], end[sort]
    # At one slide the entering token is marked after the leaving one is unmarked: last wins.
    last = np.ones(len(k), dtype=bool)
    last[:-1] = (v[1:] != v[:-1]) | (k[1:] != k[:-1])
    k, v, mark, end = k[last], v[last], mark[last], end[last]
    stop = end.copy()
    same_text = np.zeros(len(k), dtype=bool)
    same_text[:-1] = (v[1:] == v[:-1]) & (k[1:] < end[:-1])
    stop[:-1] = np.where(same_text[:-1], k[1:], end[:-1])
    return v[mark], k[mark], stop[mark], base
