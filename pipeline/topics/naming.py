"""Readable topic names (pure): phrases of a topic's own papers, ranked and de-duplicated.

A topic's ten c-TF-IDF terms feed NPMI and stay; its label of three of them ("gradient,
parameters, neural") tells a reader little. A name is made of the topic's candidate phrases
(1-4 word n-grams of titles and abstracts that neither start nor end with a stop word and do
not cross punctuation), each ranked by

* its c-TF-IDF weight among the topic's phrases (over the best one's), and
* with an ``encode`` function (the fit's own embedding model): the cosine of the phrase to the
  topic's centroid less its highest cosine to any other centroid, so a phrase that is as close
  to a neighbouring topic says less about this one.

The best phrase starts the name; the next best that is no near-duplicate of it (no content
word in common, counting forms of one word alike: "robot" and "robotic", "music" and "musical";
cosine below ``duplicate_cosine``) joins it while the name stays within
``max_words``, until it has at least ``min_words``. Names are 2-6 words by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline.topics.words import SCIENTIFIC_STOP_WORDS, STOP_LIST_CONTENT_WORDS, class_tfidf

Encode = Callable[[Sequence[str]], np.ndarray]  # texts -> vectors (the fit's model)

# Words a phrase may hold inside ("diffusion models for video generation") but never at an end.
CONNECTORS = frozenset("of for in on with and to from via under over across between".split())  # noqa: SIM905
_TOKEN = re.compile(r"[a-z][a-z0-9\-]+")
_CLAUSE = re.compile(r"[.,;:!?()\[\]{}\"]+|\s-\s")
_SAME_PREFIX = 5  # "robot"/"robotic" are one word; "medical"/"media" (4 letters) are not
# A continued topic keeps its previous name unless its lineage score (mean of centroid cosine
# and paper overlap) fell below this: the content moved.
KEEP_NAME_SCORE = 0.7


@dataclass(frozen=True)
class NameRules:
    """How names are made (see the module docstring)."""

    min_words: int = 2
    max_words: int = 6
    max_ngram: int = 4
    candidates: int = 15  # the best phrases of each length by c-TF-IDF, ranked again by embedding
    min_count: int = 2  # a phrase occurs at least this often in the topic's papers
    # A phrase at least this many times as frequent in the topic as in all topics: "large
    # language models" occurs in most topics of an AI corpus and names none of them.
    min_lift: float = 2.0
    docs_per_topic: int = 400  # papers per topic read (evenly spread over its papers)
    duplicate_cosine: float = 0.8
    # a phrase of two or three words over a word: "diffusion models" names, "diffusion" hints
    phrase_bonus: float = 0.1


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset((ENGLISH_STOP_WORDS - STOP_LIST_CONTENT_WORDS) | SCIENTIFIC_STOP_WORDS)


def candidate_phrases(
    text: str, max_ngram: int = 4, stop: frozenset[str] | None = None
) -> list[str]:
    """Every 1-``max_ngram`` word phrase of ``text`` that could name a topic.

    Lower-cased; a phrase stays within one clause, starts and ends with a content word and
    holds no other stop word than the ``CONNECTORS`` inside.
    """
    stop = _stop_words() if stop is None else stop
    out = []
    for clause in _CLAUSE.split(text.lower()):
        words = _TOKEN.findall(clause)
        for i, first in enumerate(words):
            if first in stop:
                continue
            for n in range(1, max_ngram + 1):
                if i + n > len(words):
                    break
                last = words[i + n - 1]
                inner = words[i + 1 : i + n - 1]
                if any(w in stop and w not in CONNECTORS for w in inner):
                    break
                if last in stop:
                    continue
                out.append(" ".join(words[i : i + n]))
    return out


def _stems(phrase: str) -> set[str]:
    """Content words of a phrase, hyphenated parts apart, without a plural s."""
    return {w.rstrip("s") for w in re.split(r"[\s\-]+", phrase) if w and w not in CONNECTORS}


def _same_word(a: str, b: str) -> bool:
    """Whether two content words are forms of one word ("robot", "robotic"; "agent", "agents").

    They are when their common prefix is at least ``_SAME_PREFIX`` letters and at least 3/4 of
    the shorter word.
    """
    short = min(len(a), len(b))
    shared = next((i for i in range(short) if a[i] != b[i]), short)
    return a == b or (shared >= _SAME_PREFIX and shared * 4 >= 3 * short)


def near_duplicates(a: str, b: str) -> bool:
    """Whether two phrases share a content word, in any of its forms."""
    return any(_same_word(x, y) for x in _stems(a) for y in _stems(b))


def _spread(members: np.ndarray, k: int) -> np.ndarray:
    if len(members) <= k:
        return members
    return members[np.linspace(0, len(members) - 1, k).round().astype(int)]


def phrase_weights(
    docs: Sequence[str], labels: np.ndarray, topics: Sequence[int], rules: NameRules
) -> dict[int, tuple[list[str], np.ndarray]]:
    """Each topic's candidate phrases, best c-TF-IDF weight first, with their weights.

    Every topic in ``topics`` is a class (outliers are left out by the caller); a topic reads
    at most ``rules.docs_per_topic`` of its papers.
    """
    stop = _stop_words()
    labels = np.asarray(labels)
    vocabulary: dict[str, int] = {}
    rows, cols, counts = [], [], []
    for row, topic in enumerate(topics):
        found: dict[int, int] = {}
        for i in _spread(np.flatnonzero(labels == topic), rules.docs_per_topic):
            for phrase in candidate_phrases(docs[i], rules.max_ngram, stop):
                col = vocabulary.setdefault(phrase, len(vocabulary))
                found[col] = found.get(col, 0) + 1
        rows += [row] * len(found)
        cols += list(found)
        counts += list(found.values())
    matrix = sparse.csr_matrix(
        (np.asarray(counts, np.float64), (rows, cols)), shape=(len(topics), len(vocabulary))
    )
    scores = class_tfidf(matrix).tocsr()
    # lift: a phrase's rate in the topic over its rate in all topics read
    rate_all = np.asarray(matrix.sum(axis=0)).ravel() / max(float(matrix.sum()), 1.0)
    topic_totals = np.maximum(np.asarray(matrix.sum(axis=1)).ravel(), 1.0)
    terms = np.array(list(vocabulary), dtype=object)
    out = {}
    for row, topic in enumerate(topics):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        idx, n = matrix.indices[start:end], matrix.data[start:end]
        lift = n / topic_totals[row] / np.maximum(rate_all[idx], 1e-12)
        idx = idx[(n >= rules.min_count) & (lift >= rules.min_lift)]
        weights = np.asarray(scores[row, idx].todense()).ravel() if len(idx) else np.zeros(0)
        texts = terms[idx].astype(str)
        lengths = np.array([t.count(" ") + 1 for t in texts], dtype=int)
        order = np.lexsort((texts, -weights))
        # Unigrams always outweigh the phrases they occur in: keep the best of each length.
        keep = np.concatenate(
            [order[lengths[order] == n][: rules.candidates] for n in range(1, rules.max_ngram + 1)]
        )
        keep = keep[np.lexsort((texts[keep], -weights[keep]))]
        out[int(topic)] = ([str(t) for t in texts[keep]], weights[keep])
    return out


def compose_name(
    phrases: list[str], scores: np.ndarray, vectors: np.ndarray | None, rules: NameRules
) -> str:
    """A name from ranked phrases: the best, then non-duplicates until ``min_words`` words."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    chosen: list[int] = []
    words = 0
    for i in order:
        n = len(phrases[i].split())
        if words + n > rules.max_words:
            continue
        if any(near_duplicates(phrases[i], phrases[j]) for j in chosen):
            continue
        if vectors is not None and any(
            float(vectors[i] @ vectors[j]) >= rules.duplicate_cosine for j in chosen
        ):
            continue
        chosen.append(int(i))
        words += n
        if words >= rules.min_words:
            break
    return ", ".join(phrases[i] for i in chosen)


