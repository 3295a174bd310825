"""One typed request for every ingest: DAG parameters into requests, and the CLI through runner."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pipeline.runner as runner
from pipeline.cli import app
from pipeline.config import load_settings
from pipeline.runner import IngestOutcome, IngestRequest, IngestSource, ParamsError, ingest_request

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
DAY = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path):
    return load_settings(home=tmp_path / "home", data_dir=DATA, oai_url="http://feed/oai2")


def test_a_scheduled_run_without_source_harvests_the_feed_from_its_interval(settings):
    req = ingest_request(
        settings,
        {},
        run_type="scheduled",
        interval_start=DAY[0],
        interval_end=DAY[1],
        scheduled_source=IngestSource.oai,
    )
    assert req.source is IngestSource.oai
    assert req.set_spec == settings.oai_set == "cs"
    # no explicit window: the watermark decides; a stream's first run starts at the interval
    assert (req.published_from, req.published_to) == (None, None)
    assert req.start_if_new == date(2026, 1, 1)
    assert req.fetch.pause == settings.fetch_pause
    assert "oai" in req.line() and "from the watermark" in req.line()


def test_a_manual_run_without_source_reads_the_file(settings):
    req = ingest_request(settings, {"sample": 10}, run_type="manual")
    assert req.source is IngestSource.file
    assert list(req.inputs) == [settings.default_corpus()]
    assert req.sample == 10


def test_a_backfill_run_of_the_feed_asks_for_its_interval(settings):
    req = ingest_request(
        settings,
        {"source": "oai", "categories": "physics:hep-th"},
        run_type="backfill",
        interval_start=DAY[0],
        interval_end=DAY[1],
    )
    assert (req.published_from, req.published_to) == (date(2026, 1, 1), date(2026, 1, 1))
    assert req.set_spec == "physics:hep-th"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"source": "rss"}, "source: 'rss' is not one of"),
        ({"source": "arxiv"}, "source arxiv: name the categories"),
        ({"source": "oai", "sample": 5}, "sample: only file ingests sample"),
        ({"source": "kaggle"}, "input_path: source kaggle needs a file"),
        ({"source": "oai", "input_path": "x.parquet"}, "input_path"),
    ],
)
def test_feed_params_that_cannot_run_fail_naming_them(settings, params, message):
    with pytest.raises(ParamsError, match=message):
        ingest_request(settings, params, run_type="manual")


def test_the_request_type_rejects_what_no_source_runs():
    with pytest.raises(ParamsError, match="name the file"):
        IngestRequest(source=IngestSource.page)
    with pytest.raises(ParamsError, match="choose one"):
        IngestRequest(inputs=[Path("a.parquet")], sample=5, sample_per_period=2)


@pytest.mark.parametrize(
    ("args", "source"),
    [
        (["file", str(DATA / "arxiv_cs_ai_2025.parquet"), "--sample-per-period", "3"], "file"),
        (["page", str(DATA / "trending_papers_page.txt")], "page"),
        (["kaggle", str(DATA / "trending_papers_page.txt"), "-c", "cs"], "kaggle"),
        (["oai", "--set", "cs", "--from", "2026-01-01"], "oai"),
        (["arxiv", "-c", "cs.AI", "--pause", "0"], "arxiv"),
    ],
)
def test_every_ingest_command_goes_through_the_runner(tmp_path, monkeypatch, args, source):
    seen: list[IngestRequest] = []

    def stage(store, settings, request, **_):
        seen.append(request)
        return IngestOutcome([request.line()], 0, [])

    monkeypatch.setattr(runner, "ingest_request_stage", stage)
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "h"), "ingest", *args])
    assert result.exit_code == 0, result.output
    (request,) = seen
    assert request.source == source
    if source == "oai":
        assert request.url == load_settings().oai_url  # the setting, not a hard-coded URL
        assert request.published_from == date(2026, 1, 1)
    if source == "arxiv":
        assert request.categories == ("cs.AI",) and request.fetch.pause == 0
    if source == "file":
        assert request.sample_per_period == 3
