"""TRENDS_EMBED_DEVICE: CPU by default, CUDA when asked or present, one error line without it.

This machine has no GPU and CPU builds of torch and ONNX Runtime, so the CUDA paths are checked
for their refusal; the tests that need a CUDA device to be absent skip where one is present.
"""

from __future__ import annotations

import os
import subprocess

import onnxruntime as ort
import pytest
import torch
from conftest import ARXIV, trends_bin

from pipeline.config import EmbedDevice, EmbeddingBackend, load_settings
from pipeline.embedders import (
    CPU_PROVIDER,
    CUDA_PROVIDER,
    EmbedDeviceError,
    OnnxEmbedder,
    make_embedder,
    onnx_providers,
    torch_device,
)
from pipeline.models import ensure_model

NO_TORCH_CUDA = not torch.cuda.is_available()
NO_ORT_CUDA = CUDA_PROVIDER not in ort.get_available_providers()


def test_the_device_is_the_cpu_unless_a_setting_says_otherwise(monkeypatch):
    monkeypatch.delenv("TRENDS_EMBED_DEVICE", raising=False)
    assert load_settings().embed_device is EmbedDevice.cpu
    monkeypatch.setenv("TRENDS_EMBED_DEVICE", "auto")
    assert load_settings().embed_device is EmbedDevice.auto
    assert torch_device(EmbedDevice.cpu) == "cpu"
    assert onnx_providers(EmbedDevice.cpu) == [CPU_PROVIDER]


@pytest.mark.skipif(not (NO_TORCH_CUDA and NO_ORT_CUDA), reason="a CUDA device is present")
def test_auto_falls_back_to_the_cpu_without_cuda():
    assert torch_device(EmbedDevice.auto) == "cpu"
    assert onnx_providers(EmbedDevice.auto) == [CPU_PROVIDER]


@pytest.mark.skipif(not NO_TORCH_CUDA, reason="torch sees a CUDA device")
def test_cuda_for_torch_without_a_device_is_one_clear_error():
    with pytest.raises(EmbedDeviceError) as info:
        make_embedder(EmbeddingBackend.minilm, device=EmbedDevice.cuda)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("TRENDS_EMBED_DEVICE=cuda: torch ")
    assert "sees no CUDA device" in message and "cpu or auto" in message


@pytest.mark.skipif(not NO_ORT_CUDA, reason="ONNX Runtime has a CUDA provider")
def test_cuda_for_onnx_without_the_provider_is_one_clear_error(tmp_path):
    with pytest.raises(EmbedDeviceError) as info:
        # refused before any model is looked for (the folder is empty)
        make_embedder(EmbeddingBackend.onnx, models_dir=tmp_path, device=EmbedDevice.cuda)
    assert f"has no {CUDA_PROVIDER}" in str(info.value)
    assert not any(tmp_path.iterdir())


def test_onnx_on_the_cpu_embeds_with_the_cpu_provider():
    folder = ensure_model(load_settings().models_dir, EmbeddingBackend.onnx)
    embedder = OnnxEmbedder(folder, threads=1, device=EmbedDevice.auto if NO_ORT_CUDA else "cpu")
    assert embedder.session.get_providers() == [CPU_PROVIDER]
    vectors = embedder.encode(["sparse attention for long contexts"])
    assert vectors.shape == (1, embedder.dim)


def test_static_ignores_the_device(tmp_path):
    folder = ensure_model(load_settings().models_dir, EmbeddingBackend.static)
    embedder = make_embedder(
        EmbeddingBackend.static, models_dir=folder.parent, device=EmbedDevice.cuda
    )
    assert embedder.encode(["a static lookup"]).shape == (1, embedder.dim)


@pytest.mark.skipif(not NO_ORT_CUDA, reason="ONNX Runtime has a CUDA provider")
def test_the_cli_says_so_in_one_line_without_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRENDS_")}
    env.update(
        TRENDS_HOME=str(tmp_path / "home"),
        TRENDS_MODELS_DIR=str(load_settings().models_dir),
        HF_HUB_OFFLINE="1",
    )
    ingest = subprocess.run(
        [trends_bin(), "ingest", "file", str(ARXIV), "--sample", "20"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    for device, expected in (("cuda", f"has no {CUDA_PROVIDER}"), ("gpu", "embed_device")):
        proc = subprocess.run(
            [trends_bin(), "embed", "--backend", "onnx"],
            env={**env, "TRENDS_EMBED_DEVICE": device},
            capture_output=True,
            text=True,
            timeout=600,
        )
        out = proc.stdout + proc.stderr
        assert proc.returncode == 1, out
        assert "Traceback" not in out
        lines = [line for line in out.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), out
        assert expected in lines[0], out
