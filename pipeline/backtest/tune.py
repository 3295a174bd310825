"""Status rules tuned on the tuning split, without refitting a single cut-off.

A cut-off's point-in-time share marts do not depend on the status rules (the rules of which
papers count and which periods are thin do shape them, and are not tuned here): each
:class:`CutoffResult` keeps them (``shares``), and :func:`apply_rules` runs the marts' own SQL
(``series_growth``, ``series_status``) on them under other rules in a scratch store, so a
candidate's statuses are exactly what a backtest run with those rules would call (tested).
Outcomes do not depend on the rules either: they are read from the later cut-offs' series.

:func:`tune_rules` scores every candidate of a small :class:`RuleGrid` on the tuning split only
(yearly cut-offs up to ``tune_until``) by the precision of its rising calls pooled over the
three horizons, among candidates with at least ``min_calls`` scored rising calls at +1 (so that
calling almost nothing cannot win), and reports the scored split under the chosen rules beside
the rules it started from. ``docs/backtest.md`` has the grid, the choice and the figures.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import pandas as pd

from pipeline.backtest.cutoff import as_dates, attach_outcomes, calls_at
from pipeline.backtest.params import HORIZONS, KEY, RISING, BacktestParams, CutoffResult
from pipeline.backtest.scoring import split_of
from pipeline.store import open_writer
from pipeline.trends import MartRules

# The rules a grid varies, as MartRules field names; support and window are per grain.
TUNED = ("trend_alpha", "emerging_ratio", "emerging_share_quantile")


@dataclass(frozen=True)
class RuleGrid:
    """Candidate values of the tuned status rules; every combination is one candidate.

    Attributes:
        trend_alpha: p-values below which a trend is significant.
        emerging_ratio: Minimum recent-to-earlier share ratio of ``emerging``.
        emerging_share_quantile: Cap on an emerging series' recent share, as a quantile of its
            kind's (1.0: no cap).
        min_support: Papers a series needs in its window (of the backtest's grain).
        window: Growth window in periods (of the backtest's grain).
        min_calls: A candidate needs at least this many scored rising calls at +1 on the
            tuning split to be chosen.

    """

    trend_alpha: tuple[float, ...] = (0.01, 0.05, 0.1)
    emerging_ratio: tuple[float, ...] = (1.5, 2.0, 3.0)
    emerging_share_quantile: tuple[float, ...] = (0.5, 1.0)
    min_support: tuple[int, ...] = (60, 120, 240)
    window: tuple[int, ...] = (6, 8, 10)
    min_calls: int = 30

    def candidates(self, base: MartRules, grain: str) -> list[MartRules]:
        """Every combination applied to ``base``; ``base`` itself first (it wins ties)."""
        support, window = _grain_fields(grain)
        out = [base]
        for alpha, ratio, quantile, n, w in itertools.product(
            self.trend_alpha,
            self.emerging_ratio,
            self.emerging_share_quantile,
            self.min_support,
            self.window,
        ):
            rules = replace(
                base,
                trend_alpha=alpha,
                emerging_ratio=ratio,
                emerging_share_quantile=quantile,
                **{support: n, window: w},
            )
            if rules not in out:
                out.append(rules)
        return out


def _grain_fields(grain: str) -> tuple[str, str]:
    return f"min_support_{grain}", f"window_{grain}"


@dataclass(frozen=True)
class Tuning:
    """What a tuning found: every candidate's tuning-split figures and the choice."""

    table: pd.DataFrame  # one row per candidate: its tuned values, n / hits / precision
    base: MartRules
    chosen: MartRules
    min_calls: int

    @property
    def wins(self) -> bool:
        """Whether the chosen rules beat the base rules on the tuning split."""
        return self.chosen != self.base

    def lines(self, grain: str, top: int = 5) -> list[str]:
        """The choice, the base rules' row and the best candidates, for the CLI."""
        shown = [*TUNED, *_grain_fields(grain)]
        head = "tuning (tuning split only): rising precision pooled over +1/+2/+3"
        out = [f"{head}, candidates with at least {self.min_calls} rising calls at +1"]
        for label, frame in (
            ("base rules", self.table[self.table["candidate"] == 0]),
            ("best", self.table.head(top)),
        ):
            for row in frame.itertuples():
                values = ", ".join(f"{name}={getattr(row, name)}" for name in shown)
                out.append(
                    f"  {label}: {values} | {row.hits}/{row.n} = {row.precision:.3f}"
                    f" (+1: {row.n_1} calls; emerging {row.emerging_hits}/{row.emerging_n})"
                    if row.n
                    else f"  {label}: {values} | no scored rising call"
                )
        verdict = (
            "chosen: " + ", ".join(f"{n}={getattr(self.chosen, n)}" for n in shown)
            if self.wins
            else "chosen: the base rules (no candidate beat them on the tuning split)"
        )
        return [*out, verdict]


def apply_rules(
    results: list[CutoffResult],
    candidates: list[MartRules],
    grain: str,
    *,
    scratch_dir: Path | None = None,
) -> list[list[CutoffResult]]:
    """Each cut-off's statuses again under each candidate's rules, from its cached shares.

    Returns one list of results per candidate, each a copy of ``results`` with ``status``
    replaced. A cut-off without shares (no fit) keeps its (empty) status.
    """
    per_rules: list[list[CutoffResult]] = [[] for _ in candidates]
    with (
        tempfile.TemporaryDirectory(prefix="trends-tune-", dir=scratch_dir) as tmp,
        open_writer(Path(tmp) / "tune.duckdb") as scratch,
    ):
        for result in results:
            if result.shares.empty:
                for out in per_rules:
                    out.append(result)
                continue
            shares = result.shares.assign(
                period_start=pd.to_datetime(result.shares["period_start"])
            )
            scratch.register("incoming_shares", shares)
            try:
                scratch.run_file("backtest/load_shares")
            finally:
                scratch.unregister("incoming_shares")
            # series_growth reads only the windows: built once per window, then each
            # candidate's series_status on it
            for window, numbers in _by_window(candidates).items():
                scratch.run_file("marts/series_growth", dict(zip(WINDOWS, window, strict=True)))
                for number in numbers:
                    bind = {**candidates[number].params(), "grain": grain}
                    scratch.run_file("marts/series_status", bind)
                    status = scratch.query_file("backtest/rederived_status", bind)
                    per_rules[number].append(
                        replace(result, status=as_dates(status.drop_duplicates(KEY)))
                    )
    return per_rules


WINDOWS = ("window_year", "window_quarter", "window_month")  # all that series_growth binds


def _by_window(candidates: list[MartRules]) -> dict[tuple[int, ...], list[int]]:
    """Candidates' numbers grouped by their growth windows, in order."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for number, rules in enumerate(candidates):
        groups.setdefault(tuple(getattr(rules, w) for w in WINDOWS), []).append(number)
    return groups


def scored_calls(
    results: list[CutoffResult], later: list[CutoffResult], params: BacktestParams
) -> pd.DataFrame:
    """Every method's calls at ``results``' cut-offs, their outcomes (from ``later``), split."""
    frames = [calls_at(r, params.grain) for r in results]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    calls = attach_outcomes(pd.concat(frames, ignore_index=True), later, params.grain)
    calls["split"] = [
        split_of(c, s, params.grain, params.tune_until)
        for c, s in zip(calls["cutoff"], calls["source"], strict=True)
    ]
    return calls


def tune_rules(
    results: list[CutoffResult],
    params: BacktestParams,
    grid: RuleGrid | None = None,
    *,
    scratch_dir: Path | None = None,
    say: Callable[[str], None] = lambda _line: None,
) -> Tuning:
    """Choose status rules by their rising calls' precision on the tuning split alone.

    Only the tuning split's cut-offs are re-derived; their outcomes are read from every cut-off
    of the run (a 2016 call's +3 outcome is 2019's share), which the rules do not change.
    """
    grid = grid or RuleGrid()
    tuning = [
        r for r in results if split_of(r.cutoff, "", params.grain, params.tune_until) == "tuning"
    ]
    if not tuning:
        raise ValueError(
            f"no cut-off of the run lies in the tuning split (yearly cut-offs up to"
            f" {params.tune_until}): nothing to tune on"
        )
    candidates = grid.candidates(params.rules, params.grain)
    say(f"tuning: {len(candidates)} candidate rules on {len(tuning)} tuning cut-offs")
    rows = []
    derived = apply_rules(tuning, candidates, params.grain, scratch_dir=scratch_dir)
    # A call's outcome depends on its series and base period alone, not on the rules: each is
    # read from the later cut-offs once, then shared by every candidate.
    outcomes = _Outcomes(results, params.grain)
    for number, (rules, results_of) in enumerate(zip(candidates, derived, strict=True)):
        figures = _figures(outcomes.status_calls(results_of))
        rows.append({"candidate": number, **_tuned_values(rules, params.grain), **figures})
    table = pd.DataFrame(rows)
    table["eligible"] = table["n_1"] >= grid.min_calls
    table = table.sort_values(
        ["eligible", "precision", "n_1", "candidate"],
        ascending=[False, False, False, True],
        kind="stable",
        na_position="last",
    ).reset_index(drop=True)
    best = table.iloc[0]
    base = table[table["candidate"] == 0].iloc[0]
    chosen_number = int(best["candidate"]) if _beats(best, base) else 0
    return Tuning(table, candidates[0], candidates[chosen_number], grid.min_calls)


def _beats(best: pd.Series, base: pd.Series) -> bool:
    if not bool(best["eligible"]) or pd.isna(best["precision"]):
        return False
    return (
        pd.isna(base["precision"])
        or not bool(base["eligible"])
        or (float(best["precision"]) > float(base["precision"]))
    )


def _tuned_values(rules: MartRules, grain: str) -> dict[str, object]:
    names = {*TUNED, *_grain_fields(grain)}
    return {f.name: getattr(rules, f.name) for f in fields(rules) if f.name in names}


class _Outcomes:
    """Outcomes of (series, base period) pairs, read from the later cut-offs once each."""

    def __init__(self, later: list[CutoffResult], grain: str) -> None:
        self.later = later
        self.grain = grain
        self.known = pd.DataFrame()

    def status_calls(self, results: list[CutoffResult]) -> pd.DataFrame:
        """The status method's calls at ``results``' cut-offs, with their outcomes."""
        frames = [calls_at(r, self.grain) for r in results]
        frames = [f[f["method"] == "status"] for f in frames if not f.empty]
        if not frames:
            return pd.DataFrame()
        calls = pd.concat(frames, ignore_index=True)
        pairs = calls[[*KEY, "base_period"]].drop_duplicates()
        if not self.known.empty:
            pairs = pairs.merge(self.known[[*KEY, "base_period"]], how="left", indicator=True)
            pairs = pairs[pairs["_merge"] == "left_only"].drop(columns="_merge")
        if not pairs.empty:
            found = attach_outcomes(pairs.reset_index(drop=True), self.later, self.grain)
            self.known = pd.concat([self.known, found], ignore_index=True)
        return calls.merge(self.known, on=[*KEY, "base_period"], how="left")


def _figures(calls: pd.DataFrame) -> dict[str, object]:
    """Precision of the status method's rising calls, per horizon and pooled, and emerging's.

    The same counts as :func:`score_calls`' ``rising`` and ``emerging`` precision rows.
    """
    out: dict[str, object] = {}
    rising = calls[calls["status"].isin(RISING)] if not calls.empty else calls
    emerging_n = emerging_hits = 0
    for h in HORIZONS:
        known = rising[rising[f"outcome_{h}"].notna()] if len(rising) else rising
        out[f"n_{h}"] = len(known)
        out[f"hits_{h}"] = int((known[f"outcome_{h}"] == "up").sum()) if len(known) else 0
        if len(known):
            emerging = known[known["status"] == "emerging"]
            emerging_n += len(emerging)
            emerging_hits += int((emerging[f"outcome_{h}"] == "up").sum())
    out["emerging_n"], out["emerging_hits"] = emerging_n, emerging_hits
    out["n"] = sum(int(out[f"n_{h}"]) for h in HORIZONS)
    out["hits"] = sum(int(out[f"hits_{h}"]) for h in HORIZONS)
    out["precision"] = out["hits"] / out["n"] if out["n"] else None
    return out
