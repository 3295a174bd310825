"""trends_ingest: land the papers of each day, daily.

Ingests the papers **published in each run's data interval** (one UTC day) from the source
file into the working store. Scheduled and backfill runs are independent and idempotent (an
upsert per paper), so catching up or rerunning a day is safe; the DAG is created paused and
does not catch up by itself: unpause it for the daily schedule, or backfill a range with
`airflow backfill create --dag-id trends_ingest --from-date 2025-05-10 --to-date 2025-06-30`.

A manual run (**Trigger** in the UI) ingests the form's *source file*, *sample size* and
*date range*; an empty range means every date. Parameters are checked before anything is
written: a bad one fails the run at once, without retries, with a message naming it.

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
    date_range_params,
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
    params={"input_path": input_path_param(), "sample": sample_param(), **date_range_params()},
)
def trends_ingest() -> None:
    """Ingest one data interval (or the manual run's selection) of papers."""

    @task(pool=WRITER_POOL, outlets=[PAPERS])
    def ingest(
        params: dict | None = None,
        dag_run=None,
        data_interval_start: datetime | None = None,
        data_interval_end: datetime | None = None,
    ) -> list[str]:
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from pipeline.runner import (
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
            )
        except ParamsError as exc:  # retrying cannot fix a parameter
            raise AirflowFailException(str(exc)) from exc
        with writer(settings) as store:
            outcome = ingest_request_stage(store, settings, request)
        print("\n".join(outcome.lines))
        if not outcome.changed:
            raise AirflowSkipException("no new or updated papers; downstream DAGs not started")
        return outcome.lines

    ingest()


trends_ingest()
