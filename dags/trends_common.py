"""What the Research Trends DAGs share: assets, the writer pool, retry policy and run params.

Not a DAG itself. The assets are nouns of the store; a task that updates one lists it in its
``outlets`` and a downstream DAG names it in its ``schedule``. Params are defined once here so
that every DAG's trigger form shows the same fields with the same validation.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, Param, RetryDecision, RetryPolicy

from pipeline.config import EmbeddingBackend, TopicRepresentation, load_settings
from pipeline.notify import TrendsNotifier

GROUP = "research-trends"
PAPERS = Asset(name="papers", uri="trends://store/papers", group=GROUP)
EMBEDDINGS = Asset(name="paper_embeddings", uri="trends://store/paper_embeddings", group=GROUP)
TOPICS = Asset(name="topics", uri="trends://store/topics", group=GROUP)
MARTS = Asset(name="trend_marts", uri="trends://store/marts", group=GROUP)
SITE = Asset(name="site", uri="trends://site", group=GROUP)
PUBLISHED = Asset(name="published_database", uri="trends://published", group=GROUP)

# One slot: the tasks that open the working database for writing run one at a time across
# all DAGs (DuckDB allows one writer process). `make airflow` creates it.
WRITER_POOL = "trends_writer"

# The Celery queue of the mapped embedding shards (the heavy, parallel part): workers started
# with `--queues embed` take them, e.g. GPU machines; everything else goes to the default queue.
# Executors without queues (LocalExecutor) ignore it. `make airflow-celery` starts the workers.
EMBED_QUEUE = "embed"

TAGS = ["research-trends"]


class FailFast(RetryPolicy):
    """Retry only what a later try may fix; fail bad input, bad parameters and bugs at once.

    Transient failures (the writer lock held, I/O, the network) are retried with the tasks'
    exponential backoff; anything else fails now, and the log says why in one line
    (``pipeline.failures``).
    """

    def evaluate(self, exception, try_number, max_tries, context=None) -> RetryDecision:
        """Decide from the exception's class (see ``pipeline.failures.classify``)."""
        from pipeline.failures import classify

        failure = classify(exception)
        if failure.retry:
            return RetryDecision.retry(reason=f"{failure.line} [{failure.kind.describe()}]")
        return RetryDecision.fail(reason=f"{failure.line} [{failure.kind.describe()}]")


DEFAULT_ARGS = {
    "owner": "research-trends",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "retry_policy": FailFast(),
    # TRENDS_NOTIFY_* settings choose the targets (pipeline/notify.py); none: nothing sent
    "on_failure_callback": [TrendsNotifier("failed")],
    "on_success_callback": [TrendsNotifier("success")],
}


def input_path_param() -> Param:
    """The file to ingest."""
    return Param(
        None,
        type=["null", "string"],
        title="Source file",
        description=(
            "Parquet, JSON Lines or CSV file of papers; a relative path is read from "
            "TRENDS_DATA_DIR (e.g. conference_abstracts.parquet). Empty: the arXiv 2025 "
            "cs.AI corpus."
        ),
    )


def ingest_source_param() -> Param:
    """Which source an ingest reads; empty: the daily feed when scheduled, else the file."""
    return Param(
        None,
        type=["null", "string"],
        enum=[None, "file", "oai", "arxiv", "kaggle", "page"],
        title="Source",
        description=(
            "file: the source file (Parquet, JSON Lines, CSV). oai: new arXiv papers over "
            "OAI-PMH (TRENDS_OAI_URL) from the stored watermark. arxiv: the arXiv API search "
            "(TRENDS_ARXIV_API_URL; needs categories). kaggle: the Kaggle arXiv snapshot named "
            "as source file. page: a pasted trending-papers page named as source file. Empty: "
            "scheduled runs harvest oai (the daily feed), manual runs read the source file."
        ),
    )


def categories_param() -> Param:
    """The OAI set or the arXiv categories of a feed ingest."""
    return Param(
        None,
        type=["null", "string"],
        title="Set or categories",
        description=(
            "oai: the OAI set (e.g. cs, physics:hep-th; empty: TRENDS_OAI_SET). arxiv and "
            "kaggle: categories or archives, comma-separated (e.g. cs.AI, cs.LG or cs)."
        ),
    )


def sample_param(minimum: int = 1) -> Param:
    """A deterministic sample size."""
    return Param(
        None,
        type=["null", "integer"],
        minimum=minimum,
        title="Sample size",
        description=(
            f"Keep a deterministic sample of N papers (at least {minimum}); the same N always "
            "gives the same papers. Empty: all papers."
        ),
    )


def date_param(title: str, description: str) -> Param:
    """An optional date (YYYY-MM-DD), shown as a date picker."""
    return Param(None, type=["null", "string"], format="date", title=title, description=description)


def date_range_params() -> dict[str, Param]:
    """The published-date window of an ingest."""
    return {
        "date_from": date_param(
            "Published from",
            "Ingest papers published on or after this date (YYYY-MM-DD). Empty: scheduled "
            "runs use their data interval, manual runs every date.",
        ),
        "date_to": date_param(
            "Published to",
            "Ingest papers published on or before this date (YYYY-MM-DD), inclusive.",
        ),
    }


def full_refit_param() -> Param:
    """Refit topics from scratch instead of placing new papers."""
    return Param(
        False,
        type="boolean",
        title="Full refit",
        description=(
            "Refit topics from scratch (BERTopic on every embedded paper). Off: place new "
            "papers into the current topics; the first run always fits."
        ),
    )


def embedding_backend_param() -> Param:
    """The sentence-embedding backend, by default the settings' (``TRENDS_EMBEDDING_BACKEND``)."""
    return Param(
        load_settings().embedding_backend.value,
        type="string",
        enum=[b.value for b in EmbeddingBackend],
        title="Embedding backend",
        description="Sentence-embedding model the papers are embedded and clustered with.",
    )


def topic_representation_param() -> Param:
    """How topics choose their words, by default the settings' (``TRENDS_TOPIC_REPRESENTATION``)."""
    return Param(
        load_settings().topic_representation.value,
        type="string",
        enum=[r.value for r in TopicRepresentation],
        title="Topic words",
        description=(
            "ctfidf: each topic's ten most distinctive words (c-TF-IDF). mmr: fewer near-synonyms "
            "(maximal marginal relevance), at some cost in coherence. Applies to a full refit; "
            "updates follow the fit."
        ),
    )


def embed_shards_param() -> Param:
    """How many mapped tasks embed in parallel."""
    return Param(
        2,
        type="integer",
        minimum=1,
        maximum=64,
        title="Embedding shards",
        description=(
            "Split the papers to embed into this many Parquet shards, each embedded by its "
            "own mapped task (in parallel on LocalExecutor slots or Celery/Kubernetes workers)."
        ),
    )


def embed_shard_papers_param() -> Param:
    """The fewest papers a shard gets (each shard loads the model once)."""
    return Param(
        256,
        type="integer",
        minimum=1,
        maximum=1_000_000,
        title="Papers per shard (at least)",
        description=(
            "Each embedding shard gets at least this many papers, so that loading the model "
            "(about as costly as embedding a few hundred abstracts) pays off; fewer papers "
            "than shards x this make fewer shards."
        ),
    )


def as_of_param() -> Param:
    """The as-of date of the trend marts."""
    return date_param(
        "As of",
        "Build the trends from papers published on or before this date (YYYY-MM-DD); the "
        "month of the date counts as partial. Empty: every paper.",
    )
