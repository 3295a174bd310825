"""Scores of the calls: precision, recall of the later top risers, lead time (pure)."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from pipeline.backtest.params import FALLING, HORIZONS, KEY, RISING, TOP_RISERS, Z95


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
