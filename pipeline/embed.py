"""Embed stage: sentence embeddings of papers, cached per (paper, model, content hash).

The backends that make the vectors (MiniLM, ONNX, static) are :mod:`pipeline.embedders`; their
names are re-exported here, where the stages and tests have always imported them.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import EmbeddingBackend
from pipeline.embedders import MODEL_NAMES as MODEL_NAMES
from pipeline.embedders import Embedder as Embedder
from pipeline.embedders import MiniLMEmbedder as MiniLMEmbedder
from pipeline.embedders import OnnxEmbedder as OnnxEmbedder
from pipeline.embedders import StaticEmbedder as StaticEmbedder
from pipeline.embedders import make_embedder as make_embedder
from pipeline.embedders import model_name as model_name
from pipeline.store import Store
from pipeline.tasklog import ProgressLog

Progress = Callable[[int], None]
log = logging.getLogger(__name__)  # progress for task logs (pipeline/tasklog.py)


# Papers embedded per commit unless the embedder says otherwise (see embed_new_papers).
DEFAULT_CHUNK_SIZE = 512


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
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    embedder: Embedder | None = None,
) -> EmbedSummary:
    """Embed every paper without a current embedding; commit chunk by chunk.

    A kill mid-run keeps the chunks already committed, so a rerun continues where it stopped.
    The model is loaded only when there is something to embed. A chunk is ``chunk_size``
    papers, by default the embedder's ``chunk_size`` (else 512): seconds of work each, so
    commits stay a small share (the static model embeds 512 papers in ~0.3 s, and its 62
    commits at 31,000 papers took 4.3 of 26 s).
    """
    started = time.perf_counter()
    model = model_name(backend)
    total_papers = int(store.scalar_file("ops/count_papers"))
    done = 0
    with tempfile.TemporaryDirectory(prefix="trends-embed-") as spool_dir:
        # The papers to embed are spooled to a file and read back chunk by chunk, so memory
        # stays bounded by a chunk on any corpus size (loading them at once took 5.5 GB at a
        # million papers), and no read of the store stays open across the chunks' commits.
        spool = Path(spool_dir) / "todo.parquet"
        todo = store.spool_file("ops/papers_to_embed", {"model": model}, spool)
        if not todo:
            return EmbedSummary(model, 0, total_papers, time.perf_counter() - started)
        embedder = embedder or make_embedder(backend, batch_size)
        chunk_size = chunk_size or getattr(embedder, "chunk_size", DEFAULT_CHUNK_SIZE)
        log_progress = ProgressLog(f"embed {model}: papers", log)
        for batch in store.read_spool(spool, chunk_size):
            part = batch.to_pandas()
            vectors = embedder.encode(part["text"].tolist())
            with store.transaction():
                upsert_embeddings(store, embedding_table(part, model, vectors))
            done += len(part)
            log_progress(done, todo)
            if progress:
                progress(done, todo)
    return EmbedSummary(model, done, total_papers - done, time.perf_counter() - started)


def embedding_table(todo: pd.DataFrame, model: str, vectors: np.ndarray) -> pa.Table:
    """Rows of ``paper_embeddings`` for ``todo`` (paper_id, content_hash) and its vectors."""
    if len(todo):
        embedding = pa.FixedSizeListArray.from_arrays(
            pa.array(vectors.ravel(), pa.float32()), vectors.shape[1]
        ).cast(pa.list_(pa.float32()))
    else:
        embedding = pa.array([], pa.list_(pa.float32()))
    return pa.table(
        {
            "paper_id": pa.array(todo["paper_id"].tolist(), pa.string()),
            "model": pa.array([model] * len(todo), pa.string()),
            "content_hash": pa.array(todo["content_hash"].tolist(), pa.string()),
            "embedding": embedding,
        }
    )


def upsert_embeddings(store: Store, table: pa.Table) -> None:
    """Write embedding rows (stale ones of the same paper and model are replaced).

    The caller holds the transaction, so several tables can be loaded atomically.
    """
    store.register_arrow("incoming_embeddings", table)
    try:
        store.run_file("ops/upsert_embeddings", {"now": datetime.now(UTC).replace(tzinfo=None)})
    finally:
        store.unregister("incoming_embeddings")


# -- sharded embedding: plan under the writer lock, compute without the store, load once --------
SHARD_COLUMNS = ["paper_id", "content_hash", "text"]


@dataclass(frozen=True)
class ShardPlan:
    """The papers to embed, split into shard files that workers embed without the store."""

    model: str
    papers: int
    todo_files: list[Path]

    def line(self) -> str:
        """One-line summary for the logs."""
        return (
            f"embed plan {self.model}: {self.papers:,} papers to embed "
            f"in {len(self.todo_files)} shard(s)"
        )


def plan_embedding_shards(
    store: Store,
    backend: EmbeddingBackend,
    shard_dir: Path,
    shards: int,
    *,
    min_papers: int = 1,
) -> ShardPlan:
    """Write the papers without a current embedding to at most ``shards`` Parquet files.

    Reads the store once (the writer lock is held only for this query). Each shard gets at
    least ``min_papers`` papers (every shard loads the model, which costs as much as embedding
    a few hundred abstracts). Papers are dealt round-robin so that every shard gets a similar
    amount of text (each encoder sorts its texts by length). There is always at least one file,
    possibly empty, so the mapped tasks that embed the shards never vanish (a zero-length map
    would skip everything downstream).
    """
    if shards < 1 or min_papers < 1:
        raise ValueError(f"shards and min_papers must be at least 1, not {shards}, {min_papers}")
    model = model_name(backend)
    params = {"model": model}
    todo = store.count_file("ops/papers_to_embed", params)
    n = max(1, min(shards, todo // min_papers))
    shard_dir = Path(shard_dir)
    shard_dir.mkdir(parents=True, exist_ok=True)
    files = [shard_dir / f"todo-{i:03d}.parquet" for i in range(n)]
    schema = pa.schema([(column, pa.string()) for column in SHARD_COLUMNS])
    writers = [pq.ParquetWriter(path, schema) for path in files]
    try:
        dealt = 0  # streamed, so memory stays bounded by a batch on any corpus size
        for batch in store.stream_file("ops/papers_to_embed", params):
            table = pa.Table.from_batches([batch]).select(SHARD_COLUMNS).cast(schema)
            for i, out in enumerate(writers):
                out.write_table(table.take(np.arange((i - dealt) % n, len(table), n)))
            dealt += len(table)
    finally:
        for out in writers:
            out.close()
    return ShardPlan(model, todo, files)


@dataclass(frozen=True)
class ShardSummary:
    """What embedding one shard did."""

    path: Path
    model: str
    embedded: int
    seconds: float

    def line(self) -> str:
        """One-line summary for the logs."""
        rate = self.embedded / self.seconds if self.seconds > 0 and self.embedded else 0.0
        return (
            f"embed shard {self.path.name}: {self.embedded:,} papers with {self.model} "
            f"({rate:,.1f} docs/s), {self.seconds:.1f}s"
        )


def shard_output_path(todo_file: Path) -> Path:
    """Where the vectors of a todo shard go (``todo-007.parquet`` -> ``vectors-007.parquet``)."""
    todo_file = Path(todo_file)
    return todo_file.with_name(todo_file.name.replace("todo-", "vectors-", 1))


def embed_shard(
    todo_file: Path,
    backend: EmbeddingBackend,
    *,
    batch_size: int = 64,
    embedder: Embedder | None = None,
) -> ShardSummary:
    """Embed the papers of one todo shard into a vectors shard beside it; no store access.

    The vectors are written to a temporary name and renamed, so a half-written shard is never
    loaded. The model is loaded only when the shard has papers.
    """
    started = time.perf_counter()
    model = model_name(backend)
    todo = pq.read_table(todo_file).to_pandas()
    if todo.empty:
        vectors = np.zeros((0, 0), dtype=np.float32)
    else:
        embedder = embedder or make_embedder(backend, batch_size)
        # in chunks, so that the task log shows progress (ProgressLog) on a large shard
        texts = todo["text"].tolist()
        step = getattr(embedder, "chunk_size", DEFAULT_CHUNK_SIZE)
        log_progress = ProgressLog(f"embed shard {Path(todo_file).name}: papers", log)
        parts = []
        for start in range(0, len(texts), step):
            parts.append(embedder.encode(texts[start : start + step]))
            log_progress(min(start + step, len(texts)), len(texts))
        vectors = np.concatenate(parts)
    out = shard_output_path(todo_file)
    tmp = out.with_name(f".{out.name}.tmp")
    pq.write_table(embedding_table(todo, model, vectors), tmp)
    tmp.replace(out)
    return ShardSummary(out, model, len(todo), time.perf_counter() - started)


@dataclass(frozen=True)
class ShardLoadSummary:
    """What loading the vector shards did."""

    shards: int
    loaded: int
    seconds: float

    def line(self) -> str:
        """One-line summary for the logs."""
        return (
            f"embed load: {self.loaded:,} embeddings from {self.shards} shard(s), "
            f"{self.seconds:.1f}s"
        )


def load_embedding_shards(store: Store, vector_files: Sequence[Path]) -> ShardLoadSummary:
    """Load vector shards into ``paper_embeddings`` in one transaction: all or none.

    A paper edited since its shard was planned is stored with the old content hash, which
    makes it stale: the next plan picks it up again.
    """
    started = time.perf_counter()
    loaded = 0
    with store.transaction():
        for path in vector_files:
            table = pq.read_table(path)
            if table.num_rows:
                upsert_embeddings(store, table)
            loaded += table.num_rows
    return ShardLoadSummary(len(vector_files), loaded, time.perf_counter() - started)


def load_embeddings(store: Store, model: str) -> tuple[list[str], np.ndarray]:
    """Current embeddings of all papers for a model, ordered by paper_id."""
    ids: list[str] = []
    blocks = []
    # streamed and sorted here: DuckDB sorting a million vectors overran its memory limit
    for batch in store.stream_file("ops/current_embeddings", {"model": model}):
        ids.extend(batch.column("paper_id").to_pylist())
        flat = batch.column("embedding").flatten().to_numpy(zero_copy_only=False)
        blocks.append(flat.astype(np.float32, copy=False).reshape(batch.num_rows, -1))
    if not ids:
        return [], np.zeros((0, 0), dtype=np.float32)
    order = np.argsort(np.array(ids, dtype=object), kind="stable")
    vectors = np.concatenate(blocks)
    blocks.clear()  # two copies of the vectors at most, not three (1 GB a million at 256 dims)
    return [ids[i] for i in order], vectors[order]
