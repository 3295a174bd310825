"""The whole backtest: every cut-off, its calls scored and saved in the working store."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.backtest.cache import cache_key, load_cutoffs, save_cutoffs
from pipeline.backtest.cutoff import copy_step, run_cutoff
from pipeline.backtest.params import BacktestParams, BacktestSummary, CutoffResult, cutoffs
from pipeline.backtest.scoring import score_calls, score_lines
from pipeline.backtest.tune import RuleGrid, apply_rules, scored_calls, tune_rules
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
    cache_dir: Path | None = None,
    grid: RuleGrid | None = None,
) -> BacktestSummary:
    """Run every cut-off point-in-time in a scratch store, then score and save the calls.

    ``make_embedder`` is called only when the working store has no cached vectors of the
    themes for ``model``. The scratch store lives in ``scratch_dir`` (a temporary folder when
    None) and is deleted afterwards; the working store receives the three backtest tables.
    ``cache_dir``: the cut-offs are read from there when it holds them for these parameters
    (no fit), else computed and written there (:mod:`pipeline.backtest.cache`). ``grid``: the
    status rules are also tuned on the tuning split (:func:`tune_rules`); the run saved is
    still the one made with ``params.rules``.
    """
    started = time.perf_counter()
    theme_vectors(store, themes, model, make_embedder)  # cached once in the working store
    results = _results(store, themes, model, params, cache_dir, scratch_dir, say)
    frame = scored_calls(results, results, params)
    if frame.empty:
        raise ValueError(
            f"backtest {params.date_from} .. {params.date_to}: no cut-off had enough embedded"
            f" papers of {model} for a call"
        )
    scores = score_calls(frame, params.grain)
    tuning = tuned_scores = None
    if grid is not None:
        tuning = tune_rules(results, params, grid, scratch_dir=scratch_dir, say=say)
        if tuning.wins:
            [derived] = apply_rules(results, [tuning.chosen], params.grain, scratch_dir=scratch_dir)
            tuned_scores = score_calls(scored_calls(derived, results, params), params.grain)
    run_id = f"backtest-{params.grain}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    seconds = time.perf_counter() - started
    save_backtest(store, run_id, params, model, len(results), frame, scores, seconds)
    return BacktestSummary(
        run_id, len(results), len(frame), seconds, scores, params.tune_until, tuning, tuned_scores
    )


def _results(
    store: Store,
    themes: list[Theme],
    model: str,
    params: BacktestParams,
    cache_dir: Path | None,
    scratch_dir: Path | None,
    say: Callable[[str], None],
) -> list[CutoffResult]:
    """The cut-offs: from the cache when it holds them (statuses under params.rules), or fitted."""
    if cache_dir is None:
        return compute_cutoffs(store, themes, model, params, scratch_dir=scratch_dir, say=say)
    key = cache_key(store, params, model)
    cached = load_cutoffs(cache_dir, key)
    if cached is not None:
        say(f"{len(cached)} cut-offs read from {cache_dir} (no fit)")
        return apply_rules(cached, [params.rules], params.grain, scratch_dir=scratch_dir)[0]
    results = compute_cutoffs(store, themes, model, params, scratch_dir=scratch_dir, say=say)
    save_cutoffs(results, cache_dir, key)
    say(f"{len(results)} cut-offs cached in {cache_dir}")
    return results


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
                added = copy_step(store, scratch, model, after, cutoff, params.source)
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
    store: Store,
    settings: Settings,
    params: BacktestParams,
    say: Callable[[str], None] = print,
    *,
    cache_dir: Path | None = None,
    tune: bool = False,
) -> list[str]:
    """The backtest as the CLI and a DAG task call it: the fit's backend, the themes file.

    Returns the summary line and the score table (:func:`score_lines`); with ``tune``, also
    the tuning's choice and the scored split under the chosen rules.
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
        cache_dir=cache_dir,
        grid=RuleGrid() if tune else None,
    )
    lines = [summary.line(), *score_lines(summary.scores, params.tune_until)]
    if summary.tuning is not None:
        lines += summary.tuning.lines(params.grain)
    if summary.tuned_scores is not None:
        lines.append("under the chosen rules (the run above keeps the rules it was given):")
        lines += score_lines(summary.tuned_scores, params.tune_until)[1:]
    return lines


def params_from_form(form: Mapping[str, object]) -> BacktestParams:
    """The backtest a DAG run's form asks for (``dags/trends_backtest.py``).

    Fields: ``date_from``, ``date_to`` (YYYY-MM-DD), ``grain``, ``topics``, ``fit_budget``,
    ``source``, ``tune_until``. Raises ``ParamsError`` naming the field (retrying cannot fix it).
    """
    from pipeline.runner import ParamsError, parse_param_date

    start = parse_param_date("date_from", form.get("date_from"))
    end = parse_param_date("date_to", form.get("date_to"))
    if start is None or end is None:
        raise ParamsError("date_from and date_to: a backtest needs both (YYYY-MM-DD)")
    tune_until = form.get("tune_until")
    try:
        return BacktestParams(
            start,
            end,
            grain=str(form.get("grain") or "year"),
            tune_until=None if tune_until in (None, "") else int(str(tune_until)),
            topic_mode=str(form.get("topics") or "refit"),
            fit_budget=int(str(form.get("fit_budget") or 4000)),
            source=str(form["source"]) if form.get("source") else None,
        )
    except ValueError as exc:
        raise ParamsError(str(exc)) from None