def name_topics(
    docs: Sequence[str],
    labels: np.ndarray,
    centroids: dict[int, np.ndarray],
    encode: Encode | None = None,
    rules: NameRules | None = None,
) -> dict[int, str]:
    """A name for each topic of ``centroids`` (topic id -> unit centroid) from its papers.

    ``docs[i]`` (title and abstract) belongs to topic ``labels[i]``; papers of topics without a
    centroid (outliers) are background only. Without ``encode`` phrases rank by c-TF-IDF alone.
    """
    rules = rules or NameRules()
    topics = sorted(centroids)
    if not topics:
        return {}
    ranked = phrase_weights(docs, labels, topics, rules)
    unit = np.stack([np.asarray(centroids[t], np.float64) for t in topics])
    unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    vectors_of: dict[str, np.ndarray] = {}
    if encode is not None:
        everything = sorted({p for phrases, _ in ranked.values() for p in phrases})
        if everything:
            vecs = np.asarray(encode(everything), np.float64)
            if vecs.shape[1] != unit.shape[1]:
                raise ValueError(
                    f"names need the fit's own model: phrases embed in {vecs.shape[1]} dimensions,"
                    f" the topics' centroids in {unit.shape[1]}"
                )
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            vectors_of = dict(zip(everything, vecs, strict=True))
    names = {}
    for row, topic in enumerate(topics):
        phrases, weights = ranked[topic]
        if not phrases:
            names[topic] = ""
            continue
        lengths = np.array([p.count(" ") + 1 for p in phrases])
        score = weights / max(float(weights.max()), 1e-12)
        score = score + rules.phrase_bonus * (np.minimum(lengths, 3) - 1)
        vectors = None
        if vectors_of:
            vectors = np.stack([vectors_of[p] for p in phrases])
            sims = vectors @ unit.T
            others = np.delete(sims, row, axis=1)
            margin = sims[:, row] - (others.max(axis=1) if others.shape[1] else 0.0)
            score = score + sims[:, row] + margin
        names[topic] = compose_name(phrases, score, vectors, rules)
    return names


