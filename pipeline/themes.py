"""Themes users name: load the themes file, score papers against each theme, store verdicts.

A paper belongs to a theme when its embedding is close to the theme's seed phrases and its
text shows evidence (a keyword), or when it is very close even without a keyword. The rule and
its thresholds live in the themes file so users can read and change them.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, Field, ValidationError, field_validator

from pipeline.embedders import Embedder
from pipeline.store import Store


class ThemeFileError(ValueError):
    """The themes file cannot be used; the message names the theme and the field."""


class Theme(BaseModel):
    """One theme of the themes file."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    seeds: list[str] = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    require: list[str] = Field(default_factory=list)
    threshold: float = Field(0.30, ge=-1, le=1)
    threshold_strong: float = Field(0.55, ge=-1, le=1)

    @field_validator("keywords", "require")
    @classmethod
    def _keywords_compile(cls, value: list[str]) -> list[str]:
        for kw in value:
            try:
                re.compile(kw)
            except re.error as exc:
                raise ValueError(
                    f"keyword {kw!r} is not a valid regular expression: {exc}"
                ) from None
            _check_re2(kw, f"keyword {kw!r}")
        if len(value) > 1:
            _check_re2(_any_of(value).pattern, "the keywords together")  # size limits
        return value

    @property
    def seeds_hash(self) -> str:
        """Changes when the seed phrases change (so cached vectors are recomputed)."""
        return hashlib.sha256("\x1f".join(self.seeds).encode()).hexdigest()[:16]

    def keyword_pattern(self) -> re.Pattern[str] | None:
        """One case-insensitive pattern matching any keyword on word boundaries."""
        return _any_of(self.keywords)

    def evidence(self, texts: Sequence[str] | pa.Array) -> np.ndarray:
        """Which texts name the theme: a keyword, and also a `require` term if any."""
        texts = texts if isinstance(texts, pa.Array) else pa.array(texts, pa.string())
        found = _matches(self.keyword_pattern(), texts)
        if self.require:
            found &= _matches(_any_of(self.require), texts)
        return found

    def has_evidence(self, text: str) -> bool:
        """:meth:`evidence` of one text."""
        return bool(self.evidence([text])[0])


def _any_of(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile(r"\b(?:" + "|".join(f"(?:{p})" for p in patterns) + r")\b", re.I)


def _check_re2(pattern: str, what: str) -> None:
    """Refuse a pattern Arrow's RE2 cannot compile, with RE2's reason.

    RE2 matches in time linear in the text, whatever the pattern. Python's ``re`` does not:
    a keyword such as ``(a+)+b(?=c)`` backtracks exponentially on a long run of ``a``, and
    one hostile abstract would stall the themes stage. So a keyword must be RE2 syntax (no
    look-arounds, no back-references, repetition counts up to 1,000), checked here when the
    themes file loads rather than found out mid-run.
    """
    try:
        pc.match_substring_regex(_EMPTY, pattern, ignore_case=True)
    except pa.ArrowInvalid as exc:
        reason = str(exc).removeprefix("Invalid regular expression: ")
        raise ValueError(
            f"{what} cannot be matched by RE2 ({reason}); keywords are RE2 syntax, matched in "
            "linear time: no look-arounds or back-references (a hostile text could make "
            "them backtrack without end)"
        ) from None


_EMPTY = pa.array([""], pa.string())


def _matches(pattern: re.Pattern[str] | None, texts: pa.Array) -> np.ndarray:
    """Which texts the pattern matches somewhere, case-insensitively.

    Arrow's RE2 matches the whole array in C++, ~18x faster than Python's ``re`` over 5,000
    arXiv abstracts with identical verdicts, and in linear time: every keyword was checked
    to compile in RE2 when the themes file loaded (:func:`_check_re2`).
    """
    if pattern is None:
        return np.zeros(len(texts), bool)
    hits = pc.match_substring_regex(texts, pattern.pattern, ignore_case=True)
    return pc.fill_null(hits, False).to_numpy(zero_copy_only=False)


def _reason(exc: ValidationError | TypeError) -> str:
    """A validation failure as one line: ``field: reason; ...`` (pydantic's text spans lines)."""
    if isinstance(exc, TypeError):
        return str(exc)
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def load_themes(path: Path) -> list[Theme]:
    """Read and validate the themes file (TOML with ``[defaults]`` and ``[[theme]]`` blocks)."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ThemeFileError(f"no themes file at {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path}: not valid TOML: {exc}") from None
    defaults = doc.get("defaults", {})
    themes: list[Theme] = []
    for i, raw in enumerate(doc.get("theme", []), start=1):
        try:
            themes.append(Theme(**{**defaults, **raw}))
        except (ValidationError, TypeError) as exc:
            name = raw.get("id", f"#{i}") if isinstance(raw, dict) else f"#{i}"
            raise ThemeFileError(f"{path}: theme {name}: {_reason(exc)}") from None
    ids = [t.id for t in themes]
    if len(set(ids)) != len(ids):
        raise ThemeFileError(
            f"{path}: duplicate theme ids: {sorted({i for i in ids if ids.count(i) > 1})}"
        )
    return themes


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
