"""What plain BERTopic gives beside the product, in the NPMI every fit stores (issue 24).

The About page of a report sets the fit's stored NPMI beside plain BERTopic's on the same kind
of corpus, and warns when it is low for the corpus's length (reports/quality_reference.toml).
This measures both: for each corpus (a deterministic sample of ``--docs`` papers of arXiv cs.AI
2025 or of the conference abstracts, as titles only or titles with abstracts), the product's fit
(``fit_topics`` with ``TopicParams.for_corpus``) and plain BERTopic with its documented defaults
(UMAP 15 neighbours / 5 components / min_dist 0 / cosine, HDBSCAN min_cluster_size 10,
c-TF-IDF) plus English stop words removed from its words (``CountVectorizer(stop_words=
"english")``, BERTopic's own advice; without it its top words are "the", "of", "and"), on the
same embeddings, scored by the same code: ``npmi_coherence`` of the top-10 words against the
corpus's documents (document co-occurrence, the product's tokenisation), ``topic_diversity``,
and the outlier share.

    .venv/bin/python benchmarks/about_reference.py [--docs 2000] [--seeds 1] [--backend onnx]
        [--corpus arxiv-abstracts ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import EmbeddingBackend, load_settings
from pipeline.embedders import make_embedder
from pipeline.quality import npmi_coherence, topic_diversity
from pipeline.topics.fit import fit_topics
from pipeline.topics.params import TopicParams
from pipeline.topics.words import term_counts

CORPORA = {
    "arxiv-titles": ("arxiv_cs_ai_2025.parquet", False),
    "arxiv-abstracts": ("arxiv_cs_ai_2025.parquet", True),
    "conference-titles": ("conference_abstracts.parquet", False),
    "conference-abstracts": ("conference_abstracts.parquet", True),
}


def corpus_docs(data_dir: Path, name: str, n: int) -> list[str]:
    """A deterministic sample of ``n`` papers' texts, as `trends embed` builds them."""
    file, abstracts = CORPORA[name]
    frame = pd.read_parquet(data_dir / file, columns=["title", "abstract"]).dropna()
    frame = frame.sample(min(n, len(frame)), random_state=0)
    titles = frame["title"].str.strip()
    return (
        (titles + ". " + frame["abstract"].str.strip()).tolist() if abstracts else titles.tolist()
    )


def score(top_words: list[list[str]], docs: list[str], labels: np.ndarray) -> dict[str, float]:
    """Stored-measure NPMI, diversity and outlier share of one fit's top-10 words."""
    top_words = [w[:10] for w in top_words if w]
    doc_term, vocabulary = term_counts(docs, (t for words in top_words for t in words))
    npmi = npmi_coherence(top_words, doc_term, vocabulary)
    return {
        "npmi": float(np.nanmean(npmi)) if npmi else float("nan"),
        "diversity": topic_diversity(top_words),
        "outliers": float((labels == -1).mean()),
        "topics": len(top_words),
    }


def plain_bertopic(docs: list[str], embeddings: np.ndarray, seed: int) -> dict[str, float]:
    """BERTopic's documented defaults (a seeded UMAP), English stop words left out of words."""
    from bertopic import BERTopic
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    model = BERTopic(umap_model=umap, vectorizer_model=CountVectorizer(stop_words="english"))
    labels, _ = model.fit_transform(docs, embeddings)
    labels = np.asarray(labels)
    words = [[w for w, _ in model.get_topic(t)] for t in sorted(set(labels.tolist())) if t != -1]
    return score(words, docs, labels)


def product(docs: list[str], embeddings: np.ndarray, seed: int) -> dict[str, float]:
    """The product's fit as `trends topics --full` makes it, scored the same way."""
    ids = [f"d{i:06d}" for i in range(len(docs))]
    fit = fit_topics(ids, docs, embeddings, TopicParams.for_corpus(len(docs)), seed)
    real = fit.topics[fit.topics["topic_id"] != -1]
    labels = fit.assignments.set_index("paper_id").loc[ids, "topic_id"].to_numpy()
    return score([list(t) for t in real["terms"]], docs, labels)


def main() -> None:
    """Embed, fit both, score; print one row per corpus and model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--backend", default="onnx", choices=[b.value for b in EmbeddingBackend])
    parser.add_argument("--corpus", nargs="*", default=list(CORPORA), choices=list(CORPORA))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = load_settings()
    embedder = make_embedder(EmbeddingBackend(args.backend))
    rows = []
    for name in args.corpus:
        docs = corpus_docs(settings.data_dir, name, args.docs)
        started = time.perf_counter()
        embeddings = np.asarray(embedder.encode(docs), np.float32)
        words = statistics.median(len(d.split()) for d in docs)
        print(f"{name}: {len(docs):,} docs, median {words:.0f} words, embedded in "
              f"{time.perf_counter() - started:.0f}s", flush=True)  # fmt: skip
        for model, fit in (("plain", plain_bertopic), ("product", product)):
            for seed in range(args.seeds):
                started = time.perf_counter()
                result = fit(docs, embeddings, 42 + seed)
                row = {"corpus": name, "model": model, "seed": 42 + seed, "docs": len(docs),
                       "median_words": words, "backend": args.backend, **result,
                       "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
                rows.append(row)
                print(json.dumps(row), flush=True)
    table = pd.DataFrame(rows).groupby(["corpus", "model"])[["npmi", "diversity", "outliers",
                                                             "topics"]].mean()  # fmt: skip
    print(table.round(3).to_string())
    print(reference_toml(rows, args.backend))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


TITLES = "titles only"  # the length classes of reports/quality_reference.toml
NAMES = {
    "arxiv-titles": ("arXiv cs.AI 2025, titles only", ["arxiv"], TITLES),
    "arxiv-abstracts": ("arXiv cs.AI 2025, titles and abstracts", ["arxiv"], "abstracts"),
    "conference-titles": (
        "conference papers, titles only",
        ["conference_abstracts"],
        TITLES,
    ),
    "conference-abstracts": (
        "conference papers, titles and abstracts",
        ["conference_abstracts"],
        "abstracts",
    ),
}


def reference_toml(rows: list[dict], backend: str) -> str:
    """``[[reference]]`` blocks for reports/quality_reference.toml (means over the seeds)."""
    from pipeline.embedders import model_name

    frame = pd.DataFrame(rows)
    blocks = []
    for name, part in frame.groupby("corpus", sort=False):
        corpus, sources, length = NAMES[str(name)]
        means = part.groupby("model")[["npmi", "diversity", "outliers", "topics"]].mean()
        if not {"plain", "product"} <= set(means.index):
            continue

        def scores(model: str, means: pd.DataFrame = means) -> str:
            m = means.loc[model]
            return (f"{{ npmi = {m.npmi:.3f}, diversity = {m.diversity:.3f}, "
                    f"outliers = {m.outliers:.3f}, topics = {m.topics:.0f} }}")  # fmt: skip

        blocks.append(
            "[[reference]]\n"
            f'corpus = "{corpus}"\nsources = {json.dumps(sources)}\nlength = "{length}"\n'
            f'model = "{model_name(EmbeddingBackend(backend))}"\n'
            f"docs = {int(part['docs'].iloc[0])}\nfits = {part['seed'].nunique()}\n"
            f"plain = {scores('plain')}\nproduct = {scores('product')}\n"
            f'measured = "{date.today().isoformat()}, `benchmarks/about_reference.py --docs '
            f"{int(part['docs'].iloc[0])} --seeds {part['seed'].nunique()} --backend {backend}`"
            f'"\n'
        )
    return "\n".join(blocks)


if __name__ == "__main__":
    main()
