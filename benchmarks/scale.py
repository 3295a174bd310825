"""Scale check (not in CI): ingest and analyse a million Kaggle-format papers in bounded memory.

Writes an N-paper Kaggle snapshot (real cs.AI rows replicated with new ids, by
``kaggle_stream.write_snapshot``), then runs the pipeline's own stage functions on it, each
stage in a fresh child process, and prints per stage the time, the time per 100,000 papers and
the child's peak resident memory (``VmHWM``, see ``kaggle_stream.peak_rss_mib``):

1. ``fit``: the first topic fit, on a seed of the first ``--fit-papers`` papers (ingested and
   embedded first); a fit of a million papers is not how the pipeline grows;
2. ``ingest``: the whole snapshot (``ingest_kaggle``, chunked);
3. ``embed``: every paper, through ``embed_new_papers``, with a stand-in encoder;
4. ``topics``: the new papers placed into the fit (``place_new_papers``);
5. ``analyze``: theme scores (``assign_themes``) and the SQL marts (``build_marts``).

The model embeds ~26 papers/s on two cores (11 hours per million), so the encoder is a
stand-in with the model's 384 dimensions: TF-IDF + truncated SVD fitted on the real corpus,
cached per distinct text. It measures the stage's plumbing (queries, chunked upserts, the
vectors in the store), not the model. ``make scale`` runs it (``SCALE_PAPERS``, default
1,000,000); ``--papers 100000`` gives the figures per 100k in minutes.

    .venv/bin/python benchmarks/scale.py [--papers 1000000] [--workdir /tmp/trends-scale]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

STAGES = ("fit", "ingest", "embed", "topics", "analyze")
DIM = 384


class StandInEncoder:
    """TF-IDF + SVD vectors of the model's size; each distinct text is encoded once."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as fh:
            self.vectorizer, self.svd = pickle.load(fh)  # noqa: S301 - a file this script wrote
        self.cache: dict[bytes, np.ndarray] = {}
        self.name = "stand-in (TF-IDF + SVD)"
        self.dim = DIM

    @staticmethod
    def fit(texts: list[str], path: Path) -> None:
        """Fit on the real corpus and save (every child loads the same model)."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(min_df=3, max_features=50_000, sublinear_tf=True)
        svd = TruncatedSVD(DIM, random_state=42).fit(vectorizer.fit_transform(texts))
        with path.open("wb") as fh:
            pickle.dump((vectorizer, svd), fh)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of the texts."""
        keys = [hashlib.sha1(t.encode(), usedforsecurity=False).digest() for t in texts]
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in self.cache}
        if todo:
            vectors = self.svd.transform(self.vectorizer.transform(list(todo.values())))
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)
            self.cache.update(zip(todo, vectors.astype(np.float32), strict=True))
        return np.stack([self.cache[k] for k in keys]) if keys else np.zeros((0, DIM), np.float32)


def child(stage: str, work: Path, papers: int) -> dict:
    """One stage in this (fresh) process; returns its figures."""
    from kaggle_stream import peak_rss_mib

    from pipeline.config import EmbeddingBackend, load_settings
    from pipeline.embed import embed_new_papers, model_name
    from pipeline.harvest import ingest_kaggle
    from pipeline.runner import writer
    from pipeline.themes import assign_themes, load_themes
    from pipeline.topics.stage import fit_and_store, place_new_papers
    from pipeline.trends import build_marts

    settings = load_settings(home=work / "home")
    backend = EmbeddingBackend.minilm
    model = model_name(backend)
    encoder = StandInEncoder(work / "encoder.pkl") if stage in ("fit", "embed", "analyze") else None
    started = time.perf_counter()
    lines = []
    with writer(settings) as store:
        if stage == "fit":
            lines.append(ingest_kaggle(store, work / "seed.json").line())
            lines.append(embed_new_papers(store, backend, embedder=encoder).line())
            lines.append(fit_and_store(store, model, settings.seed).line())
        elif stage == "ingest":
            snapshot = work / f"snapshot-{papers}.json"  # --full: not from the seed's watermark
            lines.append(ingest_kaggle(store, snapshot, full=True).line())
        elif stage == "embed":
            lines.append(embed_new_papers(store, backend, embedder=encoder).line())
        elif stage == "topics":
            lines.append(place_new_papers(store, model).line())
        elif stage == "analyze":
            themes = load_themes(settings.themes_file)
            lines.append(assign_themes(store, themes, model, lambda: encoder).line())
            lines.append(build_marts(store).line())
        n_papers = int(store.scalar("select count(*) from papers"))
    return {
        "stage": stage,
        "seconds": time.perf_counter() - started,
        "peak_rss_mib": peak_rss_mib(),
        "papers": n_papers,
        "lines": lines,
        "memory_limit": settings.duckdb_memory_limit,
    }


