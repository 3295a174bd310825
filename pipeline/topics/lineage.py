"""Topic identity across fits (pure): match a new fit's topics to the previous fit's.

Two topics match when their centroids are close and they hold the same papers: the score is
the mean of the centroid cosine and the Dice overlap of their papers (over papers both fits
placed). The best one-to-one matching (Hungarian algorithm) keeps pairs scoring at least
``MIN_MATCH``; a matched topic inherits the stable id, the others are born or die. A previous
topic whose papers spread over several new topics (each taking at least ``MIN_FLOW`` of them)
split; a new topic drawing that much from several previous topics is a merge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from pipeline.topics.params import PreviousFit

MIN_MATCH = 0.5
MIN_FLOW = 0.25


@dataclass
class Lineage:
    """Stable ids of the new fit's topics and the events between the fits."""

    stable_ids: dict[int, str]
    events: pd.DataFrame  # event, stable_id, topic_id, previous_topic_id, score


def format_stable_id(n: int) -> str:
    """Stable ids read as T0001, T0002, ..."""
    return f"T{n:04d}"


def _dice_matrix(
    prev: pd.Series, new: pd.Series, prev_ids: list[int], new_ids: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Dice overlap of papers and the paper flow matrix (prev topic x new topic counts)."""
    common = prev.index.intersection(new.index)
    a, b = prev.loc[common], new.loc[common]
    flow = pd.crosstab(a, b).reindex(index=prev_ids, columns=new_ids, fill_value=0).to_numpy()
    size_a = flow.sum(axis=1, keepdims=True)
    size_b = flow.sum(axis=0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = np.nan_to_num(2 * flow / (size_a + size_b))
    return dice, flow


def match_topics(
    prev_topics: pd.DataFrame,
    new_topics: pd.DataFrame,
    prev_assign: pd.Series,
    new_assign: pd.Series,
    next_number: int,
) -> Lineage:
    """Match topics of two fits.

    Args:
        prev_topics: topic_id, stable_id, centroid of the previous fit (outliers excluded).
        new_topics: topic_id, centroid of the new fit (outliers excluded).
        prev_assign: paper_id -> topic_id in the previous fit.
        new_assign: paper_id -> topic_id in the new fit.
        next_number: the number the next new stable id gets.

    """
    new_ids = [int(t) for t in new_topics["topic_id"]]
    if prev_topics.empty:
        ids = {t: format_stable_id(next_number + i) for i, t in enumerate(new_ids)}
        events = pd.DataFrame(
            {
                "event": "born",
                "stable_id": [ids[t] for t in new_ids],
                "topic_id": new_ids,
                "previous_topic_id": None,
                "score": None,
            }
        )
        return Lineage(ids, events)
    prev_ids = [int(t) for t in prev_topics["topic_id"]]
    a = np.stack([np.asarray(c, np.float32) for c in prev_topics["centroid"]])
    b = np.stack([np.asarray(c, np.float32) for c in new_topics["centroid"]])
    dice, flow = _dice_matrix(
        prev_assign[prev_assign != -1], new_assign[new_assign != -1], prev_ids, new_ids
    )
    if a.shape[1] != b.shape[1]:
        # Fits on different embedding backends (384-d MiniLM, 256-d static): the centroids live
        # in different spaces, so only the shared papers can match topics.
        score = dice
    else:
        cosine = a @ b.T
        score = 0.5 * cosine + 0.5 * dice if flow.sum() else cosine
    rows, cols = linear_sum_assignment(-score)
    prev_stable = dict(zip(prev_ids, prev_topics["stable_id"], strict=True))
    ids: dict[int, str] = {}
    events = []
    matched_prev = set()
    for r, c in zip(rows, cols, strict=True):
        if score[r, c] >= MIN_MATCH:
            ids[new_ids[c]] = prev_stable[prev_ids[r]]
            matched_prev.add(prev_ids[r])
            events.append(
                ("continued", ids[new_ids[c]], new_ids[c], prev_ids[r], float(score[r, c]))
            )
    number = next_number
    for t in new_ids:
        if t not in ids:
            ids[t] = format_stable_id(number)
            number += 1
            events.append(("born", ids[t], t, None, None))
    for t in prev_ids:
        if t not in matched_prev:
            events.append(("died", prev_stable[t], None, t, None))
    out_share = flow / np.maximum(flow.sum(axis=1, keepdims=True), 1)
    in_share = flow / np.maximum(flow.sum(axis=0, keepdims=True), 1)
    for i, p in enumerate(prev_ids):
        targets = np.flatnonzero(out_share[i] >= MIN_FLOW)
        if len(targets) >= 2:
            for j in targets:
                events.append(("split", prev_stable[p], new_ids[j], p, float(out_share[i, j])))
    for j, t in enumerate(new_ids):
        sources = np.flatnonzero(in_share[:, j] >= MIN_FLOW)
        if len(sources) >= 2:
            for i in sources:
                events.append(("merged", ids[t], t, prev_ids[i], float(in_share[i, j])))
    frame = pd.DataFrame(
        events, columns=["event", "stable_id", "topic_id", "previous_topic_id", "score"]
    )
    return Lineage(ids, frame)


def seed_agreement(lineage: Lineage, assign_a: pd.Series, assign_b: pd.Series,
                   stable_a: dict[int, str]) -> float:  # fmt: skip
    """Share of papers in topics both fits found that keep the same stable topic.

    ``lineage`` matches fit B (new) to fit A (previous); ``stable_a`` maps A's topic ids to
    their stable ids.
    """
    common = assign_a.index.intersection(assign_b.index)
    a, b = assign_a.loc[common], assign_b.loc[common]
    both = (a != -1) & (b != -1)
    if not both.any():
        return float("nan")
    same = [
        stable_a.get(int(x)) == lineage.stable_ids.get(int(y))
        for x, y in zip(a[both], b[both], strict=True)
    ]
    return float(np.mean(same))


def lineage_against(
    previous: PreviousFit | None,
    topics: pd.DataFrame,
    assignments: pd.DataFrame,
    next_number: int,
) -> tuple[Lineage, float | None]:
    """Match a new fit's ``topics`` to the ``previous`` fit (all born when there is none).

    ``assignments``: paper_id, topic_id of the new fit. Also returns the share of papers, among
    those in real topics of both fits, whose stable topic is the same in both (None without a
    previous fit).
    """
    real = topics[topics["topic_id"] != -1]
    prev_topics = pd.DataFrame(columns=["topic_id", "stable_id", "centroid"])
    prev_assign = pd.Series(dtype=int)
    if previous is not None:
        prev_topics, prev_assign = previous.topics, previous.assignments
    new_assign = assignments.set_index("paper_id")["topic_id"]
    lineage = match_topics(prev_topics, real, prev_assign, new_assign, next_number)
    if prev_topics.empty:
        return lineage, None
    stable_prev = dict(
        zip(prev_topics["topic_id"].astype(int), prev_topics["stable_id"], strict=True)
    )
    return lineage, seed_agreement(lineage, prev_assign, new_assign, stable_prev)
