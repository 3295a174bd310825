"""Themes users name: score papers against each theme and store the verdicts.

A paper belongs to a theme when its embedding is close to the theme's seed phrases and its
text shows evidence (a keyword), or when it is very close even without a keyword. The rule lives
in the themes file and its thresholds, per embedding model, in the calibration file next to it,
so users can read and change them; reading and validating both is :mod:`pipeline.theme_rules`
(its names are importable from here too), calibrating them :mod:`pipeline.theme_calibration`.
Themes are scored only with a calibrated model.
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
from pipeline.theme_calibration import (
    STRONG_ONLY_SHARE,
    RuleScore,
    calibrate_rule,
    calibration_table,
    score_rule,
    strong_floor,
)
from pipeline.theme_rules import (
    Calibration,
    ModelCalibration,
    Theme,
    ThemeCalibrationError,
    ThemeFileError,
    Thresholds,
    for_model,
    load_themes,
)

__all__ = [
    "JOIN_BYTES_PER_PAPER",
    "STRONG_ONLY_SHARE",
    "THEME_BATCH_ROWS",
    "CalibrationReport",
    "RuleScore",
    "Theme",
    "ThemeCalibrationError",
    "ThemeFileError",
    "ThemeSummary",
    "Thresholds",
    "assign_themes",
    "calibrate_models",
    "calibrate_rule",
    "calibration_table",
    "for_model",
    "join_parts",
    "load_themes",
    "score_papers",
    "score_rule",
    "strong_floor",
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

    The themes are scored with ``model``'s thresholds from their calibration file; a model it
    does not calibrate is refused (:class:`ThemeCalibrationError`) before any work. The papers
    stream through in batches of ``batch_rows`` and their scores are spooled to a file, so
    memory stays bounded by a batch; both tables are replaced in one transaction, so readers
    see all or nothing.
    """
    started = time.perf_counter()
    themes = for_model(themes, model)
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


@dataclass(frozen=True)
class CalibrationReport:
    """What `trends themes calibrate` found for each model, and the calibration it would write."""

    table: pd.DataFrame  # one row per (backend, theme): calibration_table's columns
    lines: list[str]
    calibration: Calibration  # the file's, with the best thresholds of every model calibrated


def calibrate_models(
    store: Store,
    themes: list[Theme],
    labelled: pd.DataFrame,
    models: dict[str, str],
    make_embedder: Callable[[str], Embedder],
    *,
    sample: int = 20_000,
    today: str = "",
) -> CalibrationReport:
    """Calibrate the themes for each backend of ``models`` (backend -> model name).

    A backend none of whose labelled papers is embedded in the store is reported and skipped;
    when that leaves none, the labelled sample cannot be scored here (ValueError).
    """
    if labelled.empty:
        raise ValueError("the labelled sample has no rows")
    current = themes[0].calibration if themes else None
    written = dict(current.models) if current else {}
    ids = sorted(set(labelled["paper_id"].astype(str)))
    frames, lines = [], []
    for backend, model in models.items():
        found = store.query_arrow_file(
            "themes/calibration_papers", {"model": model, "ids": ids, "sample": sample}
        )
        flags = found.column("labelled").to_numpy(zero_copy_only=False).astype(bool)
        flat = found.column("embedding").combine_chunks().flatten()
        vectors = flat.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        vectors = vectors.reshape(found.num_rows, -1) if found.num_rows else vectors[:0, None]
        paper_ids = found.column("paper_id").to_pylist()
        texts = found.column("text").to_pylist()
        mine, others = np.flatnonzero(flags), np.flatnonzero(~flags)
        embeddings = {paper_ids[i]: vectors[i] for i in mine}
        rows = int(labelled["paper_id"].isin(embeddings).sum())
        if not rows:
            lines.append(
                f"themes calibrate: {backend} ({model}): none of the {len(labelled):,} labelled"
                f" rows is embedded with it; `trends --backend {backend} embed` embeds them"
            )
            continue
        theme_vecs = theme_vectors(store, themes, model, lambda b=backend: make_embedder(b))
        table = calibration_table(
            themes,
            model,
            labelled,
            embeddings,
            {paper_ids[i]: texts[i] for i in mine},
            theme_vecs,
            (vectors[others], [texts[i] for i in others]),
        )
        frames.append(table.assign(backend=backend))
        lines.append(_calibration_line(backend, model, rows, len(labelled), table, len(others)))
        best = {
            r.theme_id: Thresholds(
                threshold=r.best_threshold, threshold_strong=r.best_threshold_strong
            )
            for r in table.itertuples()
        }
        median = Thresholds(
            threshold=round(float(np.median(table["best_threshold"])), 2),
            threshold_strong=round(float(np.median(table["best_threshold_strong"])), 2),
        )
        written[model] = ModelCalibration(
            backend=backend,
            calibrated=(
                f"{today}: best F1 on {rows} labelled rows (`trends themes calibrate --write`); "
                f"strong threshold at least the similarity {STRONG_ONLY_SHARE:.0%} of "
                f"{len(others):,} store papers reach; default: the themes' medians"
            ),
            default=median,
            themes=best,
        )
    if not frames:
        raise ValueError(
            f"none of the {len(labelled):,} labelled papers is embedded with "
            f"{' or '.join(models.values())} in this store; run `trends run --sample 2000` "
            "(or more) first, or `trends --backend B embed`"
        )
    table = pd.concat(frames, ignore_index=True)
    table = table[["backend", *[c for c in table.columns if c != "backend"]]]
    path = current.path if current else Path("themes.calibration.toml")
    return CalibrationReport(table, lines, Calibration(path=path, models=written))


def _calibration_line(
    backend: str, model: str, rows: int, labelled: int, table: pd.DataFrame, sampled: int
) -> str:
    """One backend's summary: F1 now and at the best thresholds, and its largest theme."""
    now = table["f1"].mean()
    now_text = "not calibrated" if now != now else f"mean F1 {now:.3f} at the file's thresholds"
    shares = table["share"] if now == now else table["best_share"]
    largest = ""
    if sampled and shares.notna().any():
        top = table.loc[shares.idxmax()]
        largest = f"; largest theme {top['theme_id']} {shares.max():.1%} of {sampled:,} papers"
    return (
        f"themes calibrate: {backend} ({model}): {rows:,} of {labelled:,} labelled rows in the "
        f"store; {now_text}, {table['best_f1'].mean():.3f} at the best ones{largest}"
    )
