"""Topic updates (pure): new papers into the current fit, no refit.

New papers join their nearest topic or go to the fit's novelty pool; once the pool is large
enough, dense groups in it become new topics (born in this update, with new stable ids).
Existing topics never change. The rules are in :mod:`pipeline.topics.novelty`; this module
applies them to what :mod:`pipeline.topics.persistence` read, and returns what it writes
(``sql/ops/save_topic_update.sql``). :func:`pipeline.topics.stage.place_new_papers` runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline.quality import npmi_coherence
from pipeline.topics.lineage import format_stable_id
from pipeline.topics.novelty import (
    NoveltyRule,
    find_new_topics,
    novelty_rule,
    place_by_centroid,
    pool_minimum,
)
from pipeline.topics.params import TopicParams
from pipeline.topics.words import (
    DocBatches,
    represent_terms,
    short_label,
    streamed_class_top_terms,
    streamed_coherent_terms,
    term_counts,
)

if TYPE_CHECKING:
    from pipeline.embedders import Embedder


@dataclass(frozen=True)
class UpdateSummary:
    """What one update did."""

    topic_run_id: str
    update_run_id: str | None  # None: nothing new to place
    n_docs: int  # new papers placed
    n_placed: int  # of them, into existing topics
    n_pooled: int  # of them, left in the novelty pool
    pool_size: int  # the pool after the update
    pool_minimum: int
    seconds: float
    born: list[tuple[str, str, int]] = field(default_factory=list)  # stable id, label, size

    @property
    def mode(self) -> str:
        """``update`` when papers were placed, ``current`` when there was nothing to place."""
        return "update" if self.update_run_id else "current"

    def line(self) -> str:
        """One-line summary for the CLI and logs."""
        pool = f"novelty pool {self.pool_size:,} (clustered from {self.pool_minimum:,})"
        if self.update_run_id is None:
            return f"topics: fit {self.topic_run_id} is current, no new papers to place; {pool}"
        born = "no new topics"
        if self.born:
            born = f"{len(self.born)} new topics: " + "; ".join(
                f"{sid} '{label}' ({size})" for sid, label, size in self.born
            )
        return (
            f"topics update {self.update_run_id}: placed {self.n_docs:,} papers into fit "
            f"{self.topic_run_id}: {self.n_placed:,} joined topics, {self.n_pooled:,} went to "
            f"the novelty pool; {born}; {pool}, {self.seconds:.1f}s"
        )


TOPIC_COLUMNS = ("topic_id", "label", "terms", "term_weights", "size", "npmi", "centroid",
                 "representative_ids")  # fmt: skip


@dataclass
class Births:
    """Topics formed from the pool in one update."""

    topics: pd.DataFrame  # topic_id, label, terms, term_weights, size, npmi, centroid, reps
    stable_ids: list[str]
    members: pd.DataFrame  # paper_id, topic_id, similarity

    def described(self) -> list[tuple[str, str, int]]:
        """(stable id, label, size) of each new topic."""
        return [
            (sid, str(label), int(size))
            for sid, label, size in zip(
                self.stable_ids, self.topics["label"], self.topics["size"], strict=True
            )
        ]


@dataclass(frozen=True)
class FitRules:
    """What an update takes from the fit it extends (its stored parameters)."""

    threshold: float  # cosine a new paper needs to join its nearest topic
    min_cluster_size: int
    min_samples: int
    words: TopicParams  # how born topics choose their words, as the fit did

    @classmethod
    def of_params(cls, params: dict) -> FitRules:
        """The rules in a fit's stored parameters (``topic_runs.params``)."""
        defaults = TopicParams()
        return cls(
            threshold=float(params["assign_threshold"]),
            min_cluster_size=int(params.get("min_cluster_size", defaults.min_cluster_size)),
            min_samples=int(params.get("min_samples", defaults.min_samples)),
            words=TopicParams(
                top_n_words=int(params.get("top_n_words", defaults.top_n_words)),
                representation=str(params.get("representation", defaults.representation)),
                mmr_diversity=float(params.get("mmr_diversity", defaults.mmr_diversity)),
                mmr_candidates=int(params.get("mmr_candidates", defaults.mmr_candidates)),
                # a fit stored before co-occurrence re-ranking (4a45181) ranked its words
                term_coherence=float(params.get("term_coherence", 0.0)),
            ),
        )


