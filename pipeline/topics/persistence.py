"""Every store read and write of the topics domain; the rest of the package never sees a store.

Each function runs named SQL files of ``sql/topics/`` (and ``sql/ops/save_topic_update.sql``)
and hands back frames, arrays or plain values. Stages that only need the current fit import
this module alone (``from pipeline.topics.persistence import current_topic_run``): it imports
neither BERTopic nor UMAP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.embed import load_embeddings
from pipeline.store import Store
from pipeline.topics.params import PreviousFit

if TYPE_CHECKING:
    from pipeline.topics.words import DocBatches


@dataclass(frozen=True)
class FitPapers:
    """Every paper with a current embedding of a model, ordered by paper_id."""

    ids: list[str]
    embeddings: np.ndarray
    periods: pd.DataFrame  # paper_id, source, period (the marts' period; NaT when undated)


@dataclass(frozen=True)
class FitRecord:
    """One full fit as ``sql/topics/save_fit.sql`` writes it."""

    run_id: str
    model: str
    seed: int
    params: dict[str, object]
    topics: pa.Table  # rows of `topics` (see topics_table)
    assignments: pd.DataFrame  # paper_id, topic_id, similarity, method
    map_coords: pd.DataFrame  # paper_id, x, y
    lineage: pd.DataFrame  # event, stable_id, topic_id, previous_topic_id, score
    n_topics: int
    outlier_share: float
    npmi: float | None
    diversity: float | None
    seed_agreement: float | None
    seconds: float
    created_at: datetime
    previous_run_id: str | None
    agreement: float | None
    n_clustered: int
    sampling: dict[str, object]
    areas: pd.DataFrame | None = None  # area_id, name, n_topics (see pipeline.topics.areas)


def current_topic_run(store: Store) -> str | None:
    """The latest complete fit."""
    return store.scalar_file("topics/current_topic_run")


def fit_model(store: Store, run_id: str) -> str | None:
    """The embedding model fit ``run_id`` was made with."""
    return store.scalar_file("topics/fit_model", {"topic_run_id": run_id})


def fit_params(store: Store, run_id: str) -> dict[str, object]:
    """The parameters stored with fit ``run_id``."""
    return json.loads(store.scalar_file("topics/fit_params", {"topic_run_id": run_id}))


def embedded_count(store: Store, model: str) -> int:
    """How many papers have an embedding of ``model`` (a fit needs some)."""
    return int(store.scalar_file("topics/count_embedded", {"model": model}))


def embedded_papers(store: Store, model: str) -> tuple[list[str], np.ndarray]:
    """Every paper with a current embedding of ``model`` and its vector, by paper_id."""
    return load_embeddings(store, model)


def fit_papers(store: Store, model: str) -> FitPapers:
    """Every paper a full fit of ``model`` sees: ids, vectors and periods."""
    ids, embeddings = load_embeddings(store, model)
    periods = store.query_file("topics/paper_periods").set_index("paper_id").reindex(ids)
    return FitPapers(ids, embeddings, periods.reset_index(names="paper_id"))


def paper_texts(store: Store, paper_ids: list[str]) -> list[str]:
    """Title and abstract of each paper, in the order of ``paper_ids``.

    Streamed and filtered batch by batch: a full fit of a million papers clusters a sample of
    40,000, and reading every text at once (1 GB of strings at 1M) overran the stage's memory.
    """
    import pyarrow.compute as pc

    wanted = pa.array(paper_ids, pa.string())
    texts: dict[str, str] = {}
    for batch in store.stream_file("topics/paper_texts"):
        kept = batch.filter(pc.is_in(batch.column("paper_id"), value_set=wanted))
        ids, docs = kept.column("paper_id").to_pylist(), kept.column("text").to_pylist()
        texts.update(zip(ids, docs, strict=True))
    missing = [p for p in paper_ids if p not in texts]
    if missing:
        raise KeyError(f"{len(missing):,} papers have no text, e.g. {missing[0]!r}")
    return [texts[p] for p in paper_ids]


def previous_fit(store: Store, run_id: str | None) -> PreviousFit | None:
    """The named topics and papers of fit ``run_id`` (None for none)."""
    if run_id is None:
        return None
    topics = store.query_file("topics/named_topics", {"topic_run_id": run_id})
    assignments = fit_assignments(store, run_id).set_index("paper_id")["topic_id"]
    return PreviousFit(topics, assignments)


def fit_assignments(store: Store, run_id: str) -> pd.DataFrame:
    """paper_id, topic_id, method of every paper of fit ``run_id``."""
    return store.query_file("topics/fit_assignments", {"topic_run_id": run_id})


def next_stable_number(store: Store) -> int:
    """The number the next new stable topic id gets (ids are never reused)."""
    return int(store.scalar_file("topics/last_stable_number") or 0) + 1


def topics_table(
    topics: pd.DataFrame,
    run_id: str,
    stable_ids: list[str | None],
    names: dict[int, str] | None = None,
    areas: dict[int, int] | None = None,
) -> pa.Table:
    """Rows of the ``topics`` table for a frame of topics (as :class:`TopicFit` holds them).

    ``names`` and ``areas`` (topic id -> name, area id) are null where a topic has none.
    """
    ids = [int(t) for t in topics["topic_id"]]
    names, areas = names or {}, areas or {}
    return pa.table(
        {
            "topic_run_id": pa.array([run_id] * len(topics), pa.string()),
            "topic_id": pa.array(topics["topic_id"], pa.int32()),
            "label": pa.array(topics["label"], pa.string()),
            "terms": pa.array(topics["terms"].tolist(), pa.list_(pa.string())),
            "term_weights": pa.array(topics["term_weights"].tolist(), pa.list_(pa.float64())),
            "size": pa.array(topics["size"], pa.int32()),
            "npmi": pa.array(topics["npmi"].astype(float).tolist(), pa.float64()),
            "centroid": pa.array(
                [
                    None if c is None else np.asarray(c, np.float32).tolist()
                    for c in topics["centroid"]
                ],
                pa.list_(pa.float32()),
            ),
            "representative_ids": pa.array(
                topics["representative_ids"].tolist(), pa.list_(pa.string())
            ),
            "stable_id": pa.array(stable_ids, pa.string()),
            "name": pa.array([names.get(t) or None for t in ids], pa.string()),
            "area_id": pa.array([areas.get(t) for t in ids], pa.int32()),
        }
    )


def save_fit(store: Store, fit: FitRecord) -> None:
    """Write a full fit in one transaction (``sql/topics/save_fit.sql``)."""
    views = {
        "incoming_map": fit.map_coords,
        "incoming_lineage": fit.lineage,
        "incoming_paper_topics": fit.assignments.assign(assigned_at=fit.created_at),
        "incoming_areas": (
            fit.areas
            if fit.areas is not None
            else pd.DataFrame({"area_id": [], "name": [], "n_topics": []})
        ).astype({"area_id": "int32", "name": object, "n_topics": "int32"}),
    }
    params = {
        "topic_run_id": fit.run_id,
        "model": fit.model,
        "seed": fit.seed,
        "params": json.dumps(fit.params),
        "n_docs": len(fit.assignments),
        "n_topics": fit.n_topics,
        "outlier_share": fit.outlier_share,
        "npmi": _finite(fit.npmi),
        "diversity": _finite(fit.diversity),
        "seed_agreement": _finite(fit.seed_agreement),
        "fit_seconds": fit.seconds,
        "created_at": fit.created_at,
        "previous_run_id": fit.previous_run_id,
        "agreement": _finite(fit.agreement),
        "n_clustered": fit.n_clustered,
        "sampling": json.dumps(fit.sampling),
    }
    for name, frame in views.items():
        store.register(name, frame)
    store.register_arrow("incoming_topics", fit.topics)
    try:
        with store.transaction():
            store.run_file("topics/save_fit", params)
    finally:
        for name in [*views, "incoming_topics"]:
            store.unregister(name)


# -- updates ----------------------------------------------------------------------------------
def topic_centroids(store: Store, run_id: str) -> dict[int, np.ndarray]:
    """Centroids of the fit's topics (outliers excluded), topics born in updates included."""
    cent = store.query_file("topics/topic_centroids", {"topic_run_id": run_id})
    return {
        int(t): np.asarray(c, np.float32)
        for t, c in zip(cent["topic_id"], cent["centroid"], strict=True)
    }


