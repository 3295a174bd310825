"""Novelty pool (pure): place new papers into a fit's topics, and find new topics in the pool.

An update never refits. A new paper joins its nearest topic centroid when the cosine reaches the
fit's assignment threshold (the rule the fit's own outlier reduction used, so an updated paper
lands where the fit would have put it); otherwise it goes to the novelty pool (topic -1).

Once the pool holds at least :func:`pool_minimum` papers it is clustered on its own, in the
embedding space, with DBSCAN on cosine distance. Its density threshold comes from the fit: a
pool paper is a core point when its ``k``-th nearest pool neighbour (``k`` = the fit's HDBSCAN
``min_samples``) is at least as similar as that neighbour is, for the median core member, in
the loosest topic the fit found. A cluster becomes a topic when it has at least the fit's
``min_cluster_size`` papers and its papers are as close to their centroid as the members of the
loosest fitted topic are (cohesion). So a new topic is never smaller or looser than one the fit
kept. DBSCAN rather than HDBSCAN: a pool is mostly scattered papers, so its cluster tree has a
single root and HDBSCAN (without ``allow_single_cluster``) labels everything noise; and no UMAP,
whose first call costs tens of seconds of compilation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

POOL_FLOOR = 30


@dataclass(frozen=True)
class NoveltyRule:
    """When pool papers form a new topic; every figure is derived from the fit."""

    min_size: int  # the fit's min_cluster_size
    k: int  # neighbours that make a core point (the fit's min_samples)
    density: float  # cosine to the k-th neighbour a core pool paper needs
    cohesion: float  # mean member-to-centroid cosine a new topic needs

    def as_dict(self) -> dict[str, float]:
        """For the update's params record."""
        return asdict(self)


def pool_minimum(min_cluster_size: int) -> int:
    """Papers the pool needs before it is clustered at all."""
    return max(POOL_FLOOR, min_cluster_size)


def place_by_centroid(
    embeddings: np.ndarray, centroids: dict[int, np.ndarray], threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Topic of each row (-1 = pool), its nearest topic and the cosine to that topic's centroid."""
    n = len(embeddings)
    if not centroids or n == 0:
        return np.full(n, -1), np.full(n, -1), np.zeros(n)
    ids = np.array(sorted(centroids))
    sims = embeddings @ np.stack([centroids[t] for t in ids]).T
    best = sims.argmax(axis=1)
    nearest = ids[best]
    best_sim = sims[np.arange(n), best].astype(np.float64)
    return np.where(best_sim >= threshold, nearest, -1), nearest, best_sim


def kth_neighbour_similarity(embeddings: np.ndarray, k: int) -> np.ndarray:
    """Cosine of each row to its ``k``-th most similar other row (unit-length rows)."""
    sims = embeddings @ embeddings.T
    np.fill_diagonal(sims, -np.inf)
    k = min(k, len(embeddings) - 1)
    return -np.partition(-sims, k - 1, axis=1)[:, k - 1]


def cohesion(embeddings: np.ndarray) -> float:
    """Mean cosine of the rows to their unit-length mean."""
    mean = embeddings.mean(axis=0)
    return float((embeddings @ (mean / (np.linalg.norm(mean) or 1.0))).mean())


def novelty_rule(
    embeddings: np.ndarray, labels: np.ndarray, min_cluster_size: int, min_samples: int
) -> NoveltyRule:
    """Derive the rule from a fit's core members (papers HDBSCAN put in a topic).

    ``labels`` holds each row's topic (-1 for rows that are not core members). Topics with no
    more than ``min_samples`` core members say nothing about density and are skipped.
    """
    densities, cohesions = [], []
    for topic in sorted(set(labels.tolist()) - {-1}):
        members = embeddings[labels == topic]
        cohesions.append(cohesion(members))
        if len(members) > min_samples:
            densities.append(float(np.median(kth_neighbour_similarity(members, min_samples))))
    return NoveltyRule(
        min_size=min_cluster_size,
        k=min_samples,
        density=min(densities) if densities else 1.0,
        cohesion=min(cohesions) if cohesions else 1.0,
    )


def find_new_topics(pool: np.ndarray, rule: NoveltyRule) -> np.ndarray:
    """Cluster the pool's (unit-length) embeddings; -1 for papers that form no new topic.

    Clusters are numbered 0, 1, ... by decreasing size. Same input, same output (DBSCAN has no
    randomness).
    """
    from sklearn.cluster import DBSCAN

    n = len(pool)
    out = np.full(n, -1)
    if n < max(rule.min_size, rule.k + 1):
        return out
    found = DBSCAN(
        eps=max(1.0 - rule.density, 1e-6),
        min_samples=rule.k + 1,  # DBSCAN counts the point itself
        metric="cosine",
        algorithm="brute",
    ).fit_predict(pool)
    kept = [
        c
        for c in set(found.tolist()) - {-1}
        if (found == c).sum() >= rule.min_size and cohesion(pool[found == c]) >= rule.cohesion
    ]
    kept.sort(key=lambda c: (-(found == c).sum(), int(np.flatnonzero(found == c)[0])))
    for number, c in enumerate(kept):
        out[found == c] = number
    return out