def keep_names(
    names: dict[int, str],
    lineage: pd.DataFrame,
    previous: dict[int, str],
    min_score: float = KEEP_NAME_SCORE,
) -> dict[int, str]:
    """``names`` with a continued topic's previous name where its content stayed.

    ``lineage``: event, topic_id, previous_topic_id, score of the new fit (see
    :mod:`pipeline.topics.lineage`); ``previous``: previous topic id -> its name.
    """
    out = dict(names)
    kept = lineage[(lineage["event"] == "continued") & (lineage["score"] >= min_score)]
    for topic, before in zip(kept["topic_id"], kept["previous_topic_id"], strict=True):
        name = previous.get(int(before))
        if name and int(topic) in out:
            out[int(topic)] = name
    return out


def nearest_topics(
    names: dict[int, str], centroids: dict[int, np.ndarray], encode: Encode
) -> dict[int, int]:
    """For each named topic, the topic whose centroid is nearest (cosine) to its name."""
    topics = [t for t in sorted(centroids) if names.get(t)]
    if not topics:
        return {}
    unit = np.stack([np.asarray(centroids[t], np.float64) for t in sorted(centroids)])
    unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    vecs = np.asarray(encode([names[t] for t in topics]), np.float64)
    nearest = np.asarray(sorted(centroids))[np.argmax(vecs @ unit.T, axis=1)]
    return {t: int(n) for t, n in zip(topics, nearest, strict=True)}


def name_accuracy(names: dict[int, str], centroids: dict[int, np.ndarray], encode: Encode) -> float:
    """Share of names whose embedding is nearest to their own topic's centroid (cosine).

    Topics without a name are left out; nan when no topic has one.
    """
    nearest = nearest_topics(names, centroids, encode)
    if not nearest:
        return float("nan")
    return float(np.mean([own == found for own, found in nearest.items()]))
