"""trends_topics: embed new papers in shards, then update or refit the topics.

Runs when `trends_ingest` (or anything else) updates the **`papers`** asset, and every Sunday
at 03:00 UTC for a full refit (skipped while nothing is embedded yet).

1. `plan_embeddings` (writer, brief): lists the papers without a current embedding into
   Parquet todo shards (`$TRENDS_HOME/work/shards/`), the only store access before the load.
2. `embed_shard` (mapped, one task per shard, no store access, Celery queue `embed`):
   embeds its shard into a vectors shard. The form's *embedding shards* caps their number;
   each shard gets at least *papers per shard* (256), so a small update is one shard. Shards
   run in parallel, on LocalExecutor slots here or on Celery/Kubernetes workers that share
   `$TRENDS_HOME` (`make airflow-celery`, docs/scaling.md).
3. `load_embeddings` (writer): loads every vectors shard in one transaction; updates the
   `paper_embeddings` asset.
4. `topics` (writer): places the new papers into the current topics, or refits BERTopic from
   scratch on the weekly schedule, when *full refit* is ticked, or when there is no fit yet;
   updates the `topics` asset, which starts `trends_report`. *Topic words* chooses how a
   refit picks each topic's words (c-TF-IDF ranking, or MMR for fewer near-synonyms).

Writer tasks share the one-slot `trends_writer` pool with the other DAGs.
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task
from trends_common import (
    DEFAULT_ARGS,
    EMBED_QUEUE,
    EMBEDDINGS,
    PAPERS,
    TAGS,
    TOPICS,
    WRITER_POOL,
    embed_shard_papers_param,
    embed_shards_param,
    embedding_backend_param,
    full_refit_param,
    topic_representation_param,
)


@dag(
    dag_id="trends_topics",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 3 * * 0", timezone="UTC"), assets=PAPERS
    ),
    # no start_date: the weekly refit waits for its next tick instead of running the last one
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    default_args=DEFAULT_ARGS,
    description=(
        "Embeds new papers in parallel shards, then places them into the topics (a full refit "
        "weekly or on request). Starts by itself when trends_ingest adds papers."
    ),
    tags=[*TAGS, "topics"],
    doc_md=__doc__,
    params={
        "full_refit": full_refit_param(),
        "embedding_backend": embedding_backend_param(),
        "topic_representation": topic_representation_param(),
        "embed_shards": embed_shards_param(),
        "embed_shard_papers": embed_shard_papers_param(),
    },
)
def trends_topics() -> None:
    """Embed papers in shards, load them, then fit or update the topics."""

    @task(pool=WRITER_POOL)
    def plan_embeddings(params: dict | None = None, run_id: str | None = None) -> list[str]:
        from pipeline.runner import plan_embed_stage, run_settings, writer
        from pipeline.tasklog import log_summary

        params = params or {}
        settings = run_settings(params)
        with writer(settings) as store:
            plan = plan_embed_stage(
                store,
                settings,
                run_id or "manual",
                int(params.get("embed_shards") or 1),
                min_papers=params.get("embed_shard_papers"),  # None: MIN_SHARD_PAPERS
            )
        log_summary(plan.line())
        return [str(p) for p in plan.todo_files]

    @task(queue=EMBED_QUEUE, max_active_tis_per_dagrun=16)
    def embed_shard(todo_file: str, params: dict | None = None) -> str:
        from pipeline.runner import embed_shard_stage, run_settings
        from pipeline.tasklog import log_summary

        summary = embed_shard_stage(run_settings(params or {}), todo_file)
        log_summary(summary.line())
        return str(summary.path)

    @task(pool=WRITER_POOL, outlets=[EMBEDDINGS])
    def load_embeddings(vector_files: list[str], params: dict | None = None) -> str:
        from pipeline.runner import load_embed_shards_stage, run_settings, writer
        from pipeline.tasklog import log_summary

        settings = run_settings(params or {})
        with writer(settings) as store:
            return log_summary(load_embed_shards_stage(store, settings, list(vector_files)))

    @task(pool=WRITER_POOL, outlets=[TOPICS])
    def topics(params: dict | None = None, dag_run=None) -> str:
        from airflow.sdk.exceptions import AirflowSkipException

        from pipeline.runner import (
            NothingToDoError,
            run_settings,
            topics_when_ready_stage,
            wants_full_refit,
            writer,
        )
        from pipeline.tasklog import log_summary

        params = params or {}
        settings = run_settings(params)
        full = wants_full_refit(params.get("full_refit"), getattr(dag_run, "run_type", None))
        try:
            with writer(settings) as store:
                return log_summary(topics_when_ready_stage(store, settings, full=full))
        except NothingToDoError as exc:  # e.g. the weekly refit before any ingest
            raise AirflowSkipException(str(exc)) from exc

    todo = plan_embeddings()
    loaded = load_embeddings(embed_shard.expand(todo_file=todo))
    loaded >> topics()


trends_topics()
