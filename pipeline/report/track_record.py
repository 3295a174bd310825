"""The report's Track record page: how often past calls came true, against the baselines.

It reads only the backtest tables (``trends backtest``, ``docs/backtest.md``); without a
backtest the page says how to make one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from pipeline.backtest import METHOD_NAMES

if TYPE_CHECKING:
    from pipeline.store import Store

CALLS_SHOWN = 400


class PageWriter(Protocol):
    """What the site writer offers this page."""

    def page(self, rel: str, template: str, what: str, **ctx: object) -> None:
        """Render ``template`` with ``ctx`` into the page ``rel``."""


@dataclass(frozen=True)
class TrackRecord:
    """The latest backtest run of each grain, its scores and its directional calls."""

    runs: pd.DataFrame
    scores: pd.DataFrame
    calls: pd.DataFrame


def load_track_record(store: Store) -> TrackRecord:
    """Read the latest backtest of each grain (empty frames when there is none)."""
    if not store.table_exists("backtest_runs"):
        empty = pd.DataFrame()
        return TrackRecord(empty, empty, empty)
    return TrackRecord(
        store.query_file("report/track_record_runs"),
        store.query_file("report/track_record_scores"),
        store.query_file("report/track_record_calls", {"limit": CALLS_SHOWN}),
    )


def precision_table(scores: pd.DataFrame, grain: str, split: str) -> list[dict[str, object]]:
    """Rows of (method, status) with precision at +1/+2/+3 periods, for one grain and split."""
    part = scores[
        (scores["period_grain"] == grain)
        & (scores["split"] == split)
        & (scores["metric"] == "precision")
    ]
    rows = []
    for (method, status), group in part.groupby(["method", "status"], sort=False):
        by_h = group.set_index("horizon")
        rows.append(
            {
                "method": METHOD_NAMES.get(str(method), str(method)),
                "status": status,
                "cells": [by_h.loc[h].to_dict() if h in by_h.index else None for h in (1, 2, 3)],
            }
        )
    order = {"rising": 0, "falling": 1}
    rows.sort(key=lambda r: (order.get(str(r["status"]), 2), str(r["status"]), str(r["method"])))
    return rows


def other_metrics(scores: pd.DataFrame, grain: str, split: str) -> list[dict[str, object]]:
    """Recall of the later top risers (+1/+2/+3) and lead time, per method."""
    part = scores[(scores["period_grain"] == grain) & (scores["split"] == split)]
    rows = []
    for method, name in METHOD_NAMES.items():
        mine = part[part["method"] == method]
        recall = mine[mine["metric"] == "recall"].set_index("horizon")
        lead = mine[mine["metric"] == "lead_time"]
        rows.append(
            {
                "method": name,
                "recall": [
                    recall.loc[h].to_dict() if h in recall.index else None for h in (1, 2, 3)
                ],
                "lead": lead.iloc[0].to_dict() if not lead.empty else None,
            }
        )
    return rows


@dataclass(frozen=True)
class Verdict:
    """Ours against the baselines in words, and whether a baseline was ahead anywhere."""

    lines: list[str]
    baseline_ahead: bool


def verdict(scores: pd.DataFrame, grain: str, split: str = "scored") -> Verdict:
    """Where ours stand against the baselines, in words: per direction, who came true more often.

    One sentence per direction (rising, falling) with a scored call: our precision at +1/+2/+3
    and every horizon where a baseline's was higher; then whether any of those leads is
    beyond the intervals (the 95% Wilson intervals do not overlap) or within them.
    """
    part = scores[
        (scores["period_grain"] == grain)
        & (scores["split"] == split)
        & (scores["metric"] == "precision")
        & scores["status"].isin(["rising", "falling"])
    ]
    lines, any_ahead = [], False
    for direction in ("rising", "falling"):
        mine = part[part["status"] == direction]
        ours = mine[(mine["method"] == "status") & (mine["n"] > 0)].set_index("horizon")
        if ours.empty:
            continue
        cells = " / ".join(
            f"{ours.loc[h, 'value']:.0%}" if h in ours.index else "-" for h in (1, 2, 3)
        )
        ahead, clear = [], False
        for method, name in METHOD_NAMES.items():
            if method == "status":
                continue
            theirs = mine[(mine["method"] == method) & (mine["n"] > 0)].set_index("horizon")
            for h in (1, 2, 3):
                if h in ours.index and h in theirs.index:
                    a, b = ours.loc[h], theirs.loc[h]
                    if b["value"] > a["value"]:
                        ahead.append(f"{name} at +{h} ({b['value']:.0%} against {a['value']:.0%})")
                        clear = clear or b["ci_low"] > a["ci_high"]
        text = f"{direction.capitalize()} calls: ours came true {cells} at +1 / +2 / +3 {grain}s"
        if not ahead:
            lines.append(f"{text}, ahead of both baselines at every horizon with a score.")
            continue
        any_ahead = True
        lines.append(
            f"{text}; a baseline was ahead: {'; '.join(ahead)}. "
            + (
                "At least one of these leads lies beyond both intervals: the baseline is"
                " better there."
                if clear
                else "Every such lead lies within the intervals: at these numbers of calls"
                " the methods cannot be told apart there."
            )
        )
    return Verdict(lines, any_ahead)


def write_track_record(out: PageWriter, track: TrackRecord) -> None:
    """Render ``track_record.html`` from the latest backtest of each grain."""
    grains = []
    runs = track.runs.copy()
    for column in ("date_from", "date_to"):
        if column in runs:
            runs[column] = pd.to_datetime(runs[column]).dt.date
    for run in runs.to_dict("records"):
        grain = str(run["period_grain"])
        splits = [
            {
                "split": split,
                "precision": precision_table(track.scores, grain, split),
                "others": other_metrics(track.scores, grain, split),
                "verdict": verdict(track.scores, grain, split) if split == "scored" else None,
            }
            for split in ("scored", "tuning")
            if not track.scores[
                (track.scores["period_grain"] == grain) & (track.scores["split"] == split)
            ].empty
        ]
        grains.append({"run": run, "splits": splits, "calls": _call_rows(track.calls, grain)})
    out.page("track_record.html", "track_record.html.j2", "track record", grains=grains)


def _call_rows(calls: pd.DataFrame, grain: str) -> list[dict[str, object]]:
    """The calls of one grain as template rows: dates as dates, missing outcomes as None."""
    if calls.empty:
        return []
    part = calls[calls["period_grain"] == grain].copy()
    for column in ("cutoff", "base_period"):
        part[column] = pd.to_datetime(part[column]).dt.date
    part = part.astype(object).where(part.notna(), None)
    return part.to_dict("records")