@dataclass(frozen=True)
class UpdateInputs:
    """What an update reads from the store about the current fit and the papers."""

    run_id: str
    rules: FitRules
    ids: list[str]  # every paper with a current embedding, by paper_id
    embeddings: np.ndarray
    known: pd.DataFrame  # paper_id, topic_id, method of the fit's papers
    pool: list[str]  # papers in the novelty pool
    centroids: dict[int, np.ndarray]
    last_topic_id: int | None
    next_stable_number: int
    texts: Callable[[pd.Series], DocBatches]  # text batches of the papers a class series holds


@dataclass(frozen=True)
class UpdatePlan:
    """What an update writes: rows of paper_topics, the pool, born topics, and its record."""

    n_placed: int
    placements: pd.DataFrame  # paper_id, topic_id, similarity (rows written)
    to_pool: pd.DataFrame  # paper_id, nearest_topic_id, similarity
    births: Births | None
    n_new: int
    pool_size: int
    record: dict


def new_papers(inputs: UpdateInputs) -> list[str]:
    """Papers with a current embedding that the fit has not seen, by paper_id."""
    return sorted(set(inputs.ids) - set(inputs.known["paper_id"]))


def plan_update(
    inputs: UpdateInputs, new_ids: list[str], embedder: Callable[[], Embedder] | None = None
) -> UpdatePlan:
    """Place ``new_ids`` (not empty) and birth topics from a dense pool; nothing is written."""
    rules = inputs.rules
    needed = pool_minimum(rules.min_cluster_size)
    position = {pid: i for i, pid in enumerate(inputs.ids)}
    embeddings = inputs.embeddings
    new_idx = np.array(new_ids, dtype=object)

    # 1. every new paper: its nearest topic if close enough, else the pool
    new_rows = np.array([position[p] for p in new_idx], dtype=int)
    topic, nearest, sims = place_by_centroid(
        embeddings[new_rows], inputs.centroids, rules.threshold
    )
    placements = pd.DataFrame(
        {"paper_id": new_idx, "topic_id": topic, "similarity": sims, "nearest_topic_id": nearest}
    ).set_index("paper_id")
    pool_ids = [p for p in inputs.pool if p in position]
    pool_ids += placements.index[placements["topic_id"] == -1].tolist()

    # 2. a pool large enough is clustered; dense clusters become topics
    rule: NoveltyRule | None = None
    births: Births | None = None
    if len(pool_ids) >= needed:
        known = inputs.known
        core = known[(known["method"] == "fit") & known["paper_id"].isin(position)]
        core_labels = np.full(len(inputs.ids), -1)
        core_labels[core["paper_id"].map(position).to_numpy()] = core["topic_id"].to_numpy()
        rule = novelty_rule(embeddings, core_labels, rules.min_cluster_size, rules.min_samples)
        pool_rows = np.array([position[p] for p in pool_ids], dtype=int)
        clusters = find_new_topics(embeddings[pool_rows], rule)
        if (clusters >= 0).any():
            births = birth_topics(inputs, placements, pool_rows, clusters, embedder)

    # 3. papers of born topics (new ones, and earlier ones leaving the pool) get those topics
    joined = (births.members if births is not None else _empty_members()).set_index("paper_id")
    new_joined = joined.index.intersection(placements.index)
    placements.loc[new_joined, ["topic_id", "similarity"]] = joined.loc[new_joined]
    rows = pd.concat([placements, joined.drop(new_joined)])[["topic_id", "similarity"]]
    to_pool = placements[placements["topic_id"] == -1]
    return UpdatePlan(
        n_placed=int((topic != -1).sum()),
        placements=rows.reset_index(names="paper_id"),
        to_pool=to_pool[["nearest_topic_id", "similarity"]].reset_index(names="paper_id"),
        births=births,
        n_new=len(placements),
        pool_size=len(pool_ids) - len(joined),
        record={
            "assign_threshold": rules.threshold,
            "pool_minimum": needed,
            "rule": None if rule is None else rule.as_dict(),
        },
    )


