"""Embedding backends: int8 ONNX and static model2vec next to torch MiniLM.

The built models come from the settings' models folder (``TRENDS_MODELS_DIR``, filled by
``make setup``); a missing one is built once here, offline, which takes minutes. The build
machinery itself (skip when valid, atomic swap, one build under concurrent first uses) is tested
with a stand-in recipe so that it runs in milliseconds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline import models
from pipeline.cli import app
from pipeline.config import EmbeddingBackend, load_settings
from pipeline.embed import (
    MODEL_NAMES,
    OnnxEmbedder,
    StaticEmbedder,
    embed_new_papers,
    load_embeddings,
    make_embedder,
    model_name,
)
from pipeline.store import open_writer

REPO = Path(__file__).resolve().parents[2]
ARXIV = REPO.parent / "shared" / "data" / "arxiv_cs_ai_2025.parquet"
N_DOCS = 300  # abstracts compared with MiniLM (neighbourhoods); the first 64 for the ONNX cosine
N_COSINE = 64
K = 10
# Measured on this slice: 0.31 (0.22 on 2,000 abstracts); random vectors give ~K/N_DOCS = 0.03.
STATIC_OVERLAP_FLOOR = 0.2


@pytest.fixture(scope="module")
def models_dir() -> Path:
    """The settings' models folder, with both artifacts built (once, if missing)."""
    folder = load_settings().models_dir
    for summary in models.build_models(folder):
        print(summary.line())
    return folder


@pytest.fixture(scope="module")
def abstracts() -> list[str]:
    """Real arXiv abstracts, the text the pipeline embeds (title. abstract), a fixed sample."""
    frame = pd.read_parquet(ARXIV, columns=["arxiv_id", "title", "abstract"])
    frame = frame.drop_duplicates("arxiv_id").sample(N_DOCS, random_state=11)
    return (frame["title"] + ". " + frame["abstract"]).tolist()


@pytest.fixture(scope="module")
def minilm_vectors(abstracts) -> np.ndarray:
    return make_embedder(EmbeddingBackend.minilm).encode(abstracts)


def neighbours(vectors: np.ndarray, k: int = K) -> np.ndarray:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1)[:, :k]


def neighbour_overlap(a: np.ndarray, b: np.ndarray, k: int = K) -> float:
    """Mean share of each document's k nearest neighbours that two embeddings agree on."""
    na, nb = neighbours(a, k), neighbours(b, k)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(na, nb, strict=True)]))


# -- names and caches ----------------------------------------------------------------------------
def test_every_backend_caches_under_its_own_model_name():
    names = [model_name(b) for b in EmbeddingBackend]
    assert len(set(names)) == len(EmbeddingBackend) == 3
    assert set(MODEL_NAMES) == set(EmbeddingBackend)
    assert model_name(EmbeddingBackend.minilm) == "all-MiniLM-L6-v2"  # existing caches stay valid


class FakeEmbedder:
    def __init__(self, name: str, dim: int, value: float) -> None:
        self.name, self.dim, self.value = name, dim, value
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        return np.full((len(texts), self.dim), self.value, dtype=np.float32)


def test_vectors_of_one_backend_neither_satisfy_nor_mix_with_another(tmp_path):
    with open_writer(tmp_path / "trends.duckdb") as store:
        store.execute(
            "insert into papers (paper_id, source, title, abstract, date_precision, version,"
            " content_hash, first_run_id, last_run_id, ingested_at, updated_at)"
            " select 'p' || i, 'arxiv', 'T' || i, 'A' || i, 'day', 1, 'h' || i, 'r', 'r',"
            " now(), now() from range(5) t(i)"
        )
        minilm = FakeEmbedder(model_name(EmbeddingBackend.minilm), 384, 0.05)
        static = FakeEmbedder(model_name(EmbeddingBackend.static), 256, 0.0625)

        first = embed_new_papers(store, EmbeddingBackend.minilm, embedder=minilm)
        assert (first.embedded, first.model) == (5, minilm.name)
        # the static backend finds nothing of its own yet: it embeds every paper
        second = embed_new_papers(store, EmbeddingBackend.static, embedder=static)
        assert (second.embedded, second.model) == (5, static.name)
        # and a rerun of either embeds nothing
        assert embed_new_papers(store, EmbeddingBackend.minilm, embedder=minilm).embedded == 0
        assert embed_new_papers(store, EmbeddingBackend.static, embedder=static).embedded == 0

        ids, vectors = load_embeddings(store, model_name(EmbeddingBackend.static))
        assert len(ids) == 5 and vectors.shape == (5, 256)
        assert np.allclose(vectors, 0.0625)
        ids, vectors = load_embeddings(store, model_name(EmbeddingBackend.minilm))
        assert vectors.shape == (5, 384) and np.allclose(vectors, 0.05)
        assert load_embeddings(store, model_name(EmbeddingBackend.onnx))[0] == []


