"""The whole backtest: every cut-off, its calls scored and saved in the working store."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.backtest.cutoff import attach_outcomes, calls_at, copy_step, run_cutoff
from pipeline.backtest.params import BacktestParams, BacktestSummary, CutoffResult, cutoffs
from pipeline.backtest.scoring import score_calls, score_lines, split_of
from pipeline.store import Store, open_writer
from pipeline.themes import Theme, theme_vectors

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.embed import Embedder


def run_backtest(
    store: Store,
    themes: list[Theme],
    model: str,
    params: BacktestParams,
    make_embedder: Callable[[], Embedder],
    *,
    scratch_dir: Path | None = None,
    say: Callable[[str], None] = lambda _line: None,
) -> BacktestSummary:
    """Run every cut-off point-in-time in a scratch store, then score and save the calls.

    ``make_embedder`` is called only when the working store has no cached vectors of the
    themes for ``model``. The scratch store lives in ``scratch_dir`` (a temporary folder when
    None) and is deleted afterwards; the working store receives the three backtest tables.
    """
    started = time.perf_counter()
    theme_vectors(store, themes, model, make_embedder)  # cached once in the working store
    results = compute_cutoffs(store, themes, model, params, scratch_dir=scratch_dir, say=say)
    calls = [calls_at(r, params.grain) for r in results]
    frame = (
        pd.concat([c for c in calls if not c.empty], ignore_index=True)
        if any(not c.empty for c in calls)
        else pd.DataFrame()
    )
    if frame.empty:
        raise ValueError(
            f"backtest {params.date_from} .. {params.date_to}: no cut-off had enough embedded"
            f" papers of {model} for a call"
        )
    frame = attach_outcomes(frame, results, params.grain)
    frame["split"] = [
        split_of(c, s, params.grain, params.tune_until)
        for c, s in zip(frame["cutoff"], frame["source"], strict=True)
    ]
    scores = score_calls(frame, params.grain)
    run_id = f"backtest-{params.grain}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    seconds = time.perf_counter() - started
    save_backtest(store, run_id, params, model, len(results), frame, scores, seconds)
    return BacktestSummary(run_id, len(results), len(frame), seconds, scores, params.tune_until)


def compute_cutoffs(
    store: Store,
    themes: list[Theme],
    model: str,
    params: BacktestParams,
    *,
    scratch_dir: Path | None = None,
    say: Callable[[str], None] = lambda _line: None,
) -> list[CutoffResult]:
    """Each cut-off's point-in-time marts, from a scratch store that grows cut-off by cut-off."""
    results: list[CutoffResult] = []
    with tempfile.TemporaryDirectory(prefix="trends-backtest-", dir=scratch_dir) as tmp:
        after = None
        scratch_cm = open_writer(Path(tmp) / "scratch.duckdb")
        with scratch_cm as scratch:
            for cutoff in cutoffs(params.date_from, params.date_to, params.grain):
                step = time.perf_counter()
                added = copy_step(store, scratch, model, after, cutoff)
                result = run_cutoff(scratch, themes, model, cutoff, params)
                results.append(result)
                after = cutoff
                say(
                    f"cut-off {cutoff}: +{added:,} papers, {len(result.status):,} series,"
                    f" {time.perf_counter() - step:.1f}s"
                )
    return results


def save_backtest(
    store: Store,
    run_id: str,
    params: BacktestParams,
    model: str,
    n_cutoffs: int,
    calls: pd.DataFrame,
    scores: pd.DataFrame,
    seconds: float,
) -> None:
    """Write the run, its calls and its scores to the working store in one transaction."""
    run = pd.DataFrame(
        [
            {
                "backtest_run_id": run_id,
                "period_grain": params.grain,
                "date_from": params.date_from,
                "date_to": params.date_to,
                "topic_mode": params.topic_mode,
                "tune_until": params.tune_until,
                "model": model,
                "fit_budget": params.fit_budget,
                "cutoffs": n_cutoffs,
                "calls": len(calls),
                "seconds": seconds,
                "created_at": datetime.now(UTC).replace(tzinfo=None),
            }
        ]
    )
    store.register("incoming_backtest_run", run)
    store.register("incoming_backtest_calls", calls.assign(backtest_run_id=run_id))
    store.register("incoming_backtest_scores", scores.assign(backtest_run_id=run_id))
    try:
        with store.transaction():
            store.run_file("backtest/save_backtest")
    finally:
        for name in (
            "incoming_backtest_run",
            "incoming_backtest_calls",
            "incoming_backtest_scores",
        ):
            store.unregister(name)


def latest_scores(store: Store, grain: str | None = None) -> pd.DataFrame:
    """The scores of the latest backtest run (of ``grain`` when given)."""
    return store.query_file("backtest/scores", {"period_grain": grain})


def backtest_stage(
    store: Store, settings: Settings, params: BacktestParams, say: Callable[[str], None] = print
) -> list[str]:
    """The backtest as the CLI and a DAG task call it: the fit's backend, the themes file.

    Returns the summary line and the score table (:func:`score_lines`).
    """
    from pipeline.embed import make_embedder, model_name
    from pipeline.runner import fit_settings
    from pipeline.themes import load_themes

    settings = fit_settings(store, settings)
    backend = settings.embedding_backend
    params = replace(params, rules=replace(params.rules, decisions=settings.decisions))
    summary = run_backtest(
        store,
        load_themes(settings.themes_file),
        model_name(backend),
        params,
        lambda: make_embedder(backend, settings.embed_batch_size),
        say=say,
    )
    return [summary.line(), *score_lines(summary.scores, params.tune_until)]
