"""Themes users name: score papers against each theme, store verdicts, calibrate the rule.

A paper belongs to a theme when its embedding is close to the theme's seed phrases and its
text shows evidence (a keyword), or when it is very close even without a keyword. The rule and
its thresholds live in the themes file so users can read and change them; reading and
validating that file is :mod:`pipeline.theme_rules` (its names are importable from here too).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.embedders import Embedder
from pipeline.store import Store
from pipeline.theme_rules import Theme, ThemeFileError, load_themes

__all__ = [
    "JOIN_BYTES_PER_PAPER",
    "THEME_BATCH_ROWS",
    "RuleScore",
    "Theme",
    "ThemeFileError",
    "ThemeSummary",
    "assign_themes",
    "calibrate_rule",
    "calibration_table",
    "join_parts",
    "load_themes",
    "score_papers",
    "score_rule",
    "theme_vectors",
]


def score_papers(
    paper_ids: list[str],
    texts: Sequence[str] | pa.Array,
    embeddings: np.ndarray,
    themes: list[Theme],
    vectors: np.ndarray,
) -> pd.DataFrame:
    """Similarity, keyword evidence and membership of every paper for every theme (pure)."""
    sims = embeddings @ vectors.T if len(paper_ids) else np.zeros((0, len(themes)))
    texts = texts if isinstance(texts, pa.Array) else pa.array(texts, pa.string())
    frames = []
    for j, theme in enumerate(themes):
        hits = theme.evidence(texts)
        s = sims[:, j].astype(float)
        member = (s >= theme.threshold_strong) | ((s >= theme.threshold) & hits)
        frames.append(
            pd.DataFrame(
                {
                    "theme_id": theme.id,
                    "paper_id": paper_ids,
                    "similarity": s,
                    "keyword_hit": hits,
                    "is_member": member,
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@dataclass(frozen=True)
class ThemeSummary:
    """What one theme assignment did."""

    themes: int
    papers: int
    members: dict[str, int]
    seconds: float

    def line(self) -> str:
        """One-line summary for the CLI and logs."""
        top = ", ".join(
            f"{k} {v:,}" for k, v in sorted(self.members.items(), key=lambda kv: -kv[1])[:4]
        )
        return (
            f"themes: {self.themes} themes over {self.papers:,} papers ({top}), {self.seconds:.1f}s"
        )


def theme_vectors(
    store: Store, themes: list[Theme], model: str, make_embedder: Callable[[], Embedder]
) -> np.ndarray:
    """Mean seed-phrase embedding of each theme, from the cache or computed once and cached."""
    cached = store.query_file("themes/theme_vectors", {"model": model})
    have = {
        (r.theme_id, r.seeds_hash): np.asarray(r.vector, np.float32) for r in cached.itertuples()
    }
    missing = [t for t in themes if (t.id, t.seeds_hash) not in have]
    if missing:
        embedder = make_embedder()
        rows = []
        for theme in missing:
            mean = embedder.encode(theme.seeds).mean(axis=0)
            vec = (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)
            have[(theme.id, theme.seeds_hash)] = vec
            rows.append((theme.id, model, theme.seeds_hash, vec.tolist()))
        table = pa.table(
            {
                "theme_id": [r[0] for r in rows],
                "model": [r[1] for r in rows],
                "seeds_hash": [r[2] for r in rows],
                "vector": pa.array([r[3] for r in rows], pa.list_(pa.float32())),
            }
        )
        store.register_arrow("incoming_theme_vectors", table)
        try:
            store.run_file("themes/save_theme_vectors")
        finally:
            store.unregister("incoming_theme_vectors")
    return np.stack([have[(t.id, t.seeds_hash)] for t in themes]) if themes else np.zeros((0, 0))


# Papers scored and written at a time: memory stays bounded by a batch, whatever the corpus.
THEME_BATCH_ROWS = 20_000
# Memory the vectors x texts join needs per paper of a part: 400,000 synthetic papers (384-d
# vectors, 1 KB texts) joined under a 64MB limit in 32 parts (5 KB of limit per paper) and
# failed in 16; this keeps a margin over that.
JOIN_BYTES_PER_PAPER = 8 * 1024


def join_parts(papers: int, memory_limit: int) -> int:
    """In how many parts to join ``papers`` vectors with their texts under the memory limit."""
    per_part = max(1, memory_limit // JOIN_BYTES_PER_PAPER)
    return max(1, -(-papers // per_part))


def assign_themes(
    store: Store,
    themes: list[Theme],
    model: str,
    make_embedder: Callable[[], Embedder],
    *,
    batch_rows: int = THEME_BATCH_ROWS,
) -> ThemeSummary:
    """Score every embedded paper against every theme and replace ``themes``/``paper_themes``.

    The papers stream through in batches of ``batch_rows`` and their scores are spooled to a
    file, so memory stays bounded by a batch; both tables are replaced in one transaction, so
    readers see all or nothing.
    """
    started = time.perf_counter()
    vectors = theme_vectors(store, themes, model, make_embedder)
    catalog = pd.DataFrame(
        [
            {
                "theme_id": t.id,
                "name": t.name,
                "description": t.description,
                "seeds": t.seeds,
                "keywords": t.keywords,
                "threshold": t.threshold,
                "threshold_strong": t.threshold_strong,
            }
            for t in themes
        ],
        columns=[
            "theme_id",
            "name",
            "description",
            "seeds",
            "keywords",
            "threshold",
            "threshold_strong",
        ],
    )
    members = dict.fromkeys((t.id for t in themes), 0)
    papers = 0
    with tempfile.TemporaryDirectory(prefix="trends-themes-") as spool_dir:
        # The papers are spooled to a file and scored from it (no DuckDB query open while
        # scoring, which is slow), the scores go to a second file, and both tables are replaced
        # in one short transaction instead of one held open for the whole scoring.
        spool = Path(spool_dir) / "paper_themes.parquet"
        source = Path(spool_dir) / "papers.parquet"
        embedded = int(store.query_file("themes/embedded_papers", {"model": model})["n"].iloc[0])
        parts = join_parts(embedded, store.memory_limit_bytes())
        store.spool_file("ops/embedded_texts", {"model": model}, source, parts=parts)
        writer: pq.ParquetWriter | None = None
        try:
            for batch in store.read_spool(source, batch_rows):
                papers += batch.num_rows
                if not themes or not batch.num_rows:
                    continue
                ids = batch.column("paper_id").to_pylist()
                flat = batch.column("embedding").flatten().to_numpy(zero_copy_only=False)
                embeddings = flat.astype(np.float32, copy=False).reshape(len(ids), -1)
                texts = batch.column("text")
                scores = score_papers(ids, texts, embeddings, themes, vectors)
                table = pa.Table.from_pandas(scores, preserve_index=False)
                writer = writer or pq.ParquetWriter(spool, table.schema)
                writer.write_table(table.cast(writer.schema))
                hits = scores[scores["is_member"]].groupby("theme_id").size()
                for theme_id, n in hits.items():
                    members[str(theme_id)] += int(n)
        finally:
            if writer is not None:
                writer.close()
        _replace_theme_tables(store, catalog, spool if writer is not None else None)
    return ThemeSummary(len(themes), papers, members, time.perf_counter() - started)


def _replace_theme_tables(store: Store, catalog: pd.DataFrame, spool: Path | None) -> None:
    """Replace ``themes`` and ``paper_themes`` (scores from the ``spool`` file) atomically."""
    store.register("incoming_themes", catalog)
    try:
        with store.transaction():
            store.run_file("themes/replace_themes")
            if spool is not None:
                store.run_file("themes/load_paper_themes", {"path": str(spool)})
    finally:
        store.unregister("incoming_themes")


def _empty_scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "theme_id": pd.Series(dtype=str),
            "paper_id": pd.Series(dtype=str),
            "similarity": pd.Series(dtype=float),
            "keyword_hit": pd.Series(dtype=bool),
            "is_member": pd.Series(dtype=bool),
        }
    )


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


def calibrate_rule(similarity: np.ndarray, evidence: np.ndarray, labels: np.ndarray) -> RuleScore:
    """Thresholds with the best F1 on the labels (ties: higher precision, higher thresholds)."""
    best: RuleScore | None = None
    for threshold in np.round(np.arange(0.20, 0.61, 0.01), 2):
        for strong in np.round(np.arange(max(threshold, 0.40), 0.76, 0.01), 2):
            s = score_rule(similarity, evidence, labels, float(threshold), float(strong))
            key = (round(s.f1, 6), round(s.precision, 6), s.threshold, s.threshold_strong)
            if best is None or key > (round(best.f1, 6), round(best.precision, 6), best.threshold,
                                      best.threshold_strong):  # fmt: skip
                best = s
    assert best is not None
    return best


def calibration_table(
    themes: list[Theme], labelled: pd.DataFrame, embeddings: dict[str, np.ndarray],
    texts: dict[str, str], vectors: np.ndarray,
) -> pd.DataFrame:  # fmt: skip
    """Per theme: the file's thresholds and the best ones, scored on the labelled sample.

    ``labelled`` has columns theme_id, paper_id, label (0/1); ``embeddings`` and ``texts`` are
    keyed by paper_id.
    """
    rows = []
    for j, theme in enumerate(themes):
        part = labelled[(labelled["theme_id"] == theme.id) & labelled["paper_id"].isin(embeddings)]
        if part.empty:
            continue
        sims = np.array([float(embeddings[p] @ vectors[j]) for p in part["paper_id"]])
        evidence = theme.evidence([texts[p] for p in part["paper_id"]])
        labels = part["label"].to_numpy().astype(bool)
        now = score_rule(sims, evidence, labels, theme.threshold, theme.threshold_strong)
        best = calibrate_rule(sims, evidence, labels)
        rows.append(
            {
                "theme_id": theme.id,
                "n": now.n,
                "positives": now.positives,
                "threshold": theme.threshold,
                "threshold_strong": theme.threshold_strong,
                "precision": now.precision,
                "recall": now.recall,
                "f1": now.f1,
                "best_threshold": best.threshold,
                "best_threshold_strong": best.threshold_strong,
                "best_precision": best.precision,
                "best_recall": best.recall,
                "best_f1": best.f1,
            }
        )
    return pd.DataFrame(rows)
