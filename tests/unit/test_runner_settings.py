"""Settings the runner passes on: the fit budget, and the fit's backend for themes calibrate."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import TOY_ROWS, seed_toy_fit
from typer.testing import CliRunner

from pipeline import runner, themes
from pipeline.cli import app
from pipeline.config import EmbeddingBackend, Settings, load_settings
from pipeline.embedders import MODEL_NAMES
from pipeline.store import open_writer
from pipeline.topics.sampling import DEFAULT_BUDGET, SampleRule


@dataclass
class FitCall:
    sample: SampleRule | None = None

    def line(self) -> str:
        return "topics: fitted (stand-in)"


@pytest.fixture
def fits(monkeypatch) -> list[FitCall]:
    """Every full fit the runner asks for, by its ``sample`` rule (no model is fitted)."""
    calls: list[FitCall] = []

    def fit_and_store(store, model, seed, params=None, **kwargs):
        calls.append(FitCall(kwargs.get("sample")))
        return calls[-1]

    monkeypatch.setattr(runner, "fit_and_store", fit_and_store)
    for name in ("TRENDS_FIT_BUDGET", "TRENDS_EMBEDDING_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    return calls


def test_fit_budget_default_is_the_sampling_rules():
    assert Settings.model_fields["fit_budget"].default == DEFAULT_BUDGET


def test_topics_stage_passes_the_setting_and_the_override(tmp_path, fits, monkeypatch):
    monkeypatch.setenv("TRENDS_FIT_BUDGET", "500")
    settings = load_settings(home=tmp_path)
    with open_writer(settings.work_db) as store:
        runner.topics_stage(store, settings, full=True)
        runner.topics_stage(store, settings, full=True, fit_budget=300)
    assert [c.sample for c in fits] == [SampleRule(500), SampleRule(300)]


def test_cli_fit_budget_reaches_the_fit(tmp_path, fits):
    home = tmp_path / "home"
    result = CliRunner().invoke(
        app, ["--home", str(home), "topics", "--full", "--fit-budget", "1234"]
    )
    assert result.exit_code == 0, result.output
    assert fits[-1].sample == SampleRule(1234)
    refused = CliRunner().invoke(app, ["--home", str(home), "topics", "--fit-budget", "5"])
    assert refused.exit_code == 2 and not fits[1:]  # below the rule's 20 papers: usage error


def test_themes_calibrate_scores_with_the_fits_backend(tmp_path, monkeypatch):
    monkeypatch.delenv("TRENDS_EMBEDDING_BACKEND", raising=False)
    home = tmp_path / "home"
    static = MODEL_NAMES[EmbeddingBackend.static]
    with open_writer(home / "work" / "trends.duckdb") as store:
        seed_toy_fit(store, TOY_ROWS)
        store.execute("update topic_runs set model = ?", [static])
    used: list[str] = []

    def theme_vectors(store, themes_, model, make_embedder):
        used.append(model)  # no model is loaded: the vectors are never needed here
        return {}

    monkeypatch.setattr(themes, "theme_vectors", theme_vectors)
    labels = tmp_path / "labels.csv"
    labels.write_text("theme_id,paper_id,label\nagents,p1,1\n")
    result = CliRunner().invoke(
        app, ["--home", str(home), "themes", "calibrate", "--labels", str(labels)]
    )
    assert used == [static]
    assert result.exit_code == 1 and f"embedded with {static}" in result.output

    # an explicit other backend is refused, as analyze refuses it
    onnx = CliRunner().invoke(
        app,
        ["--home", str(home), "--backend", "onnx", "themes", "calibrate", "--labels", str(labels)],
    )
    assert onnx.exit_code == 1 and "was made with static" in onnx.output
