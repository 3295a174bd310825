"""Calibrating the themes' thresholds for an embedding model on the labelled sample (pure).

`trends themes calibrate` scores each model's thresholds (the calibration file's) and the best
ones on ``themes/labels.csv``; the best ones are what ``--write`` stores. The strong threshold
(similarity alone, no keyword) is held above a floor set by the store's papers, which the
labelled pool cannot see (:data:`STRONG_ONLY_SHARE`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.theme_rules import Theme, ThemeCalibrationError, for_model


@dataclass(frozen=True)
class RuleScore:
    """How a membership rule does against labels."""

    threshold: float
    threshold_strong: float
    precision: float
    recall: float
    f1: float
    n: int
    positives: int


def score_rule(
    similarity: np.ndarray, evidence: np.ndarray, labels: np.ndarray, threshold: float,
    threshold_strong: float,
) -> RuleScore:  # fmt: skip
    """Precision, recall and F1 of the membership rule at given thresholds (pure)."""
    predicted = (similarity >= threshold_strong) | ((similarity >= threshold) & evidence)
    tp = int((predicted & labels).sum())
    precision = tp / predicted.sum() if predicted.sum() else 0.0
    recall = tp / labels.sum() if labels.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return RuleScore(
        threshold, threshold_strong, precision, recall, f1, len(labels), int(labels.sum())
    )


# Thresholds the calibration tries (cosines; a static model's run higher than MiniLM's).
THRESHOLD_GRID = np.round(np.arange(0.10, 0.96, 0.01), 2)
# Similarity alone (no keyword in the text) may admit at most this share of the store's papers:
# the labelled pool holds mostly papers near each theme, so F1 on it cannot see a strong
# threshold that lets in thousands of unlabelled papers further away (a static model's best-F1
# strong threshold put 14% of cs.AI 2025 into test-time compute). MiniLM's hand-set thresholds
# admit at most 0.6% this way, so the floor does not bind there.
STRONG_ONLY_SHARE = 0.01


def calibrate_rule(
    similarity: np.ndarray, evidence: np.ndarray, labels: np.ndarray, strong_floor: float = -1.0
) -> RuleScore:
    """Thresholds with the best F1 on the labels (ties: higher precision, higher thresholds).

    ``threshold_strong`` is at least ``strong_floor`` (see :data:`STRONG_ONLY_SHARE`).
    """
    best: RuleScore | None = None
    best_key: tuple[float, float, float, float] | None = None
    for threshold in THRESHOLD_GRID:
        for strong in THRESHOLD_GRID[max(threshold, strong_floor) <= THRESHOLD_GRID]:
            s = score_rule(similarity, evidence, labels, float(threshold), float(strong))
            key = (round(s.f1, 6), round(s.precision, 6), s.threshold, s.threshold_strong)
            if best_key is None or key > best_key:
                best, best_key = s, key
    if best is None:  # a floor above the grid: only the keyword path is left
        top = float(THRESHOLD_GRID[-1])
        return score_rule(similarity, evidence, labels, top, max(top, strong_floor))
    return best


def strong_floor(similarity: np.ndarray, share: float = STRONG_ONLY_SHARE) -> float:
    """The lowest strong threshold that admits at most ``share`` of these papers, in 0.01 steps."""
    if not len(similarity):
        return -1.0
    return float(np.ceil(np.quantile(similarity, 1 - share) * 100) / 100)


def calibration_table(
    themes: list[Theme], model: str, labelled: pd.DataFrame, embeddings: dict[str, np.ndarray],
    texts: dict[str, str], vectors: np.ndarray, sample: tuple[np.ndarray, Sequence[str]],
) -> pd.DataFrame:  # fmt: skip
    """Per theme: ``model``'s thresholds and the best ones, scored on the labelled sample.

    ``labelled`` has columns theme_id, paper_id, label (0/1); ``embeddings`` and ``texts`` are
    keyed by paper_id; ``vectors`` are the themes' for ``model``. ``sample`` is (vectors,
    texts) of up to a few thousand of the store's papers: it sets each theme's strong floor and
    the ``share`` of papers each pair of thresholds makes members (NaN without a sample). A
    model the calibration file does not cover has NaN thresholds and scores.
    """
    try:
        current: list[Theme] | None = for_model(themes, model)
    except ThemeCalibrationError:
        current = None
    sample_vectors, sample_texts = sample
    sample_sims = sample_vectors @ vectors.T if len(sample_texts) else np.zeros((0, len(themes)))
    nan = float("nan")
    rows = []
    for j, theme in enumerate(themes):
        part = labelled[(labelled["theme_id"] == theme.id) & labelled["paper_id"].isin(embeddings)]
        if part.empty:
            continue
        sims = np.array([float(embeddings[p] @ vectors[j]) for p in part["paper_id"]])
        evidence = theme.evidence([texts[p] for p in part["paper_id"]])
        labels = part["label"].to_numpy().astype(bool)
        floor = strong_floor(sample_sims[:, j])
        best = calibrate_rule(sims, evidence, labels, floor)
        hits = theme.evidence(sample_texts) if len(sample_texts) else np.zeros(0, bool)

        def share(t: float, strong: float, j: int = j, hits: np.ndarray = hits) -> float:
            if not len(hits):
                return nan
            s = sample_sims[:, j]
            return float(((s >= strong) | ((s >= t) & hits)).mean())

        row = {"theme_id": theme.id, "n": len(labels), "positives": int(labels.sum())}
        if current is not None:
            used = current[j]
            now = score_rule(sims, evidence, labels, used.threshold, used.threshold_strong)
            row |= {
                "threshold": used.threshold,
                "threshold_strong": used.threshold_strong,
                "precision": now.precision,
                "recall": now.recall,
                "f1": now.f1,
                "share": share(used.threshold, used.threshold_strong),
            }
        else:
            row |= dict.fromkeys(
                ("threshold", "threshold_strong", "precision", "recall", "f1", "share"), nan
            )
        row |= {
            "strong_floor": floor,
            "best_threshold": best.threshold,
            "best_threshold_strong": best.threshold_strong,
            "best_precision": best.precision,
            "best_recall": best.recall,
            "best_f1": best.f1,
            "best_share": share(best.threshold, best.threshold_strong),
        }
        rows.append(row)
    return pd.DataFrame(rows)