def novelty_pool(store: Store, run_id: str) -> list[str]:
    """Papers in fit ``run_id``'s novelty pool, by paper_id."""
    pool = store.query_file("topics/novelty_pool_papers", {"topic_run_id": run_id})
    return pool["paper_id"].tolist()


def last_topic_id(store: Store, run_id: str) -> int | None:
    """The highest topic number of fit ``run_id``."""
    last = store.scalar_file("topics/last_topic_id", {"topic_run_id": run_id})
    return None if last is None else int(last)


def text_batches(store: Store, classes: pd.Series) -> DocBatches:
    """Batches of (texts, classes) of the papers ``classes`` (paper_id -> class) holds.

    Every paper's text in batches, never all at once: at a million papers one query of every
    text overran DuckDB's memory limit. The returned callable reads the store again each call.
    """

    def batches() -> Iterator[tuple[list[str], np.ndarray]]:
        for batch in store.stream_file("topics/paper_texts"):
            batch_classes = classes.reindex(batch.column("paper_id").to_pylist())
            keep = batch_classes.notna().to_numpy()
            texts = batch.column("text").to_pylist()
            yield (
                [t for t, k in zip(texts, keep, strict=True) if k],
                batch_classes.to_numpy()[keep].astype(np.int64),
            )

    return batches


def save_update(
    store: Store,
    params: dict[str, object],
    placements: pd.DataFrame,
    pool: pd.DataFrame,
    births: pa.Table,
    born: pd.DataFrame,
) -> None:
    """Write an update in one transaction (``sql/ops/save_topic_update.sql``).

    ``placements``: paper_id, topic_id, similarity of every paper whose row is written;
    ``pool``: paper_id, nearest_topic_id, similarity of new papers that stay in the pool;
    ``births``: rows of ``topics`` born; ``born``: their stable_id, topic_id.
    """
    views = {
        "incoming_placements": placements.astype({"topic_id": "int64", "similarity": float}),
        "incoming_pool": pool.astype({"nearest_topic_id": "int64", "similarity": float}),
        "incoming_births": born,
    }
    for name, frame in views.items():
        store.register(name, frame)
    store.register_arrow("incoming_new_topics", births)
    try:
        with store.transaction():
            store.run_file("ops/save_topic_update", params)
    finally:
        for name in [*views, "incoming_new_topics"]:
            store.unregister(name)


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)
