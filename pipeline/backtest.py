"""Backtest: every call the report makes, made again strictly point-in-time and scored.

For each cut-off (the end of a year or a month) a scratch DuckDB store receives only the papers
published up to it (with their cached embeddings: they do not depend on the date) and runs the
ordinary stages on them: a topic fit (``refit``: a fit per cut-off, matched by lineage to the
previous cut-off's fit for stable ids; ``place``: the first cut-off's fit, later papers placed
into it), theme scores, the marts as of the cut-off and their statuses. Nothing dated after a
cut-off is in the store when its calls are made. The working store only receives the results:
``backtest_runs``, ``backtest_calls`` and ``backtest_scores`` (``sql/schema/015_backtest.sql``).

A call is scored against what the point-in-time marts of later cut-offs show: did the series'
share, h = 1, 2, 3 periods after the call's period, leave the call period's 95% interval in the
called direction? Two baselines are scored the same way: the last period's change of share
(``last_change``) and the raw count's change (``count_growth``). ``docs/backtest.md`` has the
design, the measurements and the commands.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.store import Store, open_writer
from pipeline.themes import Theme, assign_themes, theme_vectors
from pipeline.trends import MartRules, build_marts

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.embed import Embedder

RISING = ("new", "emerging", "growing", "up")
FALLING = ("declining", "fading", "down")
HORIZONS = (1, 2, 3)
# The share of later risers (series that went up) counted as "top risers" for recall.
TOP_RISERS = 0.1
Z95 = 1.959963984540054


@dataclass(frozen=True)
class BacktestParams:
    """What one backtest runs over and how.

    Attributes:
        date_from, date_to: The first and last cut-off are the ends of the periods holding
            these dates.
        grain: ``year`` (conference proceedings) or ``month`` (arXiv).
        tune_until: Cut-offs in years up to this one are the tuning split (the rules may be
            tuned on them); later ones are scored. None: every cut-off is scored.
        topic_mode: ``refit`` (a fit per cut-off) or ``place`` (one fit, then placement).
        fit_budget: Papers a fit clusters at most (period-balanced sample, the rest placed).
        seed: The fits' seed.
        rules: The marts' rules.

    """

    date_from: date
    date_to: date
    grain: str = "year"
    tune_until: int | None = 2016
    topic_mode: str = "refit"
    fit_budget: int = 4000
    seed: int = 42
    rules: MartRules = field(default_factory=MartRules)

    def __post_init__(self) -> None:
        if self.grain not in ("year", "month"):
            raise ValueError(f"backtest grain {self.grain!r}: expected year or month")
        if self.topic_mode not in ("refit", "place"):
            raise ValueError(f"backtest topics {self.topic_mode!r}: expected refit or place")
        if self.date_to < self.date_from:
            raise ValueError(f"backtest range {self.date_from} .. {self.date_to} is empty")


@dataclass(frozen=True)
class CutoffResult:
    """The point-in-time marts of one cut-off, as the backtest reads them."""

    cutoff: date
    period: date  # start of the cut-off's own period
    status: pd.DataFrame  # kind, source, series_id, label, status, base_period
    series: pd.DataFrame  # kind, source, series_id, label, period_start, papers, ..., readable
    topic_run_id: str | None
    topics: pd.DataFrame = field(default_factory=pd.DataFrame)  # series_id, label, terms, size


@dataclass(frozen=True)
class BacktestSummary:
    """What one backtest run computed and wrote."""

    backtest_run_id: str
    cutoffs: int
    calls: int
    seconds: float
    scores: pd.DataFrame
    tune_until: int | None

    def line(self) -> str:
        """One-line summary for the CLI and logs."""
        split = (
            f"tuning split: cut-offs up to {self.tune_until}, scored after"
            if self.tune_until is not None
            else "no tuning split"
        )
        return (
            f"backtest {self.backtest_run_id}: {self.cutoffs} cut-offs, {self.calls:,} calls"
            f" ({split}), {self.seconds:.1f}s"
        )


# -- periods --------------------------------------------------------------------------------------
def period_start(day: date, grain: str) -> date:
    """First day of the year or month holding ``day``."""
    return date(day.year, 1, 1) if grain == "year" else date(day.year, day.month, 1)


def shift_period(start: date, grain: str, n: int) -> date:
    """The period ``n`` periods after the one starting on ``start``."""
    if grain == "year":
        return date(start.year + n, 1, 1)
    months = start.year * 12 + start.month - 1 + n
    return date(months // 12, months % 12 + 1, 1)


def period_end(start: date, grain: str) -> date:
    """Last day of the period starting on ``start``."""
    return shift_period(start, grain, 1) - timedelta(days=1)


def cutoffs(date_from: date, date_to: date, grain: str) -> list[date]:
    """The period ends from the period of ``date_from`` to the period of ``date_to``."""
    out, start = [], period_start(date_from, grain)
    while start <= date_to:
        out.append(period_end(start, grain))
        start = shift_period(start, grain, 1)
    return out


# -- the point-in-time stages ---------------------------------------------------------------------
def _copy_step(store: Store, scratch: Store, model: str, after: date | None, cutoff: date) -> int:
    """Copy the papers dated in (after, cutoff] and their embeddings into the scratch store."""
    bounds = {"after": after, "cutoff": cutoff}
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
    empty = CutoffResult(cutoff, period, _empty_status(), _empty_series(), run_id)
    if run_id is None:
        return empty
    assign_themes(scratch, themes, model, _no_embedder)
    build_marts(scratch, as_of=cutoff, rules=params.rules)
    bind = {"grain": params.grain, "topic_run_id": run_id}
    # A split can give two topics one stable id: the larger reading is kept.
    status = scratch.query_file("backtest/cutoff_status", bind).drop_duplicates(KEY)
    series = scratch.query_file("backtest/cutoff_series", bind)
    series = series.sort_values("papers", ascending=False, kind="stable").drop_duplicates(
        [*KEY, "period_start"]
    )
    series = series.sort_values([*KEY, "period_start"], kind="stable").reset_index(drop=True)
    topics = scratch.query_file("backtest/cutoff_topics", {"topic_run_id": run_id})
    for frame in (status, series):
        for column in ("base_period", "period_start"):
            if column in frame:
                frame[column] = pd.to_datetime(frame[column]).dt.date
    return CutoffResult(cutoff, period, status, series, run_id, topics)


def _no_embedder() -> Embedder:
    raise ValueError("theme vectors are missing in the backtest's scratch store")


def _empty_status() -> pd.DataFrame:
    return pd.DataFrame(columns=["kind", "source", "series_id", "label", "status", "base_period"])


def _empty_series() -> pd.DataFrame:
    return pd.DataFrame(
        columns=[
            "kind", "source", "series_id", "label", "period_start", "papers", "denominator",
            "share", "ci_low", "ci_high", "readable",
        ]
    )  # fmt: skip


# -- calls, outcomes, scores (pure) ---------------------------------------------------------------
KEY = ["kind", "source", "series_id"]


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


def wilson(hits: int, n: int) -> tuple[float | None, float | None]:
    """95% Wilson interval of hits / n."""
    if n == 0:
        return None, None
    p = hits / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _direction(status: str) -> str | None:
    return "up" if status in RISING else "down" if status in FALLING else None


def score_calls(calls: pd.DataFrame, grain: str) -> pd.DataFrame:
    """Precision, recall of the later top risers and lead time, per split and method (pure)."""
    rows: list[dict[str, object]] = []
    if calls.empty:
        return pd.DataFrame(columns=_SCORE_COLUMNS)
    calls = calls.assign(direction=calls["status"].map(_direction))
    for (split, method), group in calls.groupby(["split", "method"], sort=True):
        for h in HORIZONS:
            known = group[group[f"outcome_{h}"].notna() & group["direction"].notna()]
            statuses = {s: known[known["status"] == s] for s in sorted(known["status"].unique())}
            statuses["rising"] = known[known["direction"] == "up"]
            statuses["falling"] = known[known["direction"] == "down"]
            for status, part in statuses.items():
                n = len(part)
                hits = int((part[f"outcome_{h}"] == part["direction"]).sum())
                rows.append(_score(split, method, status, "precision", h, n, hits))
            rows.append(_recall(split, method, group, h))
        rows.append(_lead_time(split, str(method), group, calls, grain))
    return pd.DataFrame(rows, columns=_SCORE_COLUMNS)


_SCORE_COLUMNS = [
    "split", "method", "status", "metric", "horizon", "n", "hits", "value", "ci_low", "ci_high",
]  # fmt: skip


def _score(split, method, status, metric, horizon, n, hits) -> dict[str, object]:
    low, high = wilson(hits, n)
    return {
        "split": split,
        "method": method,
        "status": status,
        "metric": metric,
        "horizon": horizon,
        "n": n,
        "hits": hits,
        "value": hits / n if n else None,
        "ci_low": low,
        "ci_high": high,
    }


def _recall(split, method, group: pd.DataFrame, h: int) -> dict[str, object]:
    """Share of each cut-off's top decile of later risers that the method called rising."""
    known = group[group[f"outcome_{h}"] == "up"].copy()
    known["ratio"] = (known["base_share"] + known[f"change_{h}"] + 1e-4) / (
        known["base_share"] + 1e-4
    )
    n = hits = 0
    for _, part in known.groupby("cutoff"):
        top = part.nlargest(max(1, math.ceil(TOP_RISERS * len(part))), "ratio")
        n += len(top)
        hits += int(top["status"].isin(RISING).sum())
    return _score(split, method, "rising", "recall", h, n, hits)


