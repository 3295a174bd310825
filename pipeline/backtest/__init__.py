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

The modules: ``params`` (parameters, results, periods, cut-offs), ``cutoff`` (the scratch
store, one cut-off's fit, marts and calls, their outcomes), ``scoring`` (precision, recall,
lead time, the score table), ``tune`` (status rules applied again to cached cut-offs, chosen
on the tuning split), ``cache`` (the cut-offs as Parquet, reused without a fit) and ``stage``
(the whole run, saving, the CLI and DAG entry).
"""

from pipeline.backtest.cache import cache_key, load_cutoffs, save_cutoffs
from pipeline.backtest.cutoff import attach_outcomes, calls_at, run_cutoff
from pipeline.backtest.params import (
    FALLING,
    HORIZONS,
    KEY,
    RISING,
    TOP_RISERS,
    BacktestParams,
    BacktestSummary,
    CutoffResult,
    cutoffs,
    period_end,
    period_start,
    shift_period,
)
from pipeline.backtest.scoring import METHOD_NAMES, score_calls, score_lines, split_of, wilson
from pipeline.backtest.stage import (
    backtest_stage,
    compute_cutoffs,
    latest_scores,
    params_from_form,
    run_backtest,
    save_backtest,
)
from pipeline.backtest.tune import RuleGrid, Tuning, apply_rules, scored_calls, tune_rules

__all__ = [
    "FALLING",
    "HORIZONS",
    "KEY",
    "METHOD_NAMES",
    "RISING",
    "TOP_RISERS",
    "BacktestParams",
    "BacktestSummary",
    "CutoffResult",
    "RuleGrid",
    "Tuning",
    "apply_rules",
    "attach_outcomes",
    "backtest_stage",
    "cache_key",
    "calls_at",
    "compute_cutoffs",
    "cutoffs",
    "latest_scores",
    "load_cutoffs",
    "params_from_form",
    "period_end",
    "period_start",
    "run_backtest",
    "run_cutoff",
    "save_backtest",
    "save_cutoffs",
    "score_calls",
    "score_lines",
    "scored_calls",
    "shift_period",
    "split_of",
    "tune_rules",
    "wilson",
]
