"""trends_ingest: land each day's new papers, daily.

**Scheduled runs harvest the daily arXiv feed**: new and changed papers over OAI-PMH
(`TRENDS_OAI_URL`, set `TRENDS_OAI_SET`, default `cs`), from the stream's stored watermark
(the last datestamp a complete harvest reached), so a late or missed day is caught up by the
next run and a rerun adds nothing. The first harvest of a stream starts at its run's data
interval. A harvest that stops midway resumes at its last stored page when run again.

A manual run (**Trigger** in the UI) reads what the form names. *Source* picks it: `file` (the
default for manual runs: the *source file*, Parquet, JSON Lines or CSV, with an optional
*sample size* and *published* range), `oai` or `arxiv` (the arXiv API; needs *categories*)
from the watermark or the form's date range, `kaggle` (the Kaggle arXiv snapshot named as
*source file*) or `page` (a pasted trending-papers page). A backfill run with source `file`
ingests the papers published in its data interval; with `oai` it asks for that interval.
Parameters are checked before anything is written: a bad one fails the run at once, without
retries, with a message naming it. Every ingest commits page by page and resumes after a crash.

When papers were added or changed, the task updates the `papers` asset, which starts
`trends_topics`; a run that changed nothing is marked *skipped* and starts nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import CronDataIntervalTimetable, dag, task
from trends_common import (
    DEFAULT_ARGS,
    PAPERS,
    TAGS,
    WRITER_POOL,
    categories_param,
    date_range_params,
    ingest_source_param,
    input_path_param,
    sample_param,
)


@dag(
    dag_id="trends_ingest",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2025, 5, 10, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    description="Daily: lands each day's papers (by hand: a file, sample, dates); starts topics.",
    tags=[*TAGS, "ingest"],
    doc_md=__doc__,
    params={
        "source": ingest_source_param(),
        "input_path": input_path_param(),
        "sample": sample_param(),
        **date_range_params(),
        "categories": categories_param(),
    },
)
def trends_ingest() -> None:
    """Ingest the day's new papers from the feed (or the manual run's selection)."""

    @task(pool=WRITER_POOL, outlets=[PAPERS])
    def ingest(
        params: dict | None = None,
        dag_run=None,
        data_interval_start: datetime | None = None,
        data_interval_end: datetime | None = None,
    ) -> list[str]:
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from pipeline.runner import (
            IngestSource,
            ParamsError,
            ingest_request,
            ingest_request_stage,
            run_settings,
            writer,
        )

        params = params or {}
        try:
            settings = run_settings(params)
            request = ingest_request(
                settings,
                params,
                run_type=getattr(dag_run, "run_type", None),
                interval_start=data_interval_start,
                interval_end=data_interval_end,
                scheduled_source=IngestSource.oai,
            )
        except ParamsError as exc:  # retrying cannot fix a parameter
            raise AirflowFailException(str(exc)) from exc
        with writer(settings) as store:
            outcome = ingest_request_stage(store, settings, request, say=print)
        print("\n".join(outcome.lines))
        if not outcome.changed:
            raise AirflowSkipException("no new or updated papers; downstream DAGs not started")
        return outcome.lines

    ingest()


trends_ingest()