def prepare(work: Path, papers: int, fit_papers: int, data_dir: Path) -> None:
    """The snapshot, its seed (its first lines) and the stand-in encoder, unless present."""
    import pandas as pd
    from kaggle_stream import write_snapshot

    snapshot = work / f"snapshot-{papers}.json"
    if not snapshot.exists():
        t0 = time.perf_counter()
        n, size = write_snapshot(snapshot, 0, data_dir, papers)
        took = time.perf_counter() - t0
        print(f"wrote {snapshot}: {n:,} papers, {size / 1e9:.2f} GB, {took:.0f}s")
    with snapshot.open("rb") as src, (work / "seed.json").open("wb") as dest:
        for _, line in zip(range(fit_papers), src, strict=False):
            dest.write(line)
    encoder = work / "encoder.pkl"
    if not encoder.exists():
        corpus = data_dir / "arxiv_cs_ai_2025.parquet"
        frame = pd.read_parquet(corpus, columns=["title", "abstract"])
        StandInEncoder.fit((frame["title"] + ". " + frame["abstract"]).tolist(), encoder)


def main() -> None:
    """Prepare the inputs, run each stage in a child process, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--fit-papers", type=int, default=5_000)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "trends-scale"
    )
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--keep", action="store_true", help="Keep the snapshot and the store.")
    parser.add_argument(
        "--from-stage",
        choices=STAGES,
        default=STAGES[0],
        help="Resume: keep the store of an earlier run in --workdir and start at this stage.",
    )
    parser.add_argument("--child", choices=STAGES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.workdir, args.papers)))
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    prepare(args.workdir, args.papers, args.fit_papers, args.data_dir)
    stages = STAGES[STAGES.index(args.from_stage) :]
    if args.from_stage == STAGES[0]:
        shutil.rmtree(args.workdir / "home", ignore_errors=True)
    rows = []
    for stage in stages:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", stage, "--papers", str(args.papers),
             "--workdir", str(args.workdir)],
            capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode:
            raise SystemExit(f"stage {stage} failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
        figures = json.loads(proc.stdout.strip().splitlines()[-1])
        for line in figures["lines"]:
            print(f"  {line}")
        per = args.fit_papers if stage == "fit" else args.papers
        rows.append((stage, per, figures["seconds"], figures["peak_rss_mib"]))
        print(
            f"{stage:>8}: {per:>9,} papers {figures['seconds']:>8.1f}s "
            f"{figures['seconds'] / per * 1e5:>8.1f}s/100k  peak RSS "
            f"{figures['peak_rss_mib']:>7,.0f} MiB",
            flush=True,
        )
    store = args.workdir / "home" / "work" / "trends.duckdb"
    print(
        f"scale: {args.papers:,} papers; store {store.stat().st_size / 1e9:.2f} GB; "
        f"DuckDB memory_limit {figures['memory_limit']}; peak RSS of any stage "
        f"{max(r[3] for r in rows):,.0f} MiB"
    )
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
