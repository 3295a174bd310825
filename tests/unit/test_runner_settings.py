"""Settings the runner passes on: the fit budget.

`trends themes calibrate` reports every backend (tests/unit/test_themes.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from pipeline import runner
from pipeline.cli import app
from pipeline.config import Settings, load_settings
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