def _lead_time(split, method: str, group: pd.DataFrame, calls: pd.DataFrame, grain: str):
    """Median periods from a series' first rising call to the first doubling of its share.

    The share history of a series is its base share at each cut-off (its own point-in-time
    reading); a call at period P is followed by a doubling at the first later period whose
    share is at least twice the share at P. Series whose calls were never followed by a
    doubling within the run do not count (n is the series that do).
    """
    history = (
        calls[calls["method"] == "status"]
        .dropna(subset=["base_share"])
        .drop_duplicates([*KEY, "base_period"])
        .set_index(KEY)
    )
    leads = []
    rising = group[group["status"].isin(RISING)].dropna(subset=["base_share"])
    for key, part in rising.groupby(KEY):
        if key not in history.index:
            continue
        past = history.loc[[key]]
        for call in part.sort_values("base_period").itertuples():
            later = past[past["base_period"] > call.base_period]
            doubled = later[later["base_share"] >= 2 * call.base_share]
            if call.base_share > 0 and not doubled.empty:
                first = doubled["base_period"].min()
                leads.append(_periods_between(call.base_period, first, grain))
                break
    value = float(np.median(leads)) if leads else None
    return {
        "split": split,
        "method": method,
        "status": "rising",
        "metric": "lead_time",
        "horizon": 0,
        "n": len(leads),
        "hits": None,
        "value": value,
        "ci_low": float(np.percentile(leads, 25)) if leads else None,
        "ci_high": float(np.percentile(leads, 75)) if leads else None,
    }


