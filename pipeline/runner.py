"""Stages as the CLI and the DAGs call them, and the whole pipeline in order.

Each ``*_stage`` function takes an open writer store and returns its one-line summary, so
`trends run` can hold the writer lock once for the whole run while a DAG task opens the store
for its single stage with :func:`writer`. The sharded embedding stage (plan, embed shards
without the store, load once) and the validation of DAG run parameters are here too, so that
DAG tasks stay one call each.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipeline.config import EmbeddingBackend, Settings, TopicRepresentation, load_settings
from pipeline.embed import (
    ShardPlan,
    ShardSummary,
    embed_new_papers,
    embed_shard,
    load_embedding_shards,
    plan_embedding_shards,
)
from pipeline.embedders import MODEL_NAMES, Embedder, make_embedder, model_name
from pipeline.faults import in_stage
from pipeline.ingest import IngestSummary
from pipeline.ingest_request import INTERVAL_RUN_TYPES as INTERVAL_RUN_TYPES
from pipeline.ingest_request import IngestRequest, ParamsError, Progress, run_ingest, run_type_name
from pipeline.ingest_request import IngestSource as IngestSource
from pipeline.ingest_request import ingest_request as ingest_request
from pipeline.ingest_request import parse_param_date as parse_param_date
from pipeline.ingest_request import resolve_input as resolve_input
from pipeline.publish import publish_database
from pipeline.report.site import ReportOptions, render_site
from pipeline.store import Store, open_writer
from pipeline.themes import Theme, assign_themes, load_themes
from pipeline.topics.persistence import current_topic_run, embedded_count, fit_model
from pipeline.topics.sampling import SampleRule
from pipeline.topics.stage import fit_and_store, place_new_papers
from pipeline.trends import MartRules, build_marts

Say = Callable[[str], None]
EmbedProgress = Callable[[int, int], None]


@contextmanager
def naming_path(path: Path) -> Iterator[None]:
    """Name ``path`` in an OSError of the block that names no file (a full disk, say).

    ``write()`` on a full disk raises ``[Errno 28]`` without a file name; the CLI's one-line
    error (pipeline/cli/guard.py) then says which output could not be written.
    """
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            exc.filename = str(path)
        raise


def read_themes(path: Path) -> list[Theme]:
    """:func:`~pipeline.themes.load_themes`, with every way the file can fail naming the file.

    A folder, unreadable bytes, or nesting deeper than the TOML parser can recurse (a hostile
    file of 50,000 ``[`` raised RecursionError) become a :class:`ValueError` that names it.
    """
    try:
        with naming_path(path):
            return load_themes(path)
    except IsADirectoryError:
        raise ValueError(f"themes file {path} is a folder, not a TOML file") from None
    except RecursionError:
        raise ValueError(f"themes file {path} is nested too deeply to read as TOML") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"themes file {path} is not valid TOML: {exc}") from None


@contextmanager
def writer(settings: Settings) -> Iterator[Store]:
    """The working database, migrated, with the writer lock held."""
    with open_writer(
        settings.work_db, settings.lock_file, memory_limit=settings.duckdb_memory_limit
    ) as store:
        yield store


class BackendMismatchError(ValueError):
    """An explicitly set embedding backend is not the one the current topic fit was made with."""


def fit_settings(store: Store, settings: Settings, *, strict: bool = True) -> Settings:
    """The settings with the current topic fit's embedding backend: one source of truth.

    After a fit, the stages that read its vectors (embed, update, analyze, report) use the
    backend that made it (``topic_runs.model``) unless one was set explicitly (flag,
    environment or DAG parameter). An explicit backend that differs is an error when
    ``strict`` (themes scored with other vectors would silently shrink every denominator);
    embedding with it is allowed (``strict=False``), ahead of a refit on that backend.
    """
    current = current_topic_run(store)
    if current is None:
        return settings
    model = fit_model(store, current)
    backend = next((b for b, name in MODEL_NAMES.items() if name == model), None)
    if backend is None:
        raise BackendMismatchError(
            f"the current topic fit {current} was made with {model}, which no embedding backend"
            " makes: refit with `trends topics --full`"
        )
    if backend == settings.embedding_backend:
        return settings
    if "embedding_backend" in settings.model_fields_set:
        if not strict:
            return settings
        raise BackendMismatchError(
            f"embedding backend {settings.embedding_backend.value} was set, but the current"
            f" topic fit {current} was made with {backend.value} ({model}): unset it to use"
            f" the fit's backend, or refit with `trends topics --full --backend"
            f" {settings.embedding_backend.value}`"
        )
    return settings.model_copy(update={"embedding_backend": backend})


@in_stage("ingest")
def ingest_stage(
    store: Store,
    settings: Settings,
    inputs: Sequence[Path] = (),
    sample: int | None = None,
    *,
    sample_per_period: int | None = None,
    published_from: date | None = None,
    published_to: date | None = None,
) -> list[str]:
    """Ingest each input file (default: the arXiv corpus in the data folder)."""
    request = IngestRequest(
        inputs=[Path(p) for p in inputs] or [settings.default_corpus()],
        sample=sample,
        sample_per_period=sample_per_period,
        published_from=published_from,
        published_to=published_to,
    )
    return [s.line() for s in run_ingest(store, settings, request)]


@in_stage("embed")
def embed_stage(store: Store, settings: Settings, progress: EmbedProgress | None = None) -> str:
    """Embed papers that have no current embedding (with the fit's backend unless one is set)."""
    settings = fit_settings(store, settings, strict=False)
    return embed_new_papers(
        store, settings.embedding_backend, batch_size=settings.embed_batch_size, progress=progress
    ).line()


@in_stage("topics")
def topics_stage(
    store: Store, settings: Settings, *, full: bool = False, fit_budget: int | None = None
) -> str:
    """Fit topics (full, or when no fit exists) or place new papers into the current fit.

    A refit uses the fit's backend unless one is set; an update always uses the fit's. A fit
    clusters at most ``fit_budget`` papers (default: the setting ``fit_budget``, env
    ``TRENDS_FIT_BUDGET``), a period-balanced sample past it (pipeline/topics/sampling.py).
    """
    settings = fit_settings(store, settings, strict=not full)
    backend = settings.embedding_backend
    model = model_name(backend)
    current = current_topic_run(store)

    def embedder() -> Embedder:  # for words, when the representation embeds them
        return make_embedder(backend, settings.embed_batch_size)

    if full or current is None:
        return fit_and_store(
            store,
            model,
            settings.seed,
            representation=settings.topic_representation.value,
            embedder=embedder,
            sample=SampleRule(fit_budget or settings.fit_budget),
        ).line()
    # fit_settings made the backend the fit's (vectors of another backend cannot be placed
    # into this fit's centroids) or refused an explicit other one.
    return place_new_papers(store, model, embedder).line()


@in_stage("analyze")
def analyze_stage(store: Store, settings: Settings, as_of: date | None = None) -> str:
    """Score papers against the themes file with the fit's vectors, then rebuild the marts.

    The themes' denominators are the papers embedded with the fit's model, the same papers
    the topic shares count; an explicitly set other backend is refused.
    """
    themes_file = read_themes(settings.themes_file)  # a bad file fails before any work
    settings = fit_settings(store, settings)
    backend = settings.embedding_backend
    themes = assign_themes(
        store,
        themes_file,
        model_name(backend),
        lambda: make_embedder(backend, settings.embed_batch_size),
    )
    marts = build_marts(store, as_of, MartRules(decisions=settings.decisions))
    return f"{themes.line()}; {marts.line()}"


@in_stage("report")
def report_stage(store: Store, settings: Settings, out_dir: Path | None = None) -> str:
    """Render the static site (atomically swapped in) with the report settings.

    It reads only the marts (which analyze built with the fit's backend), so it needs no
    backend; one set explicitly that is not the fit's is refused, as in analyze.
    """
    if "embedding_backend" in settings.model_fields_set:
        fit_settings(store, settings)
    options = ReportOptions(
        grain=settings.report_grain.value,
        since=settings.report_since,
        search_chunk=settings.report_search_chunk,
    )
    out_dir = out_dir or settings.site_dir
    with naming_path(out_dir):
        return render_site(store, out_dir, options).line()


@in_stage("publish")
def publish_stage(store: Store, settings: Settings) -> str:
    """Publish the read-only database copy."""
    with naming_path(settings.published_db):
        return publish_database(store, settings.published_db).line()


@dataclass
class RunOptions:
    """Options of one pipeline run."""

    inputs: Sequence[Path] = ()
    sample: int | None = None
    sample_per_period: int | None = None
    published_from: date | None = None
    published_to: date | None = None
    full_refit: bool = False
    as_of: date | None = None
    embed_progress: EmbedProgress | None = None


def run_pipeline(settings: Settings, options: RunOptions, say: Say = print) -> list[str]:
    """Every stage in order under one writer lock; returns the summary lines."""
    lines: list[str] = []

    def note(line: str) -> None:
        lines.append(line)
        say(line)

    with writer(settings) as store:
        for line in ingest_stage(
            store,
            settings,
            options.inputs,
            options.sample,
            sample_per_period=options.sample_per_period,
            published_from=options.published_from,
            published_to=options.published_to,
        ):
            note(line)
        note(embed_stage(store, settings, options.embed_progress))
        note(topics_stage(store, settings, full=options.full_refit))
        note(analyze_stage(store, settings, options.as_of))
        note(report_stage(store, settings))
        note(publish_stage(store, settings))
    return lines


# -- ingest: one typed request for every source (pipeline/ingest_request.py) --------------------


@dataclass(frozen=True)
class IngestOutcome:
    """Summary lines of an ingest run and how many papers it added or changed."""

    lines: list[str]
    changed: int
    summaries: list[IngestSummary] = field(default_factory=list)


@in_stage("ingest")
def ingest_request_stage(
    store: Store,
    settings: Settings,
    request: IngestRequest,
    *,
    progress: Progress | None = None,
    say: Say | None = None,
) -> IngestOutcome:
    """Ingest what a request names (any source); ``changed`` counts new and updated papers."""
    summaries = run_ingest(store, settings, request, progress=progress, say=say)
    return IngestOutcome(
        [request.line(), *(s.line() for s in summaries)],
        sum(s.new + s.updated for s in summaries),
        summaries,
    )


def run_settings(params: Mapping[str, object]) -> Settings:
    """Settings of a DAG run: the environment's, with the run's backend and topic words if given."""
    chosen = {}
    for name, kind in (
        ("embedding_backend", EmbeddingBackend),
        ("topic_representation", TopicRepresentation),
    ):
        value = params.get(name) or None
        if value is not None and value not in {k.value for k in kind}:
            known = ", ".join(k.value for k in kind)
            raise ParamsError(f"{name}: {value!r} is not one of {known}")
        chosen[name] = value
    return load_settings(**chosen)


def wants_full_refit(full_refit: object, run_type: object) -> bool:
    """Refit topics when asked to, and on time-scheduled runs (the periodic refit)."""
    return bool(full_refit) or run_type_name(run_type) == "scheduled"


class NothingToDoError(Exception):
    """A stage has nothing to work on yet; a DAG marks the task skipped, which starts nothing."""


def topics_when_ready_stage(store: Store, settings: Settings, *, full: bool = False) -> str:
    """:func:`topics_stage`, or :class:`NothingToDoError` while no paper is embedded.

    A periodic refit on a store that has not ingested anything yet is not a failure.
    """
    model = model_name(fit_settings(store, settings, strict=not full).embedding_backend)
    if not embedded_count(store, model):
        raise NothingToDoError(f"no papers embedded with {model} yet; nothing to fit")
    return topics_stage(store, settings, full=full)


# -- sharded embedding: plan (brief lock) -> shards (no store) -> load (one writer) ---------------
# Every shard loads the model, which costs about as much as embedding a few hundred abstracts.
MIN_SHARD_PAPERS = 256


def shard_root(settings: Settings) -> Path:
    """Folder of the embedding shards of the run in progress."""
    return settings.home / "work" / "shards"


def plan_embed_stage(
    store: Store,
    settings: Settings,
    run_id: str,
    shards: int,
    *,
    min_papers: int | None = None,
) -> ShardPlan:
    """Write the papers to embed into at most ``shards`` todo files (the only store read).

    Shards hold at least ``min_papers`` papers (default :data:`MIN_SHARD_PAPERS`), so a small
    update is one shard.
    Leftovers of earlier, failed runs are removed first: one topics run is active at a time.
    """
    root = shard_root(settings)
    shutil.rmtree(root, ignore_errors=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)[:120] or "run"
    return plan_embedding_shards(
        store,
        settings.embedding_backend,
        root / safe,
        shards,
        min_papers=min_papers or MIN_SHARD_PAPERS,
    )


def embed_shard_stage(settings: Settings, todo_file: str | Path) -> ShardSummary:
    """Embed one todo shard into a vectors shard beside it, without opening the store."""
    return embed_shard(
        Path(todo_file), settings.embedding_backend, batch_size=settings.embed_batch_size
    )


def load_embed_shards_stage(
    store: Store, settings: Settings, vector_files: Sequence[str | Path]
) -> str:
    """Load the vectors shards in one transaction, then delete the shard folders."""
    paths = [Path(p) for p in vector_files]
    summary = load_embedding_shards(store, paths)
    for folder in {p.parent for p in paths}:
        shutil.rmtree(folder, ignore_errors=True)
    return summary.line()
