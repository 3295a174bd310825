"""One cut-off point-in-time: the scratch store, its fit, marts and calls, and their outcomes.

For each cut-off a scratch DuckDB store receives only the papers published up to it (with their
cached embeddings) and runs the ordinary stages on them; nothing dated after a cut-off is in the
store when its calls are made. ``calls_at`` and ``attach_outcomes`` are pure.
"""

from __future__ import annotations

import math
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.backtest.params import (
    HORIZONS,
    KEY,
    BacktestParams,
    CutoffResult,
    period_start,
    shift_period,
)
from pipeline.store import Store
from pipeline.themes import Theme, assign_themes
from pipeline.trends import build_marts

if TYPE_CHECKING:
    from pipeline.embed import Embedder


# -- the point-in-time stages ---------------------------------------------------------------------
def copy_step(
    store: Store,
    scratch: Store,
    model: str,
    after: date | None,
    cutoff: date,
    source: str | None = None,
) -> int:
    """Copy the papers dated in (after, cutoff] (of ``source``, when given) and their embeddings."""
    bounds = {"after": after, "cutoff": cutoff, "source": source}
    papers = store.query_arrow_file("backtest/papers_between", bounds)
    embeddings = store.query_arrow_file("backtest/embeddings_between", {**bounds, "model": model})
    vectors = store.query_arrow_file("backtest/theme_vectors", {"model": model})
    scratch.register_arrow("incoming_papers", papers)
    scratch.register_arrow("incoming_embeddings", embeddings)
    scratch.register_arrow("incoming_theme_vectors", vectors)
    try:
        with scratch.transaction():
            scratch.run_file("backtest/load_cutoff")
    finally:
        for name in ("incoming_papers", "incoming_embeddings", "incoming_theme_vectors"):
            scratch.unregister(name)
    return papers.num_rows


def _topics_at(scratch: Store, model: str, params: BacktestParams) -> str | None:
    """Fit (or place into the existing fit) the scratch store's papers; the fit's id."""
    from pipeline.topics import persistence
    from pipeline.topics.params import TopicParams
    from pipeline.topics.sampling import SampleRule, balanced_sample
    from pipeline.topics.stage import fit_and_store, place_new_papers

    current = persistence.current_topic_run(scratch)
    if current is not None and params.topic_mode == "place":
        place_new_papers(scratch, model)
        return current
    papers = persistence.fit_papers(scratch, model)
    if len(papers.ids) < 20:
        return None  # too few papers for a fit: this cut-off makes no topic calls
    rule = SampleRule(budget=params.fit_budget)
    clustered = len(balanced_sample(papers.periods, rule, params.seed).rows)
    # The seed check (a second clustering per fit) is skipped: it doubles a backtest's cost
    # and no call depends on it.
    topic_params = TopicParams.for_corpus(clustered, seed_check=False)
    fit_and_store(scratch, model, params.seed, topic_params, sample=rule)
    return persistence.current_topic_run(scratch)


def run_cutoff(
    scratch: Store,
    themes: list[Theme],
    model: str,
    cutoff: date,
    params: BacktestParams,
) -> CutoffResult:
    """Topics, themes, marts and statuses of a scratch store holding papers up to ``cutoff``."""
    run_id = _topics_at(scratch, model, params)
    period = period_start(cutoff, params.grain)
    empty = CutoffResult(cutoff, period, _empty_status(), empty_series(), run_id)
    if run_id is None:
        return empty
    assign_themes(scratch, themes, model, _no_embedder)
    build_marts(scratch, as_of=cutoff, rules=params.rules)
    bind = {"grain": params.grain, "topic_run_id": run_id}
    # A split can give two topics one stable id: the larger reading is kept.
    status = scratch.query_file("backtest/cutoff_status", bind).drop_duplicates(KEY)
    shares = scratch.query_file("backtest/cutoff_shares", bind)
    series = scratch.query_file("backtest/cutoff_series", bind)
    series = series.sort_values("papers", ascending=False, kind="stable").drop_duplicates(
        [*KEY, "period_start"]
    )
    series = series.sort_values([*KEY, "period_start"], kind="stable").reset_index(drop=True)
    topics = scratch.query_file("backtest/cutoff_topics", {"topic_run_id": run_id})
    for frame in (status, series, shares):
        as_dates(frame)
    return CutoffResult(cutoff, period, status, series, run_id, topics, shares)


