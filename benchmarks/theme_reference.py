"""Check that theme shares follow a transparent keyword reference.

On the conference corpus (1987-2025, year precision), the yearly share of the "diffusion models"
and "network pruning" themes, as the product computes it (embedding similarity + term evidence,
themes/themes.toml), is compared with a plain keyword rule anyone can audit. Reports Spearman's
rank correlation over the years with at least 30 papers.

    .venv/bin/python benchmarks/theme_reference.py [--per-year 400|0] [--seed 0]
        [--backend minilm|onnx|static] [--workdir DIR]

A per-year sample keeps the embedding affordable on a 2-core CPU (``--per-year 0``: every
paper); the keyword reference is computed on the same papers, so both sides see identical
documents. ``--workdir`` keeps the store, so a rerun embeds only what it has not embedded.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

from pipeline.config import EmbeddingBackend, load_settings
from pipeline.embed import embed_new_papers, make_embedder, model_name
from pipeline.ingest import ingest_file
from pipeline.store import open_writer
from pipeline.themes import assign_themes, load_themes

REFERENCE = {
    "diffusion-models": (
        r"\b(?:diffusion models?|denoising diffusion|score-based generative"
        r"|diffusion probabilistic)\b"
    ),
    "network-pruning": r"\b(?:prun(?:e|ed|ing)|lottery tickets?)\b",
}


def report_progress(done: int, total: int) -> None:
    """Print embedding progress every 5,000 papers."""
    if done % 5000 < 512 or done == total:
        print(f"  embedded {done:,}/{total:,}", flush=True)


def main() -> None:
    """Sample, embed, score and compare; print one table per theme."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-year", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-papers", type=int, default=30)
    parser.add_argument("--backend", choices=[b.value for b in EmbeddingBackend], default="minilm")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the store here")
    args = parser.parse_args()
    backend = EmbeddingBackend(args.backend)
    settings = load_settings()
    corpus = pd.read_parquet(settings.data_dir / "conference_abstracts.parquet")
    counts = corpus.groupby("year").size()
    years = counts[counts >= args.min_papers].index
    sample = (
        corpus[corpus["year"].isin(years)]
        .groupby("year", group_keys=False)
        .apply(lambda g: g.sample(min(len(g), args.per_year or len(g)), random_state=args.seed))
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        path = work / "conference_sample.parquet"
        sample.to_parquet(path)
        with open_writer(work / "w.duckdb") as store:
            print(ingest_file(store, path, source="conference").line())
            print(embed_new_papers(store, backend, progress=report_progress).line())
            themes = [t for t in load_themes(settings.themes_file) if t.id in REFERENCE]
            print(assign_themes(store, themes, model_name(backend),
                                lambda: make_embedder(backend)).line())  # fmt: skip
            frame = store.query(
                "select year(p.published) as year, pt.theme_id,"
                " p.title || ' ' || p.abstract as text, pt.is_member"
                " from paper_themes pt join papers p using (paper_id)"
            )
    print(f"(embedding and scoring took {time.perf_counter() - started:.0f}s)")
    for theme_id, pattern in REFERENCE.items():
        part = frame[frame["theme_id"] == theme_id].copy()
        part["keyword"] = part["text"].str.contains(pattern, flags=re.I, regex=True)
        yearly = part.groupby("year").agg(
            papers=("is_member", "size"), theme=("is_member", "mean"), keyword=("keyword", "mean")
        )
        yearly = yearly[yearly["papers"] >= args.min_papers]
        rho = spearmanr(yearly["theme"], yearly["keyword"]).statistic
        span = f"{len(yearly)} years with >= {args.min_papers} papers"
        print(f"\n## {theme_id}: Spearman {rho:.3f} over {span}")
        print("| year | papers | theme share | keyword share |\n|---|---|---|---|")
        for year, row in yearly.iterrows():
            print(f"| {year} | {row.papers} | {row.theme:.3%} | {row.keyword:.3%} |")


if __name__ == "__main__":
    main()
