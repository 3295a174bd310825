"""Measure the embedding backends side by side (speed on 256 abstracts; agreement on 2,000).

Run from the repo root: nice .venv/bin/python benchmarks/backends.py
Uses the built models in TRENDS_MODELS_DIR (run `trends models build` first).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score

from pipeline.config import EmbeddingBackend
from pipeline.embed import make_embedder

ARXIV = Path("../shared/data/arxiv_cs_ai_2025.parquet")
CACHE = Path(os.environ.get("MEASURE_CACHE", Path(tempfile.gettempdir()) / "trends-backends"))
K = 10

frame = pd.read_parquet(ARXIV, columns=["arxiv_id", "title", "abstract", "primary_category"])
frame = frame.drop_duplicates("arxiv_id")
speed_texts = (lambda f: (f.title + ". " + f.abstract).tolist())(frame.sample(256, random_state=0))
sample = frame.sample(2000, random_state=0)
texts = (sample.title + ". " + sample.abstract).tolist()
category = sample.primary_category.to_numpy()

print(f"load average at start: {os.getloadavg()}", flush=True)
embedders, vectors256 = {}, {}
for backend in EmbeddingBackend:
    t = time.perf_counter()
    embedders[backend] = make_embedder(backend)
    load = time.perf_counter() - t
    embedders[backend].encode(speed_texts[:16])  # warm-up, not timed
    t = time.perf_counter()
    vectors256[backend] = embedders[backend].encode(speed_texts)
    rate = len(speed_texts) / (time.perf_counter() - t)
    print(f"{backend.value}: {rate:,.1f} docs/s on 256 abstracts (load {load:.1f}s)", flush=True)
print(f"load average at end of speed runs: {os.getloadavg()}", flush=True)
cos = (vectors256[EmbeddingBackend.onnx] * vectors256[EmbeddingBackend.minilm]).sum(axis=1)
print(f"onnx vs minilm cosine on the 256: min {cos.min():.4f} mean {cos.mean():.4f}")
if "--speed-only" in sys.argv:
    sys.exit()

ref_file = CACHE / "minilm2000.npy"
if ref_file.exists():
    ref = np.load(ref_file)
else:
    ref = embedders[EmbeddingBackend.minilm].encode(texts)
    np.save(ref_file, ref)


def knn(v: np.ndarray) -> np.ndarray:
    """Indices of each row's K nearest neighbours by cosine (itself excluded)."""
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    s = v @ v.T
    np.fill_diagonal(s, -np.inf)
    return np.argsort(-s, axis=1)[:, :K]


ref_knn = knn(ref)
ref_labels = KMeans(20, n_init=4, random_state=0).fit_predict(ref)


def report(name: str, v: np.ndarray) -> None:
    """Print how close ``v``'s neighbourhoods and clusters are to minilm's."""
    nn = knn(v)
    overlap = np.mean([len(set(a) & set(b)) / K for a, b in zip(ref_knn, nn, strict=True)])
    ari = adjusted_rand_score(ref_labels, KMeans(20, n_init=4, random_state=0).fit_predict(v))
    same = (category[nn] == category[:, None]).mean()
    print(
        f"{name}: {K}-NN overlap with minilm {overlap:.3f}; KMeans-20 ARI vs minilm {ari:.3f};"
        f" {K}-NN same primary category {same:.3f}",
        flush=True,
    )


report("minilm (itself)", ref)
other = KMeans(20, n_init=4, random_state=1).fit_predict(ref)
ceiling = adjusted_rand_score(ref_labels, other)
print(f"minilm KMeans-20 seed 0 vs seed 1 ARI (ceiling): {ceiling:.3f}")
report("static", embedders[EmbeddingBackend.static].encode(texts))
report("onnx", embedders[EmbeddingBackend.onnx].encode(texts))
tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2).fit_transform(texts)
report("tf-idf baseline", tfidf.toarray())
report("random baseline", np.random.default_rng(0).normal(size=(len(texts), 256)))
