"""Topics update stage (`trends topics --update`): new papers into the current fit, no refit.

New papers join their nearest topic or go to the fit's novelty pool; once the pool is large
enough, dense groups in it become new topics (born in this update, with new stable ids).
Existing topics never change. The rules are in :mod:`pipeline.novelty`; this module reads the
store, applies them and saves the outcome in one transaction (``sql/ops/save_topic_update.sql``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline.embed import Embedder, load_embeddings
from pipeline.lineage import format_stable_id
from pipeline.novelty import (
    NoveltyRule,
    find_new_topics,
    novelty_rule,
    place_by_centroid,
    pool_minimum,
    streamed_class_top_terms,
)
from pipeline.quality import npmi_coherence
from pipeline.store import Store
from pipeline.topics import (
    TopicParams,
    current_topic_run,
    next_stable_number,
    represent_terms,
    short_label,
    term_counts,
    topics_table,
)


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
    def of_run(cls, store: Store, run_id: str) -> FitRules:
        """The rules stored with fit ``run_id``."""
        params = json.loads(
            store.scalar("select params from topic_runs where topic_run_id = ?", [run_id])
        )
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
            ),
        )


def place_new_papers(
    store: Store, model: str, embedder: Callable[[], Embedder] | None = None
) -> UpdateSummary:
    """Place papers the current fit has not seen; form new topics from a dense novelty pool.

    Everything is written in one transaction; running it again with no new papers changes
    nothing. ``embedder`` makes the model of ``model``; it is loaded only when topics are born
    and the fit chose its words by ``mmr``.
    """
    started = time.perf_counter()
    run_id = current_topic_run(store)
    if run_id is None:
        raise ValueError("no topic fit yet; run `trends topics --full` first")
    fit_model = store.scalar("select model from topic_runs where topic_run_id = ?", [run_id])
    if fit_model != model:
        raise ValueError(
            f"the current topic fit {run_id} was made with {fit_model} embeddings, not {model};"
            " run `trends topics --full` to refit with this backend"
        )
    rules = FitRules.of_run(store, run_id)
    needed = pool_minimum(rules.min_cluster_size)
    ids, embeddings = load_embeddings(store, model)
    position = {pid: i for i, pid in enumerate(ids)}
    known = store.query(
        "select paper_id, topic_id, method from paper_topics where topic_run_id = ?", [run_id]
    )
    old_pool = store.query(
        "select paper_id from novelty_pool where topic_run_id = ? order by paper_id", [run_id]
    )["paper_id"]
    new_idx = np.array(sorted(set(position) - set(known["paper_id"])), dtype=object)
    if len(new_idx) == 0:
        return UpdateSummary(
            run_id, None, 0, 0, 0, len(old_pool), needed, time.perf_counter() - started
        )

    # 1. every new paper: its nearest topic if close enough, else the pool
    new_rows = np.array([position[p] for p in new_idx], dtype=int)
    topic, nearest, sims = place_by_centroid(
        embeddings[new_rows], _centroids(store, run_id), rules.threshold
    )
    placements = pd.DataFrame(
        {"paper_id": new_idx, "topic_id": topic, "similarity": sims, "nearest_topic_id": nearest}
    ).set_index("paper_id")
    pool_ids = [p for p in old_pool if p in position]
    pool_ids += placements.index[placements["topic_id"] == -1].tolist()

    # 2. a pool large enough is clustered; dense clusters become topics
    rule: NoveltyRule | None = None
    births: Births | None = None
    if len(pool_ids) >= needed:
        core = known[(known["method"] == "fit") & known["paper_id"].isin(position)]
        core_labels = np.full(len(ids), -1)
        core_labels[core["paper_id"].map(position).to_numpy()] = core["topic_id"].to_numpy()
        rule = novelty_rule(embeddings, core_labels, rules.min_cluster_size, rules.min_samples)
        pool_rows = np.array([position[p] for p in pool_ids], dtype=int)
        clusters = find_new_topics(embeddings[pool_rows], rule)
        if (clusters >= 0).any():
            births = _birth_topics(
                store,
                run_id,
                ids,
                embeddings,
                known,
                placements,
                pool_rows,
                clusters,
                rules,
                embedder,
            )

    # 3. papers of born topics (new ones, and earlier ones leaving the pool) get those topics
    joined = (births.members if births is not None else _empty_members()).set_index("paper_id")
    new_joined = joined.index.intersection(placements.index)
    placements.loc[new_joined, ["topic_id", "similarity"]] = joined.loc[new_joined]
    rows = pd.concat([placements, joined.drop(new_joined)])[["topic_id", "similarity"]]
    to_pool = placements[placements["topic_id"] == -1]
    now = datetime.now(UTC).replace(tzinfo=None)
    summary = UpdateSummary(
        topic_run_id=run_id,
        update_run_id=f"upd-{now:%Y%m%dT%H%M%S%f}",
        n_docs=len(placements),
        n_placed=int((topic != -1).sum()),
        n_pooled=len(to_pool),
        pool_size=len(pool_ids) - len(joined),
        pool_minimum=needed,
        seconds=time.perf_counter() - started,
        born=[] if births is None else births.described(),
    )
    record = {
        "assign_threshold": rules.threshold,
        "pool_minimum": needed,
        "rule": None if rule is None else rule.as_dict(),
    }
    _save_update(
        store,
        summary,
        model,
        rows.reset_index(),
        to_pool[["nearest_topic_id", "similarity"]].reset_index(),
        births,
        record,
        now,
    )
    return replace(summary, seconds=time.perf_counter() - started)


def _centroids(store: Store, run_id: str) -> dict[int, np.ndarray]:
    """Centroids of the fit's topics (outliers excluded), topics born in updates included."""
    cent = store.query(
        "select topic_id, centroid from topics where topic_run_id = ? and topic_id <> -1", [run_id]
    )
    return {
        int(t): np.asarray(c, np.float32)
        for t, c in zip(cent["topic_id"], cent["centroid"], strict=True)
    }


