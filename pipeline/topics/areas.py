"""Areas (pure): a fit's topics grouped into a few areas by their centroids.

Average-linkage hierarchical clustering on cosine distance between topic centroids, cut into
``area_count(n)`` groups (about the square root of the number of topics, 2-8), so that an
overview of 60 topics reads as a handful of areas, each with its topics.
"""

from __future__ import annotations

import numpy as np


def area_count(n_topics: int) -> int:
    """How many areas ``n_topics`` topics form: one for up to 3, else sqrt(n) within 2-8."""
    if n_topics <= 3:
        return 1
    return int(min(8, max(2, round(n_topics**0.5))))


def group_topics(centroids: dict[int, np.ndarray], n_areas: int | None = None) -> dict[int, int]:
    """Area of each topic (topic id -> area id 1..k, area 1 the largest), from its centroid."""
    from scipy.cluster.hierarchy import fcluster, linkage

    topics = sorted(centroids)
    if not topics:
        return {}
    k = area_count(len(topics)) if n_areas is None else n_areas
    if len(topics) < 2 or k <= 1:
        return dict.fromkeys(topics, 1)
    vectors = np.stack([np.asarray(centroids[t], np.float64) for t in topics])
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    groups = fcluster(linkage(vectors, method="average", metric="cosine"), k, "maxclust")
    # number areas by size (largest first), ties by their smallest topic id: stable output
    sizes = {g: int((groups == g).sum()) for g in set(groups.tolist())}
    first = {g: topics[int(np.flatnonzero(groups == g)[0])] for g in sizes}
    order = sorted(sizes, key=lambda g: (-sizes[g], first[g]))
    number = {g: i + 1 for i, g in enumerate(order)}
    return {t: number[int(g)] for t, g in zip(topics, groups, strict=True)}


def area_centroids(
    centroids: dict[int, np.ndarray], areas: dict[int, int]
) -> dict[int, np.ndarray]:
    """The mean unit centroid of each area's topics."""
    out: dict[int, np.ndarray] = {}
    for area in sorted(set(areas.values())):
        vecs = np.stack(
            [np.asarray(centroids[t], np.float64) for t, a in areas.items() if a == area]
        )
        vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        mean = vecs.mean(axis=0)
        out[area] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return out
