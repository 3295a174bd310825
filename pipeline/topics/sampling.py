"""Which papers a full fit clusters (pure): every paper, or a period-balanced sample.

A store that holds decades holds them unevenly: the conference corpus has a few hundred papers a
year before 2000 and over ten thousand a year after 2020, and a month of arXiv holds as many as a
decade of early conferences. A fit on every paper sizes its topics by volume (its minimum topic
grows with the corpus, ``TopicParams.for_corpus``), so the recent years decide the topics and an
early field too small against the whole corpus dissolves into outliers or into a recent topic.

The rule (``SampleRule``): a fit clusters at most ``budget`` papers. When the store holds more,
each (source, period) group keeps at most ``cap`` papers, where ``cap`` is the largest number for
which the groups' capped sizes still fit the budget (water filling): groups smaller than the cap
keep every paper, the larger ones are cut to the same size. Periods are the marts' periods
(years for year-precision sources, months for the others), so a year of conferences and a
month of arXiv count alike. Within a group the kept papers are those with the smallest hash of
(seed, paper id): the same store and seed give the same sample, and a paper added later does not
reshuffle the others. Every paper the fit did not cluster is then placed into the fitted topics
by the fit's own assignment rule (:func:`pipeline.topics.fit.place_others`), so topic shares
still count every paper of every period. A store within the budget is fitted whole, as before.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Papers a fit clusters at most. A full fit of the 2025 arXiv corpus (31,466 papers) stays whole;
# the two shared corpora together (118,873) are clustered on a balanced 40,000.
DEFAULT_BUDGET = 40_000


@dataclass(frozen=True)
class SampleRule:
    """How many papers a full fit clusters; see the module docstring."""

    budget: int = DEFAULT_BUDGET

    def __post_init__(self) -> None:
        if self.budget < 20:
            raise ValueError(f"fit budget {self.budget} is below 20 papers")


@dataclass(frozen=True)
class FitSample:
    """The papers a fit clusters, and how they were chosen."""

    rows: np.ndarray  # positions of the clustered papers in the frame sampled, ascending
    cap: int | None  # papers kept per (source, period) at most; None: every paper
    groups: pd.DataFrame  # source, period, papers, clustered: one row per group
    budget: int

    @property
    def balanced(self) -> bool:
        """Whether the fit clusters a sample rather than every paper."""
        return self.cap is not None

    def record(self) -> dict[str, object]:
        """What is stored with the fit (``topic_runs.sampling``)."""
        groups = self.groups
        return {
            "rule": "period_balanced" if self.balanced else "all",
            "budget": self.budget,
            "cap": self.cap,
            "papers": int(groups["papers"].sum()),
            "clustered": int(groups["clustered"].sum()),
            "groups": [
                {
                    "source": str(r.source),
                    "period": None if pd.isna(r.period) else str(pd.Timestamp(r.period).date()),
                    "papers": int(r.papers),
                    "clustered": int(r.clustered),
                }
                for r in groups.itertuples(index=False)
            ],
        }


def water_level(sizes: np.ndarray, budget: int) -> int | None:
    """The largest cap with ``sum(min(size, cap)) <= budget``; None when every paper fits.

    At least 1, so every group keeps a paper even when there are more groups than budget.
    """
    sizes = np.sort(np.asarray(sizes, dtype=np.int64))
    if sizes.sum() <= budget:
        return None
    below = 0  # papers of the groups already under the cap
    for i, size in enumerate(sizes):
        left = len(sizes) - i  # groups at the cap or above
        cap = (budget - below) // left
        if cap < size:
            return max(1, int(cap))
        below += int(size)
    return None  # unreachable: the sizes exceed the budget


def paper_rank(paper_ids: pd.Series, seed: int) -> np.ndarray:
    """A seeded, order-free rank key of each paper: CRC-32 of "seed:paper_id"."""
    return np.array([zlib.crc32(f"{seed}:{pid}".encode()) for pid in paper_ids], dtype=np.int64)


def balanced_sample(periods: pd.DataFrame, rule: SampleRule, seed: int) -> FitSample:
    """The papers a fit clusters, out of ``periods`` (paper_id, source, period; one per paper).

    ``period`` may be missing (undated papers form one group per source).
    """
    frame = periods.reset_index(drop=True).assign(
        period=pd.to_datetime(periods["period"].to_numpy()),
        _row=np.arange(len(periods)),
        _rank=paper_rank(periods["paper_id"], seed),
    )
    keys = ["source", "period"]
    sizes = frame.groupby(keys, dropna=False, sort=True).size()
    cap = water_level(sizes.to_numpy(), rule.budget)
    if cap is None:
        rows = frame["_row"].to_numpy()
    else:
        ranked = frame.sort_values([*keys, "_rank", "paper_id"], kind="stable")
        keep = ranked.groupby(keys, dropna=False, sort=False).cumcount() < cap
        rows = np.sort(ranked.loc[keep, "_row"].to_numpy())
    clustered = frame.iloc[rows].groupby(keys, dropna=False, sort=True).size()
    groups = (
        pd.DataFrame({"papers": sizes, "clustered": clustered.reindex(sizes.index, fill_value=0)})
        .reset_index()
        .astype({"papers": int, "clustered": int})
    )
    return FitSample(rows=rows, cap=cap, groups=groups, budget=rule.budget)
