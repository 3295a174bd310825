"""The topics stage (`trends topics`): a full fit, or an update of the current fit.

Each entry point hands its ``store`` only to :mod:`pipeline.topics.persistence` (reads first,
one transaction of writes last) and runs the pure modules on what it read in between.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.topics import persistence
from pipeline.topics.areas import area_centroids, group_topics
from pipeline.topics.lineage import lineage_against
from pipeline.topics.naming import Encode, keep_names, name_topics
from pipeline.topics.params import TopicParams, TopicSummary
from pipeline.topics.sampling import SampleRule, balanced_sample
from pipeline.topics.update import (
    TOPIC_COLUMNS,
    FitRules,
    UpdateInputs,
    UpdateSummary,
    new_papers,
    plan_update,
    update_summary,
)

if TYPE_CHECKING:
    from pipeline.embedders import Embedder
    from pipeline.store import Store


def fit_and_store(
    store: Store,
    model: str,
    seed: int,
    params: TopicParams | None = None,
    *,
    representation: str = "ctfidf",
    embedder: Callable[[], Embedder] | None = None,
    sample: SampleRule | None = None,
) -> TopicSummary:
    """Fit topics on the embedded papers, match them to the previous fit, store it atomically.

    The fit clusters every paper, or a period-balanced sample of them when the store holds
    more than ``sample.budget`` (:mod:`pipeline.topics.sampling`), and places the others into
    its topics. Without ``params`` the settings scale to the papers clustered
    (``TopicParams.for_corpus``) with the given ``representation``; ``embedder`` makes the
    model of ``model``, loaded only when the representation embeds words.
    """
    from pipeline.topics.fit import OtherPapers, fit_topics  # BERTopic, UMAP: only for a fit

    started = time.perf_counter()
    papers = persistence.fit_papers(store, model)
    ids = papers.ids
    if len(ids) < 20:
        raise ValueError(f"only {len(ids)} embedded papers for {model}; need at least 20 to fit")
    chosen = balanced_sample(papers.periods, sample or SampleRule(), seed)
    rows = chosen.rows
    fit_ids = [ids[i] for i in rows]
    others = None
    if chosen.balanced:
        rest = np.setdiff1d(np.arange(len(ids)), rows)
        others = OtherPapers([ids[i] for i in rest], papers.embeddings, rows=rest)
    docs = persistence.paper_texts(store, fit_ids)
    params = params or TopicParams.for_corpus(len(fit_ids), representation=representation)
    model_embedder = embedder() if embedder else None  # names embed phrases with it
    words_embedder = model_embedder if params.representation == "mmr" else None
    fit = fit_topics(
        fit_ids, docs, papers.embeddings[rows], params, seed, words_embedder, others=others
    )
    previous = persistence.current_topic_run(store)
    previous_fit = persistence.previous_fit(store, previous)
    lineage, agreement = lineage_against(
        previous_fit, fit.topics, fit.assignments, persistence.next_stable_number(store)
    )
    labels = fit.assignments.set_index("paper_id")["topic_id"].reindex(fit_ids).to_numpy()
    names, areas, area_rows = name_fit(
        docs,
        labels,
        fit.topics,
        model_embedder.encode if model_embedder else None,
        lineage.events,
        previous_fit.topics if previous_fit else None,
    )
    seconds = time.perf_counter() - started
    run_id = f"fit-{datetime.now(UTC):%Y%m%dT%H%M%S}-s{seed}"
    n_topics = int((fit.topics["topic_id"] != -1).sum())
    stable = [lineage.stable_ids.get(int(t)) for t in fit.topics["topic_id"]]
    coords = fit.map_coords
    if coords is None:
        coords = pd.DataFrame({"paper_id": [], "x": [], "y": []})
    persistence.save_fit(
        store,
        persistence.FitRecord(
            run_id=run_id,
            model=model,
            seed=seed,
            params={
                **asdict(params),
                "assign_threshold": fit.assign_threshold,
                "outlier_share_before_reduction": fit.outlier_share_before,
            },
            topics=persistence.topics_table(fit.topics, run_id, stable, names, areas),
            assignments=fit.assignments[["paper_id", "topic_id", "similarity", "method"]],
            map_coords=coords,
            lineage=lineage.events,
            n_topics=n_topics,
            outlier_share=fit.outlier_share,
            npmi=fit.npmi,
            diversity=fit.diversity,
            seed_agreement=fit.seed_check_agreement,
            seconds=seconds,
            created_at=datetime.now(UTC).replace(tzinfo=None),
            previous_run_id=previous,
            agreement=agreement,
            n_clustered=len(fit_ids),
            sampling=chosen.record(),
            areas=area_rows,
        ),
    )
    return TopicSummary(
        run_id,
        "full",
        len(ids),
        n_topics,
        fit.outlier_share,
        fit.npmi,
        fit.diversity,
        seconds,
        lineage_counts=lineage.events["event"].value_counts().to_dict(),
        agreement=agreement,
        seed_agreement=fit.seed_check_agreement,
        n_clustered=len(fit_ids),
    )


def name_fit(
    docs: list[str],
    labels: np.ndarray,
    topics: pd.DataFrame,
    encode: Encode | None,
    lineage: pd.DataFrame,
    previous: pd.DataFrame | None,
) -> tuple[dict[int, str], dict[int, int], pd.DataFrame]:
    """Names of a fit's topics, the area of each topic, and the areas' rows.

    A topic keeps its name from ``previous`` where lineage says it stayed (naming.keep_names);
    the rows are area_id, name, n_topics.

    ``docs[i]`` is the text of a clustered paper in topic ``labels[i]``; ``topics`` holds
    topic_id and centroid; ``previous``: topic_id, name of the previous fit.
    """
    real = topics[topics["topic_id"] != -1]
    centroids = {
        int(t): np.asarray(c, np.float32)
        for t, c in zip(real["topic_id"], real["centroid"], strict=True)
        if c is not None
    }
    names = name_topics(docs, labels, centroids, encode)
    if previous is not None and "name" in previous:
        before = {
            int(t): n
            for t, n in zip(previous["topic_id"], previous["name"], strict=True)
            if isinstance(n, str) and n
        }
        names = keep_names(names, lineage, before)
    areas = group_topics(centroids)
    area_of_doc = np.array([areas.get(int(t), -1) for t in labels])
    area_names = name_topics(docs, area_of_doc, area_centroids(centroids, areas), encode)
    counts = pd.Series(areas, dtype="int64").value_counts()
    rows = pd.DataFrame(
        {
            "area_id": sorted(area_names),
            "name": [area_names[a] or f"area {a}" for a in sorted(area_names)],
            "n_topics": [int(counts.get(a, 0)) for a in sorted(area_names)],
        }
    )
    return names, areas, rows


def place_new_papers(
    store: Store, model: str, embedder: Callable[[], Embedder] | None = None
) -> UpdateSummary:
    """Place papers the current fit has not seen; form new topics from a dense novelty pool.

    Everything is written in one transaction; running it again with no new papers changes
    nothing. ``embedder`` makes the model of ``model``; it is loaded only when topics are born
    and the fit chose its words by ``mmr``.
    """
    started = time.perf_counter()
    run_id = persistence.current_topic_run(store)
    if run_id is None:
        raise ValueError("no topic fit yet; run `trends topics --full` first")
    fit_model = persistence.fit_model(store, run_id)
    if fit_model != model:
        raise ValueError(
            f"the current topic fit {run_id} was made with {fit_model} embeddings, not {model};"
            " run `trends topics --full` to refit with this backend"
        )
    ids, embeddings = persistence.embedded_papers(store, model)
    inputs = UpdateInputs(
        run_id=run_id,
        rules=FitRules.of_params(persistence.fit_params(store, run_id)),
        ids=ids,
        embeddings=embeddings,
        known=persistence.fit_assignments(store, run_id),
        pool=persistence.novelty_pool(store, run_id),
        centroids=persistence.topic_centroids(store, run_id),
        last_topic_id=persistence.last_topic_id(store, run_id),
        next_stable_number=persistence.next_stable_number(store),
        texts=lambda classes: persistence.text_batches(store, classes),
    )
    fresh = new_papers(inputs)
    if not fresh:
        return update_summary(inputs, None, datetime.now(UTC), time.perf_counter() - started)
    plan = plan_update(inputs, fresh, embedder)
    now = datetime.now(UTC).replace(tzinfo=None)
    summary = update_summary(inputs, plan, now, time.perf_counter() - started)
    births = plan.births
    topics = births.topics if births else pd.DataFrame(columns=list(TOPIC_COLUMNS))
    stable = births.stable_ids if births else []
    persistence.save_update(
        store,
        {
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
            "params": json.dumps(plan.record),
            "seconds": summary.seconds,
        },
        plan.placements,
        plan.to_pool,
        persistence.topics_table(topics, summary.topic_run_id, stable),
        pd.DataFrame(
            {
                "stable_id": pd.Series(stable, dtype=object),
                "topic_id": pd.Series(topics["topic_id"].tolist(), dtype="int64"),
            }
        ),
    )
    return replace(summary, seconds=time.perf_counter() - started)
