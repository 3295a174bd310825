"""research_trends: the whole pipeline in one run, with every parameter.

`ingest >> embed >> topics >> analyze >> report >> publish`, the same stage functions as
`trends run`, for an operator who wants one button with every parameter: *source file*,
*sample size*, *date range*, *embedding backend*, *full refit*, *topic words* and *as-of* date. Not
scheduled. Parameters are checked before anything is written: a bad one fails the run at once,
without retries, with a message naming it.

The day-to-day path is the asset-driven chain `trends_ingest` -> `trends_topics` ->
`trends_report`. This DAG updates only the `site` and `published_database` assets, so it does
not start that chain again. Its writer tasks share the one-slot `trends_writer` pool with it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import dag, task
from trends_common import (
    DEFAULT_ARGS,
    PUBLISHED,
    SITE,
    TAGS,
    WRITER_POOL,
    as_of_param,
    date_range_params,
    embedding_backend_param,
    full_refit_param,
    input_path_param,
    sample_param,
    topic_representation_param,
)


@dag(
    dag_id="research_trends",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    default_args=DEFAULT_ARGS,
    description=(
        "The whole pipeline in one run, ingest to publish, with every parameter: for a first "
        "load, a full refit or a one-off rebuild. Day to day, trends_ingest drives the chain."
    ),
    tags=[*TAGS, "all-in-one"],
    doc_md=__doc__,
    params={
        "input_path": input_path_param(),
        # topics need at least 20 papers to fit
        "sample": sample_param(minimum=20),
        **date_range_params(),
        "embedding_backend": embedding_backend_param(),
        "full_refit": full_refit_param(),
        "topic_representation": topic_representation_param(),
        "as_of": as_of_param(),
    },
)
def research_trends() -> None:
    """Run every stage of the pipeline in order."""

    @task(pool=WRITER_POOL)
    def ingest(params: dict | None = None, dag_run=None) -> list[str]:
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline.runner import (
            ParamsError,
            ingest_request,
            ingest_request_stage,
            parse_param_date,
            run_settings,
            writer,
        )
        from pipeline.tasklog import log_summary

        params = params or {}
        try:
            settings = run_settings(params)
            request = ingest_request(settings, params, run_type=getattr(dag_run, "run_type", None))
            parse_param_date("as_of", params.get("as_of"))  # fail now, not after the fit
        except ParamsError as exc:  # retrying cannot fix a parameter; the message says it all
            raise AirflowFailException(str(exc)) from None
        with writer(settings) as store:
            lines = ingest_request_stage(store, settings, request).lines
        for line in lines:
            log_summary(line)
        return lines

    @task(pool=WRITER_POOL)
    def embed(params: dict | None = None) -> str:
        from pipeline.runner import embed_stage, run_settings, writer
        from pipeline.tasklog import log_summary

        settings = run_settings(params or {})
        with writer(settings) as store:
            return log_summary(embed_stage(store, settings))

    @task(pool=WRITER_POOL)
    def topics(params: dict | None = None) -> str:
        from pipeline.runner import run_settings, topics_stage, writer
        from pipeline.tasklog import log_summary

        params = params or {}
        settings = run_settings(params)
        with writer(settings) as store:
            return log_summary(topics_stage(store, settings, full=bool(params.get("full_refit"))))

    @task(pool=WRITER_POOL)
    def analyze(params: dict | None = None) -> str:
        from pipeline.runner import analyze_stage, parse_param_date, run_settings, writer
        from pipeline.tasklog import log_summary

        params = params or {}
        settings = run_settings(params)
        as_of = parse_param_date("as_of", params.get("as_of"))
        with writer(settings) as store:
            return log_summary(analyze_stage(store, settings, as_of))

    @task(pool=WRITER_POOL, outlets=[SITE])
    def report(params: dict | None = None, outlet_events=None) -> str:
        from pipeline.airflow_plugin import output_extras
        from pipeline.runner import report_stage, run_settings, writer
        from pipeline.tasklog import log_summary

        settings = run_settings(params or {})
        with writer(settings) as store:
            line = log_summary(report_stage(store, settings))
        outlet_events[SITE].extra = output_extras(settings, "site")  # the run links its report
        return line

    @task(pool=WRITER_POOL, outlets=[PUBLISHED])
    def publish(params: dict | None = None, outlet_events=None) -> str:
        from pipeline.airflow_plugin import output_extras
        from pipeline.runner import publish_stage, run_settings, writer
        from pipeline.tasklog import log_summary

        settings = run_settings(params or {})
        with writer(settings) as store:
            line = log_summary(publish_stage(store, settings))
        outlet_events[PUBLISHED].extra = output_extras(settings, "database")
        return line

    ingest() >> embed() >> topics() >> analyze() >> report() >> publish()


research_trends()
