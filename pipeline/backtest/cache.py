"""A backtest's cut-offs kept as Parquet files, so that a rerun with other rules needs no fit.

The expensive part of a backtest is a topic fit per cut-off; what the calls and outcomes are
made from is small: each cut-off's share series (``CutoffResult.series``, the outcomes) and
share marts (``CutoffResult.shares``, what the status rules read). ``trends backtest --cache
DIR`` writes them to DIR after the cut-offs are computed, and a later run with the same
cut-offs reads them back instead of fitting again (the statuses are derived again under that
run's rules, :func:`pipeline.backtest.tune.apply_rules`). The cache is used only while its key
matches: the run's range, grain, topic mode, fit budget, seed, source, model, the rules that
shape the shares (which papers count, thin periods), and the store's papers up to the last
cut-off (count, embedded count, latest change); otherwise the cut-offs are computed again and
the cache replaced.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.backtest.cutoff import as_dates, empty_series
from pipeline.backtest.params import BacktestParams, CutoffResult, cutoffs
from pipeline.store import Store

KEY_FILE = "key.json"


def cache_key(store: Store, params: BacktestParams, model: str) -> dict[str, Any]:
    """What the cached cut-offs depend on (everything but the status rules)."""
    last = cutoffs(params.date_from, params.date_to, params.grain)[-1]
    found = store.query_file(
        "backtest/papers_fingerprint", {"date_to": last, "source": params.source, "model": model}
    ).iloc[0]
    rules = asdict(params.rules)
    return {
        "date_from": params.date_from.isoformat(),
        "date_to": params.date_to.isoformat(),
        "grain": params.grain,
        "topic_mode": params.topic_mode,
        "fit_budget": params.fit_budget,
        "seed": params.seed,
        "source": params.source,
        "model": model,
        "decisions": str(getattr(rules["decisions"], "value", rules["decisions"])),
        "thin_min_papers": rules["thin_min_papers"],
        "thin_fraction": rules["thin_fraction"],
        "papers": int(found["papers"]),
        "embedded": int(found["embedded"]),
        "updated_at": str(found["updated_at"]),
    }


def save_cutoffs(results: list[CutoffResult], directory: Path, key: dict[str, Any]) -> None:
    """Write the cut-offs' series and shares to ``directory`` (replacing what was there)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / KEY_FILE).unlink(missing_ok=True)  # an interrupted write leaves no valid key
    pd.DataFrame(
        {
            "cutoff": [r.cutoff for r in results],
            "period": [r.period for r in results],
            "topic_run_id": [r.topic_run_id for r in results],
        }
    ).to_parquet(directory / "cutoffs.parquet", index=False)
    for name in ("series", "shares"):
        frames = [getattr(r, name).assign(cutoff=r.cutoff) for r in results]
        frames = [f for f in frames if not f.empty]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"cutoff": []})
        frame.to_parquet(directory / f"{name}.parquet", index=False)
    (directory / KEY_FILE).write_text(json.dumps(key, indent=1, sort_keys=True))


def load_cutoffs(directory: Path, key: dict[str, Any]) -> list[CutoffResult] | None:
    """The cached cut-offs (with empty statuses), or None when missing or of another key."""
    path = directory / KEY_FILE
    if not path.exists() or json.loads(path.read_text()) != json.loads(json.dumps(key)):
        return None
    runs = pd.read_parquet(directory / "cutoffs.parquet")
    series = pd.read_parquet(directory / "series.parquet")
    shares = pd.read_parquet(directory / "shares.parquet")
    out = []
    for row in runs.itertuples():
        cutoff = pd.Timestamp(row.cutoff).date()
        out.append(
            CutoffResult(
                cutoff=cutoff,
                period=pd.Timestamp(row.period).date(),
                status=pd.DataFrame(),
                series=_part(series, cutoff, empty_series()),
                topic_run_id=row.topic_run_id if isinstance(row.topic_run_id, str) else None,
                shares=_part(shares, cutoff, pd.DataFrame()),
            )
        )
    return out


def _part(frame: pd.DataFrame, cutoff: date, empty: pd.DataFrame) -> pd.DataFrame:
    """One cut-off's rows of a cached frame; ``empty`` when it has none (no fit)."""
    if frame.empty:
        return empty
    dates = pd.to_datetime(frame["cutoff"]).dt.date
    part = frame[dates == cutoff].drop(columns="cutoff").reset_index(drop=True)
    return as_dates(part) if not part.empty else empty