def as_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame's period columns as ``datetime.date`` (DuckDB and Parquet give timestamps)."""
    for column in ("base_period", "period_start"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def _no_embedder() -> Embedder:
    raise ValueError("theme vectors are missing in the backtest's scratch store")


def _empty_status() -> pd.DataFrame:
    return pd.DataFrame(columns=["kind", "source", "series_id", "label", "status", "base_period"])


def empty_series() -> pd.DataFrame:
    """The columns of a cut-off's share series, no rows (a cut-off without a fit)."""
    return pd.DataFrame(
        columns=[
            "kind", "source", "series_id", "label", "period_start", "papers", "denominator",
            "share", "ci_low", "ci_high", "readable",
        ]
    )  # fmt: skip


def calls_at(result: CutoffResult, grain: str) -> pd.DataFrame:
    """Every method's call of every series at one cut-off, with the base period's share.

    ``status``: the marts' status, read at the window's last readable period. The baselines
    read the last readable period and the one before it: ``last_change`` is ``up`` when the
    share left the previous period's interval upwards (``down`` downwards), ``count_growth``
    is ``up`` when the series had more papers than in the previous period (``down`` fewer).
    """
    series = result.series
    status = result.status
    rows = []
    if not status.empty:
        base = status.merge(
            series.rename(columns={"period_start": "base_period"}).drop(columns="label"),
            on=[*KEY, "base_period"],
            how="left",
        )
        rows.append(base.assign(method="status"))
    readable = series[series["readable"].astype(bool)]
    if not readable.empty:
        last = readable["period_start"].max()
        prev = shift_period(last, grain, -1)
        now = readable[readable["period_start"] == last].set_index(KEY)
        before = readable[readable["period_start"] == prev].set_index(KEY)
        both = now.join(before, rsuffix="_prev", how="inner").reset_index()
        if not both.empty:
            change = np.where(
                both["share"] > both["ci_high_prev"],
                "up",
                np.where(both["share"] < both["ci_low_prev"], "down", "flat"),
            )
            count = np.where(
                both["papers"] > both["papers_prev"],
                "up",
                np.where(both["papers"] < both["papers_prev"], "down", "flat"),
            )
            kept = both[[*KEY, "label", "share", "ci_low", "ci_high"]].assign(base_period=last)
            rows.append(kept.assign(method="last_change", status=change))
            rows.append(kept.assign(method="count_growth", status=count))
    if not rows:
        return pd.DataFrame()
    out = pd.concat(rows, ignore_index=True)
    out = out.rename(
        columns={"share": "base_share", "ci_low": "base_ci_low", "ci_high": "base_ci_high"}
    )
    out["cutoff"] = result.cutoff
    return out[
        ["method", "cutoff", *KEY, "label", "status", "base_period", "base_share", "base_ci_low",
         "base_ci_high"]
    ]  # fmt: skip


def attach_outcomes(calls: pd.DataFrame, results: list[CutoffResult], grain: str) -> pd.DataFrame:
    """Add outcome_h and change_h: the share h periods after each call, from later cut-offs.

    Both the later share and the base period's share are read from the point-in-time marts of
    the cut-off that ends the later period (one fit measures both, so a refit's noise does not
    count as a change); the outcome is ``up``/``down`` when the later share lies above/below
    the base period's 95% interval there, else ``flat``. NULL when that cut-off is not in the
    run, the later period is not readable, or the series is gone.
    """
    by_period = {
        r.period: r.series.set_index([*KEY, "period_start"]) for r in results if not r.series.empty
    }
    out = calls.copy()
    for h in HORIZONS:
        outcomes, changes = [], []
        for row in out.itertuples():
            outcome, change = None, math.nan
            if isinstance(row.base_period, date):
                later = shift_period(row.base_period, grain, h)
                frame = by_period.get(later)
                key = (row.kind, row.source, row.series_id)
                if (
                    frame is not None
                    and (*key, later) in frame.index
                    and (
                        *key,
                        row.base_period,
                    )
                    in frame.index
                ):
                    now = frame.loc[(*key, later)]
                    base = frame.loc[(*key, row.base_period)]
                    if bool(now["readable"]) and bool(base["readable"]):
                        change = float(now["share"] - base["share"])
                        outcome = (
                            "up"
                            if now["share"] > base["ci_high"]
                            else "down"
                            if now["share"] < base["ci_low"]
                            else "flat"
                        )
            outcomes.append(outcome)
            changes.append(change)
        out[f"outcome_{h}"] = outcomes
        out[f"change_{h}"] = changes
    return out