def _empty_members() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "paper_id": pd.Series([], dtype=object),
            "topic_id": pd.Series([], dtype=int),
            "similarity": pd.Series([], dtype=float),
        }
    )


def _birth_topics(
    store: Store,
    run_id: str,
    ids: list[str],
    embeddings: np.ndarray,
    known: pd.DataFrame,
    placements: pd.DataFrame,
    pool_rows: np.ndarray,
    clusters: np.ndarray,
    rules: FitRules,
    embedder: Callable[[], Embedder] | None = None,
) -> Births:
    """New topics from the pool's clusters: ids, labels (c-TF-IDF against every topic), NPMI.

    ``placements`` (indexed by paper_id) holds the new papers' topics, ``pool_rows`` the rows
    of ``embeddings`` in the pool and ``clusters`` their cluster (-1: none).
    """
    last_id = store.scalar("select max(topic_id) from topics where topic_run_id = ?", [run_id])
    first_id = (-1 if last_id is None else int(last_id)) + 1
    first_stable = next_stable_number(store)
    pool_topics = np.where(clusters >= 0, clusters + first_id, -1)
    # every paper of the fit after this update, in its class (-1: outliers and the pool)
    classes = pd.concat([known.set_index("paper_id")["topic_id"], placements["topic_id"]])
    classes.loc[[ids[i] for i in pool_rows]] = pool_topics

    def batches() -> Iterator[tuple[list[str], np.ndarray]]:
        # every paper's text in batches, never all at once: at a million papers that query
        # overran DuckDB's memory limit
        for batch in store.stream_arrow(
            "select paper_id, title || '. ' || abstract as text from papers"
        ):
            batch_classes = classes.reindex(batch.column("paper_id").to_pylist())
            keep = batch_classes.notna().to_numpy()
            texts = batch.column("text").to_pylist()
            yield (
                [t for t, k in zip(texts, keep, strict=True) if k],
                batch_classes.to_numpy()[keep].astype(np.int64),
            )

    targets = sorted(set(pool_topics.tolist()) - {-1})
    all_classes = np.unique(classes.to_numpy().astype(np.int64))
    words = rules.words
    ranked = streamed_class_top_terms(batches, all_classes, targets, words.candidate_words)
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
        words, weights = terms[t]
        rows.append(
            {
                "topic_id": t,
                "label": short_label(words),
                "terms": words,
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
    return Births(
        topics=pd.DataFrame(rows),
        stable_ids=[format_stable_id(first_stable + n) for n in range(len(rows))],
        members=pd.concat(members, ignore_index=True),
    )


def _save_update(
    store: Store,
    summary: UpdateSummary,
    model: str,
    placements: pd.DataFrame,
    pool: pd.DataFrame,
    births: Births | None,
    record: dict,
    now: datetime,
) -> None:
    """Write the update in one transaction (sql/ops/save_topic_update.sql).

    ``placements``: paper_id, topic_id, similarity of every paper whose row is written (new
    papers, and pool papers that joined a born topic); ``pool``: paper_id, nearest_topic_id,
    similarity of the new papers that stay in the pool.
    """
    topics = births.topics if births else pd.DataFrame(columns=list(TOPIC_COLUMNS))
    stable = births.stable_ids if births else []
    views = {
        "incoming_placements": placements.astype({"topic_id": "int64", "similarity": float}),
        "incoming_pool": pool.astype({"nearest_topic_id": "int64", "similarity": float}),
        "incoming_births": pd.DataFrame(
            {
                "stable_id": pd.Series(stable, dtype=object),
                "topic_id": pd.Series(topics["topic_id"].tolist(), dtype="int64"),
            }
        ),
    }
    for name, frame in views.items():
        store.register(name, frame)
    store.register_arrow("incoming_new_topics", topics_table(topics, summary.topic_run_id, stable))
    params = {
        "topic_run_id": summary.topic_run_id,
        "update_run_id": summary.update_run_id,
        "model": model,
        "now": now,
        "n_new": summary.n_docs,
        "n_placed": summary.n_placed,
        "n_pooled": summary.n_pooled,
        "pool_size": summary.pool_size,
        "n_born": len(summary.born),
        "n_joined_born": sum(size for _, _, size in summary.born),
        "params": json.dumps(record),
        "seconds": summary.seconds,
    }
    try:
        with store.transaction():
            store.run_file("ops/save_topic_update", params)
    finally:
        for name in [*views, "incoming_new_topics"]:
            store.unregister(name)