# -- quality of the built models against torch MiniLM ---------------------------------------------
def test_onnx_int8_vectors_match_torch_minilm(models_dir, abstracts, minilm_vectors):
    onnx = make_embedder(EmbeddingBackend.onnx, models_dir=models_dir)
    assert isinstance(onnx, OnnxEmbedder)
    vectors = onnx.encode(abstracts[:N_COSINE])
    assert vectors.shape == (N_COSINE, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosine = (vectors * minilm_vectors[:N_COSINE]).sum(axis=1)
    print(f"onnx int8 vs minilm cosine on {N_COSINE} abstracts: min {cosine.min():.4f}")
    print(f"onnx int8 vs minilm cosine: mean {cosine.mean():.4f}")
    assert cosine.min() >= 0.98


def test_onnx_vector_depends_on_the_text_only(models_dir, abstracts):
    # int8 dynamic quantisation scales activations per input tensor, so a text batched with
    # others would move (cosine ~0.994); run alone it must be bit-identical however the texts
    # are grouped, ordered or threaded, which is what makes a resumed embed equal a whole one.
    onnx = make_embedder(EmbeddingBackend.onnx, models_dir=models_dir)
    assert isinstance(onnx, OnnxEmbedder) and onnx.threads >= 1
    texts = [abstracts[0][:80], *abstracts[1:8]]
    together = onnx.encode(texts)
    alone = np.vstack([onnx.encode([t]) for t in texts])
    reversed_ = onnx.encode(texts[::-1])[::-1]
    serial = OnnxEmbedder(models_dir / "onnx", threads=1).encode(texts)
    assert np.array_equal(together, alone)
    assert np.array_equal(together, reversed_)
    assert np.array_equal(together, serial)
    assert OnnxEmbedder(models_dir / "onnx", threads=3).encode([]).shape == (0, 384)


def test_static_neighbourhoods_agree_with_minilm(models_dir, abstracts, minilm_vectors):
    static = make_embedder(EmbeddingBackend.static, models_dir=models_dir)
    assert isinstance(static, StaticEmbedder)
    vectors = static.encode(abstracts)
    assert vectors.shape == (N_DOCS, 256) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    overlap = neighbour_overlap(minilm_vectors, vectors)
    shuffled = vectors[np.random.default_rng(0).permutation(N_DOCS)]
    chance = neighbour_overlap(minilm_vectors, shuffled)
    print(f"static vs minilm: {K}-NN overlap {overlap:.3f} on {N_DOCS} abstracts")
    print(f"static vs minilm: chance {chance:.3f}")
    assert overlap >= STATIC_OVERLAP_FLOOR
    assert chance < 0.1


def test_the_models_present_are_valid_and_not_rebuilt(models_dir):
    for backend in models.ARTIFACTS:
        assert models.artifact_problem(models_dir, backend) is None
        summary = models.build_model(models_dir, backend)
        assert not summary.built
        assert summary.megabytes > 1


def test_cli_models_build_skips_valid_models(models_dir):
    result = CliRunner().invoke(app, ["models", "build", "--models-dir", str(models_dir)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(ln.startswith("model onnx: present and valid, skipped") for ln in lines), lines
    assert any(ln.startswith("model static: present and valid, skipped") for ln in lines), lines


def test_cli_embed_with_the_static_backend(models_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TRENDS_MODELS_DIR", str(models_dir))
    home = tmp_path / "var"
    runner = CliRunner()
    ingest = runner.invoke(
        app, ["--home", str(home), "ingest", "file", str(ARXIV), "--sample", "40"]
    )
    assert ingest.exit_code == 0, ingest.output
    first = runner.invoke(app, ["--home", str(home), "embed", "--backend", "static"])
    assert first.exit_code == 0, first.output
    assert f"embed {StaticEmbedder.name}: embedded 40 papers" in first.stdout
    again = runner.invoke(app, ["--home", str(home), "embed", "--backend", "static"])
    assert f"embed {StaticEmbedder.name}: embedded 0 papers" in again.stdout
    with open_writer(home / "work" / "trends.duckdb") as store:
        rows = store.query(
            "select model, count(*) as n, max(len(embedding)) as dim from paper_embeddings"
            " group by model"
        )
    assert rows.to_dict("records") == [{"model": StaticEmbedder.name, "n": 40, "dim": 256}]


# -- the build machinery, with a stand-in recipe -------------------------------------------------
class StandInRecipe:
    """Writes two small files, slowly enough for a concurrent caller to arrive meanwhile."""

    def __init__(self, pause: float = 0.0) -> None:
        self.builds = 0
        self.pause = pause

    def __call__(self, folder: Path) -> dict[str, object]:
        self.builds += 1
        time.sleep(self.pause)
        (folder / "weights.bin").write_bytes(b"\x01" * 1000)
        (folder / "tokenizer.json").write_text("{}")
        return {"recipe": "stand-in"}


@pytest.fixture
def stand_in(monkeypatch) -> StandInRecipe:
    recipe = StandInRecipe(pause=0.3)
    spec = models.ArtifactSpec(EmbeddingBackend.onnx, ("weights.bin", "tokenizer.json"), recipe)
    monkeypatch.setitem(models.ARTIFACTS, EmbeddingBackend.onnx, spec)
    return recipe


def test_build_is_idempotent_and_leaves_only_the_artifact(tmp_path, stand_in):
    first = models.build_model(tmp_path, EmbeddingBackend.onnx)
    second = models.build_model(tmp_path, EmbeddingBackend.onnx)
    assert (first.built, second.built, stand_in.builds) == (True, False, 1)
    folder = tmp_path / "onnx"
    assert first.folder == folder
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json",
        "tokenizer.json",
        "weights.bin",
    ]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"] == {"weights.bin": 1000, "tokenizer.json": 2}
    assert manifest["format_version"] == models.FORMAT_VERSION
    assert manifest["source"] == models.source_fingerprint()
    # no temporary or moved-aside folders are left beside it
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["onnx"]


def test_a_damaged_or_outdated_artifact_is_rebuilt(tmp_path, stand_in, monkeypatch):
    models.build_model(tmp_path, EmbeddingBackend.onnx)
    (tmp_path / "onnx" / "weights.bin").write_bytes(b"\x01" * 10)  # truncated
    assert "not the size" in models.artifact_problem(tmp_path, EmbeddingBackend.onnx)
    assert models.build_model(tmp_path, EmbeddingBackend.onnx).built
    monkeypatch.setattr(models, "FORMAT_VERSION", models.FORMAT_VERSION + 1)  # a new recipe
    assert "format" in models.artifact_problem(tmp_path, EmbeddingBackend.onnx)
    assert models.build_model(tmp_path, EmbeddingBackend.onnx).built
    assert stand_in.builds == 3
    assert (tmp_path / "onnx" / "weights.bin").stat().st_size == 1000
    assert models.artifact_problem(tmp_path, EmbeddingBackend.onnx) is None


def test_a_failed_build_leaves_the_previous_state(tmp_path, monkeypatch):
    def broken(folder: Path) -> dict[str, object]:
        (folder / "weights.bin").write_bytes(b"half")
        raise RuntimeError("export failed")

    spec = models.ArtifactSpec(EmbeddingBackend.onnx, ("weights.bin",), broken)
    monkeypatch.setitem(models.ARTIFACTS, EmbeddingBackend.onnx, spec)
    with pytest.raises(RuntimeError, match="export failed"):
        models.build_model(tmp_path, EmbeddingBackend.onnx)
    assert not (tmp_path / "onnx").exists()
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []


def test_concurrent_first_uses_build_once(tmp_path, stand_in):
    results = []

    def use() -> None:
        results.append(models.build_model(tmp_path, EmbeddingBackend.onnx))

    threads = [threading.Thread(target=use) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stand_in.builds == 1
    assert sorted(r.built for r in results) == [False, False, True]


def test_first_use_builds_a_missing_model_and_says_so(tmp_path, stand_in, caplog):
    with caplog.at_level(logging.WARNING, logger="pipeline.models"):
        folder = models.ensure_model(tmp_path, EmbeddingBackend.onnx)
        models.ensure_model(tmp_path, EmbeddingBackend.onnx)  # present now: silent
    assert folder == tmp_path / "onnx" and stand_in.builds == 1
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "building it now" in messages[0] and "trends models build" in messages[0]
    assert messages[1].startswith("model onnx: built in")


def test_minilm_needs_no_build(tmp_path):
    with pytest.raises(ValueError, match="needs no built model"):
        models.build_model(tmp_path, EmbeddingBackend.minilm)
    result = CliRunner().invoke(
        app, ["models", "build", "--backend", "minilm", "--models-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "minilm needs no build" in result.output


def test_a_build_without_its_tools_names_the_extra(tmp_path, monkeypatch):
    def needs_onnx(folder: Path) -> dict[str, object]:
        raise ModuleNotFoundError("No module named 'onnx'", name="onnx")

    spec = models.ArtifactSpec(EmbeddingBackend.onnx, ("weights.bin",), needs_onnx)
    monkeypatch.setitem(models.ARTIFACTS, EmbeddingBackend.onnx, spec)
    with pytest.raises(models.ModelBuildError, match=r"needs onnx: .*research-trends\[models\]"):
        models.build_model(tmp_path, EmbeddingBackend.onnx)
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []
