"""trends_report: trend marts, the static report, and the published database.

Runs when `trends_topics` updates the **`topics`** asset (or by hand, with an *as-of* date).

1. `analyze` (writer): rebuilds the SQL trend marts (shares with intervals, growth), as of the
   form's date or over every paper; updates the `trend_marts` asset.
2. `report` (writer): renders the static site into a fresh folder and swaps it in atomically;
   updates the `site` asset.
3. `publish` (writer): copies the working database to `$TRENDS_HOME/trends.duckdb` with an
   atomic rename; updates the `published_database` asset.

Readers of the published database and the site are never blocked: they only ever see a
complete old or a complete new version.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from trends_common import (
    DEFAULT_ARGS,
    MARTS,
    PUBLISHED,
    SITE,
    TAGS,
    TOPICS,
    WRITER_POOL,
    as_of_param,
)


@dag(
    dag_id="trends_report",
    schedule=TOPICS,
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    default_args=DEFAULT_ARGS,
    description=(
        "Rebuilds the trend marts, renders the report and publishes the read-only database. "
        "Starts after trends_topics; trigger it by hand to rebuild as of a date."
    ),
    tags=[*TAGS, "report"],
    doc_md=__doc__,
    params={"as_of": as_of_param()},
)
def trends_report() -> None:
    """Analyze, render and publish."""

    @task(pool=WRITER_POOL, outlets=[MARTS])
    def analyze(params: dict | None = None) -> str:
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline.runner import ParamsError, analyze_stage, parse_param_date, writer
        from pipeline.tasklog import log_summary

        params = params or {}
        try:
            as_of = parse_param_date("as_of", params.get("as_of"))
        except ParamsError as exc:  # retrying cannot fix a parameter; the message says it all
            raise AirflowFailException(str(exc)) from None
        settings = _settings()
        with writer(settings) as store:
            return log_summary(analyze_stage(store, settings, as_of))

    @task(pool=WRITER_POOL, outlets=[SITE])
    def report(outlet_events=None) -> str:
        from pipeline.airflow_plugin import output_extras
        from pipeline.runner import report_stage, writer
        from pipeline.tasklog import log_summary

        settings = _settings()
        with writer(settings) as store:
            line = log_summary(report_stage(store, settings))
        outlet_events[SITE].extra = output_extras(settings, "site")  # the run links its report
        return line

    @task(pool=WRITER_POOL, outlets=[PUBLISHED])
    def publish(outlet_events=None) -> str:
        from pipeline.airflow_plugin import output_extras
        from pipeline.runner import publish_stage, writer
        from pipeline.tasklog import log_summary

        settings = _settings()
        with writer(settings) as store:
            line = log_summary(publish_stage(store, settings))
        outlet_events[PUBLISHED].extra = output_extras(settings, "database")
        return line

    analyze() >> report() >> publish()


def _settings():
    from pipeline.config import load_settings

    return load_settings()


trends_report()
