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
