"""Stages as the CLI and the DAGs call them, and the whole pipeline in order.

Each ``*_stage`` function takes an open writer store and returns its one-line summary, so
`trends run` can hold the writer lock once for the whole run while a DAG task opens the store
for its single stage with :func:`writer`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipeline.config import Settings
from pipeline.embed import embed_new_papers, model_name
from pipeline.ingest import ingest_file
from pipeline.publish import publish_database
from pipeline.report.site import render_site
from pipeline.store import Store, open_writer
from pipeline.topics import current_topic_run, fit_and_store, place_new_papers
from pipeline.trends import build_marts

Say = Callable[[str], None]
EmbedProgress = Callable[[int, int], None]


@contextmanager
def writer(settings: Settings) -> Iterator[Store]:
    """The working database, migrated, with the writer lock held."""
    with open_writer(settings.work_db, settings.lock_file) as store:
        yield store


def ingest_stage(
    store: Store, settings: Settings, inputs: Sequence[Path] = (), sample: int | None = None
) -> list[str]:
    """Ingest each input file (default: the arXiv corpus in the data folder)."""
    paths = list(inputs) or [settings.default_corpus()]
    return [ingest_file(store, Path(p), sample=sample).line() for p in paths]


def embed_stage(store: Store, settings: Settings, progress: EmbedProgress | None = None) -> str:
    """Embed papers that have no current embedding."""
    return embed_new_papers(
        store, settings.embedding_backend, batch_size=settings.embed_batch_size, progress=progress
    ).line()


def topics_stage(store: Store, settings: Settings, *, full: bool = False) -> str:
    """Fit topics (full, or when no fit exists) or place new papers into the current fit."""
    model = model_name(settings.embedding_backend)
    if full or current_topic_run(store) is None:
        return fit_and_store(store, model, settings.seed).line()
    return place_new_papers(store, model).line()


def analyze_stage(store: Store, settings: Settings, as_of: date | None = None) -> str:
    """Rebuild the trend marts."""
    return build_marts(store, as_of).line()


def report_stage(store: Store, settings: Settings, out_dir: Path | None = None) -> str:
    """Render the static site (atomically swapped in)."""
    return render_site(store, out_dir or settings.site_dir).line()


def publish_stage(store: Store, settings: Settings) -> str:
    """Publish the read-only database copy."""
    return publish_database(store, settings.published_db).line()


@dataclass
class RunOptions:
    """Options of one pipeline run."""

    inputs: Sequence[Path] = ()
    sample: int | None = None
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
        for line in ingest_stage(store, settings, options.inputs, options.sample):
            note(line)
        note(embed_stage(store, settings, options.embed_progress))
        note(topics_stage(store, settings, full=options.full_refit))
        note(analyze_stage(store, settings, options.as_of))
        note(report_stage(store, settings))
        note(publish_stage(store, settings))
    return lines
