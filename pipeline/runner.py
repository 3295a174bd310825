"""The whole pipeline in order, as `trends run` and the DAG's stages call it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipeline.config import Settings
from pipeline.embed import embed_new_papers, model_name
from pipeline.ingest import ingest_file
from pipeline.publish import publish_database
from pipeline.report.site import render_site
from pipeline.store import open_writer
from pipeline.topics import current_topic_run, fit_and_store, place_new_papers
from pipeline.trends import build_marts

Say = Callable[[str], None]


@dataclass
class RunOptions:
    """Options of one pipeline run."""

    inputs: Sequence[Path] = ()
    sample: int | None = None
    full_refit: bool = False
    as_of: date | None = None
    embed_progress: Callable[[int, int], None] | None = None
    lines: list[str] = field(default_factory=list)


def init_store(settings: Settings) -> list[str]:
    """Create or migrate the working database; return the migrations applied."""
    with open_writer(settings.work_db, settings.lock_file) as store:
        return [f"schema version {store.schema_version()}"]


def run_topics(settings: Settings, *, full: bool, seed: int | None = None):  # noqa: ANN201
    """Fit topics (full) or place new papers into the current fit (update, the default)."""
    model = model_name(settings.embedding_backend)
    with open_writer(settings.work_db, settings.lock_file) as store:
        if full or current_topic_run(store) is None:
            return fit_and_store(store, model, seed if seed is not None else settings.seed)
        return place_new_papers(store, model)


def run_pipeline(settings: Settings, options: RunOptions, say: Say = print) -> list[str]:
    """Ingest, embed, fit or update topics, analyze, report and publish, holding the lock once."""
    inputs = list(options.inputs) or [settings.default_corpus()]
    model = model_name(settings.embedding_backend)
    lines: list[str] = []

    def note(line: str) -> None:
        lines.append(line)
        say(line)

    with open_writer(settings.work_db, settings.lock_file) as store:
        for path in inputs:
            note(ingest_file(store, path, sample=options.sample).line())
        note(
            embed_new_papers(
                store, settings.embedding_backend, batch_size=settings.embed_batch_size,
                progress=options.embed_progress,
            ).line()
        )  # fmt: skip
        if options.full_refit or current_topic_run(store) is None:
            note(fit_and_store(store, model, settings.seed).line())
        else:
            note(place_new_papers(store, model).line())
        note(build_marts(store, options.as_of).line())
        note(render_site(store, settings.site_dir).line())
        note(publish_database(store, settings.published_db).line())
    return lines
