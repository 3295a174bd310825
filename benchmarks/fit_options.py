"""Benchmark: the topic fit's options side by side on a real store (issue #4).

Fits the embedded papers of a store (read only) several times in one process, same seed:

- ``ctfidf``: the product's default words, without the per-fit seed check;
- ``ctfidf + seed check``: the default fit, which also clusters the papers with seed + 1 in a
  child process and measures how many keep their topic;
- ``ctfidf`` again, so the check's cost is read against two plain fits, not one;
- ``mmr``: the same topics with words chosen by maximal marginal relevance (no check).

It prints wall and CPU time (this process; the check's child is not counted in CPU), topics,
outliers, NPMI, diversity and seed stability, then the labels of a few topics under both
word choices. A warm-up fit on a slice comes first, so imports and UMAP's kernel cache do not
weigh on the first timed fit. Not a test: run it by hand.

    .venv/bin/python benchmarks/fit_options.py --store var/trends.duckdb [--backend onnx]
        [--seed 42] [--labels 12]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> None:
    """Run the fits and print the table."""
    from pipeline.config import EmbeddingBackend
    from pipeline.embed import load_embeddings, make_embedder, model_name
    from pipeline.store import open_reader
    from pipeline.topics.fit import fit_topics
    from pipeline.topics.params import TopicParams

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="a published or work DuckDB")
    parser.add_argument("--backend", choices=[b.value for b in EmbeddingBackend], default="onnx")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--labels", type=int, default=12, help="topics whose labels to show")
    args = parser.parse_args(argv)

    backend = EmbeddingBackend(args.backend)
    with open_reader(args.store) as store:
        ids, embeddings = load_embeddings(store, model_name(backend))
        texts = store.query(
            "select paper_id, title || '. ' || abstract as text from papers order by paper_id"
        ).set_index("paper_id")["text"]
    if len(ids) < 100:
        raise SystemExit(f"{args.store}: only {len(ids)} papers embedded with {backend.value}")
    docs = texts.loc[ids].tolist()
    params = TopicParams.for_corpus(len(ids))
    plain = replace(params, seed_check=False)
    warm = min(len(ids), 3000)
    fit_topics(ids[:warm], docs[:warm], embeddings[:warm], plain, args.seed)

    variants = [
        ("ctfidf", plain, None),
        ("ctfidf + seed check (default)", params, None),
        ("ctfidf again", plain, None),
        ("mmr", replace(plain, representation="mmr"), make_embedder(backend)),
    ]
    print(f"{len(ids):,} papers of {args.store}, {backend.value}, seed {args.seed}", flush=True)
    print("| fit | wall s | CPU s | topics | outliers | NPMI | diversity | seed stability | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    fits = {}
    for name, variant, embedder in variants:
        wall, cpu = time.perf_counter(), time.process_time()
        fit = fit_topics(ids, docs, embeddings, variant, args.seed, embedder)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        fits[name] = fit
        stability = "-" if fit.seed_check_agreement is None else f"{fit.seed_check_agreement:.1%}"
        print(
            f"| {name} | {wall:.1f} | {cpu:.1f} | {len(fit.topics) - 1} | {fit.outlier_share:.1%}"
            f" | {fit.npmi:.3f} | {fit.diversity:.3f} | {stability} | {os.getloadavg()[0]:.1f} |",
            flush=True,
        )
    ranked = fits["ctfidf"].topics.query("topic_id != -1").sort_values("size", ascending=False)
    chosen = fits["mmr"].topics.set_index("topic_id")
    print("\n| topic | papers | ctfidf label | mmr label |\n|---|---|---|---|")
    for row in ranked.head(args.labels).itertuples():
        mmr_label = chosen.loc[row.topic_id, "label"]
        print(f"| {row.topic_id} | {row.size} | {row.label} | {mmr_label} |")


if __name__ == "__main__":
    main()
