"""What a backtest runs over: its parameters, results, periods and cut-offs (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.trends import MartRules

if TYPE_CHECKING:
    from pipeline.backtest.tune import Tuning

RISING = ("new", "emerging", "growing", "up")
FALLING = ("declining", "fading", "down")
HORIZONS = (1, 2, 3)
# The share of later risers (series that went up) counted as "top risers" for recall.
TOP_RISERS = 0.1
Z95 = 1.959963984540054

# The key of a series in every frame the backtest reads.
KEY = ["kind", "source", "series_id"]


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
        source: Only papers of this source enter the scratch store (``arxiv``: an arXiv-only
            monthly backtest); None: every source.

    """

    date_from: date
    date_to: date
    grain: str = "year"
    tune_until: int | None = 2016
    topic_mode: str = "refit"
    fit_budget: int = 4000
    seed: int = 42
    rules: MartRules = field(default_factory=MartRules)
    source: str | None = None

    def __post_init__(self) -> None:
        if self.grain not in ("year", "month"):
            raise ValueError(f"backtest grain {self.grain!r}: expected year or month")
        if self.topic_mode not in ("refit", "place"):
            raise ValueError(f"backtest topics {self.topic_mode!r}: expected refit or place")
        if self.source is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.source):
            raise ValueError(f"backtest source {self.source!r}: expected a source name")
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
    # What the status rules read (sql/backtest/cutoff_shares.sql): cached so that other rules
    # can be applied without a refit (pipeline/backtest/tune.py).
    shares: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class BacktestSummary:
    """What one backtest run computed and wrote."""

    backtest_run_id: str
    cutoffs: int
    calls: int
    seconds: float
    scores: pd.DataFrame
    tune_until: int | None
    tuning: Tuning | None = None  # with --tune: the candidates and the choice
    tuned_scores: pd.DataFrame | None = None  # the run's scores under the chosen rules

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