def update_summary(
    inputs: UpdateInputs, plan: UpdatePlan | None, now: datetime, seconds: float
) -> UpdateSummary:
    """The summary of ``plan`` (None: no new papers)."""
    needed = pool_minimum(inputs.rules.min_cluster_size)
    if plan is None:
        return UpdateSummary(inputs.run_id, None, 0, 0, 0, len(inputs.pool), needed, seconds)
    return UpdateSummary(
        topic_run_id=inputs.run_id,
        update_run_id=f"upd-{now:%Y%m%dT%H%M%S%f}",
        n_docs=plan.n_new,
        n_placed=plan.n_placed,
        n_pooled=len(plan.to_pool),
        pool_size=plan.pool_size,
        pool_minimum=needed,
        seconds=seconds,
        born=[] if plan.births is None else plan.births.described(),
    )


def _empty_members() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "paper_id": pd.Series([], dtype=object),
            "topic_id": pd.Series([], dtype=int),
            "similarity": pd.Series([], dtype=float),
        }
    )


def birth_topics(
    inputs: UpdateInputs,
    placements: pd.DataFrame,
    pool_rows: np.ndarray,
    clusters: np.ndarray,
    embedder: Callable[[], Embedder] | None = None,
) -> Births:
    """New topics from the pool's clusters: ids, labels (c-TF-IDF against every topic), NPMI.

    ``placements`` (indexed by paper_id) holds the new papers' topics, ``pool_rows`` the rows
    of ``inputs.embeddings`` in the pool and ``clusters`` their cluster (-1: none).
    """
    ids, embeddings = inputs.ids, inputs.embeddings
    first_id = (-1 if inputs.last_topic_id is None else inputs.last_topic_id) + 1
    pool_topics = np.where(clusters >= 0, clusters + first_id, -1)
    # every paper of the fit after this update, in its class (-1: outliers and the pool)
    classes = pd.concat([inputs.known.set_index("paper_id")["topic_id"], placements["topic_id"]])
    classes.loc[[ids[i] for i in pool_rows]] = pool_topics
    batches = inputs.texts(classes)

    targets = sorted(set(pool_topics.tolist()) - {-1})
    all_classes = np.unique(classes.to_numpy().astype(np.int64))
    words = inputs.rules.words
    ranked = streamed_class_top_terms(batches, all_classes, targets, words.candidate_words)
    if words.representation == "ctfidf" and words.term_coherence > 0:
        chosen = streamed_coherent_terms(
            [ranked[t] for t in targets],
            batches,
            top_n=words.top_n_words,
            coherence=words.term_coherence,
        )
    else:
        chosen = represent_terms(
            [ranked[t] for t in targets],
            top_n=words.top_n_words,
            representation=words.representation,
            diversity=words.mmr_diversity,
            embedder=embedder() if embedder and words.representation == "mmr" else None,
        )
    terms = dict(zip(targets, chosen, strict=True))
    # NPMI as the fit scores it: the documents' own text, restricted to the topics' terms
    top_terms = [terms[t][0] for t in targets]
    vocabulary_terms = sorted({w for words in top_terms for w in words})
    parts = [term_counts(texts, vocabulary_terms) for texts, _ in batches()]
    doc_term = sparse.vstack([matrix for matrix, _ in parts]).tocsr()
    npmi = npmi_coherence(top_terms, doc_term, parts[0][1] if parts else {})
    rows, members = [], []
    for t, score in zip(targets, npmi, strict=True):
        idx = pool_rows[pool_topics == t]
        mean = embeddings[idx].mean(axis=0)
        centroid = mean / (np.linalg.norm(mean) or 1.0)
        sims = (embeddings[idx] @ centroid).astype(np.float64)
        chosen_words, weights = terms[t]
        rows.append(
            {
                "topic_id": t,
                "label": short_label(chosen_words),
                "terms": chosen_words,
                "term_weights": weights,
                "size": len(idx),
                "npmi": score,
                "centroid": centroid,
                "representative_ids": [ids[i] for i in idx[np.argsort(-sims, kind="stable")][:5]],
            }
        )
        members.append(
            pd.DataFrame({"paper_id": [ids[i] for i in idx], "topic_id": t, "similarity": sims})
        )
    first_stable = inputs.next_stable_number
    return Births(
        topics=pd.DataFrame(rows),
        stable_ids=[format_stable_id(first_stable + n) for n in range(len(rows))],
        members=pd.concat(members, ignore_index=True),
    )
