"""Research Trends: ingest -> embed -> topics -> analyze -> report -> publish.

Wiring only: every task calls one stage function of ``pipeline.runner`` and passes nothing but
short summary lines through XCom. Heavy imports happen inside the tasks, never at parse time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, Param, dag, task

PAPERS = Asset("trends://store/papers")
TOPICS = Asset("trends://store/topics")
PUBLISHED = Asset("trends://published")

DEFAULT_ARGS = {
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


def _settings():
    from pipeline.config import load_settings

    return load_settings()


@dag(
    dag_id="research_trends",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["research-trends"],
    doc_md=__doc__,
    params={
        "input_path": Param(
            "", type="string", description="File to ingest; empty means the arXiv 2025 corpus."
        ),
        "sample": Param(
            None,
            type=["null", "integer"],
            minimum=20,
            description="Deterministic sample of N papers; empty means all.",
        ),
        "full_refit": Param(False, type="boolean", description="Refit topics from scratch."),
        "as_of": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Build the trend marts as of this date (YYYY-MM-DD).",
        ),
    },
)
def research_trends() -> None:
    """Run every stage of the pipeline in order."""

    @task(outlets=[PAPERS])
    def ingest(params: dict | None = None) -> list[str]:
        from pathlib import Path

        from pipeline.runner import ingest_stage, writer

        params = params or {}
        settings = _settings()
        inputs = [Path(params["input_path"])] if params.get("input_path") else []
        with writer(settings) as store:
            return ingest_stage(store, settings, inputs, params.get("sample"))

    @task
    def embed() -> str:
        from pipeline.runner import embed_stage, writer

        settings = _settings()
        with writer(settings) as store:
            return embed_stage(store, settings)

    @task(outlets=[TOPICS])
    def topics(params: dict | None = None) -> str:
        from pipeline.runner import topics_stage, writer

        settings = _settings()
        with writer(settings) as store:
            return topics_stage(store, settings, full=bool((params or {}).get("full_refit")))

    @task
    def analyze(params: dict | None = None) -> str:
        from datetime import date

        from pipeline.runner import analyze_stage, writer

        as_of = (params or {}).get("as_of")
        settings = _settings()
        with writer(settings) as store:
            return analyze_stage(store, settings, date.fromisoformat(as_of) if as_of else None)

    @task
    def report() -> str:
        from pipeline.runner import report_stage, writer

        settings = _settings()
        with writer(settings) as store:
            return report_stage(store, settings)

    @task(outlets=[PUBLISHED])
    def publish() -> str:
        from pipeline.runner import publish_stage, writer

        settings = _settings()
        with writer(settings) as store:
            return publish_stage(store, settings)

    ingest() >> embed() >> topics() >> analyze() >> report() >> publish()


research_trends()