def _periods_between(a: date, b: date, grain: str) -> int:
    if grain == "year":
        return b.year - a.year
    return (b.year - a.year) * 12 + b.month - a.month


def split_of(cutoff: date, source: str, grain: str, tune_until: int | None) -> str:
    """``tuning`` for yearly cut-offs up to ``tune_until``, ``scored`` for every other call."""
    if tune_until is not None and grain == "year" and cutoff.year <= tune_until:
        return "tuning"
    return "scored"


# -- the whole backtest ---------------------------------------------------------------------------
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
                added = _copy_step(store, scratch, model, after, cutoff)
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


METHOD_NAMES = {
    "status": "our statuses",
    "last_change": "baseline: last period's change",
    "count_growth": "baseline: raw count growth",
}


def score_lines(scores: pd.DataFrame, tune_until: int | None) -> list[str]:
    """Precision of rising calls at +1/+2/+3 periods and lead time, ours next to the baselines."""
    lines = [
        f"tuning split: rules may be tuned on yearly cut-offs up to {tune_until};"
        " scores below are on later cut-offs (and every monthly one)"
        if tune_until is not None
        else "no tuning split: every cut-off is scored"
    ]
    for split in ("scored", "tuning"):
        part = scores[scores["split"] == split]
        if part.empty:
            continue
        lines.append(f"[{split}] method | rising calls: precision +1 / +2 / +3 (n) | lead time")
        for method, name in METHOD_NAMES.items():
            mine = part[part["method"] == method]
            cells = []
            for h in HORIZONS:
                row = mine[
                    (mine["metric"] == "precision")
                    & (mine["status"] == "rising")
                    & (mine["horizon"] == h)
                ]
                cells.append(_cell(row))
            lead = mine[mine["metric"] == "lead_time"]
            lead_text = (
                f"median {lead['value'].iloc[0]:.1f} periods ({int(lead['n'].iloc[0])} series)"
                if not lead.empty and pd.notna(lead["value"].iloc[0])
                else "-"
            )
            lines.append(f"  {name}: {' / '.join(cells)} | {lead_text}")
    return lines


def _cell(row: pd.DataFrame) -> str:
    if row.empty or not int(row["n"].iloc[0]):
        return "- (0)"
    r = row.iloc[0]
    return f"{r['value']:.2f} [{r['ci_low']:.2f}-{r['ci_high']:.2f}] ({int(r['n'])})"
