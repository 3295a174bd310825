"""The stage commands: init, embed, topics, analyze, report, publish, and run (all in order)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.app import (
    BackendOpt,
    FromOpt,
    PerPeriodOpt,
    ToOpt,
    WordsOpt,
    app,
    console,
    ctx,
    embed_callback,
    out,
    parse_date,
    progress_bar,
    with_backend,
)
from pipeline.cli.guard import guarded
from pipeline.config import Decisions, ReportGrain


@app.command()
@guarded
def init() -> None:
    """Create or migrate the working database."""
    from pipeline.runner import writer

    s = ctx.settings
    with writer(s) as store:
        out.print(f"init: {s.work_db} at schema version {store.schema_version()}")


@app.command()
@guarded
def embed(
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Documents per model batch.")
    ] = None,
    backend: BackendOpt = None,
) -> None:
    """Embed papers that have no current embedding (new or edited ones)."""
    from pipeline.runner import embed_stage, writer

    s = with_backend(ctx.settings, backend)
    if batch_size:
        s = s.model_copy(update={"embed_batch_size": batch_size})
    with writer(s) as store, progress_bar() as progress:
        line = embed_stage(store, s, embed_callback(progress))
    out.print(line)


@app.command()
@guarded
def topics(
    full: Annotated[
        bool,
        typer.Option(
            "--full/--update", help="Refit all topics, or place new papers into the current fit."
        ),
    ] = False,
    words: WordsOpt = None,
    fit_budget: Annotated[
        int | None,
        typer.Option(
            min=20,
            help="Papers a full fit clusters at most; past it a period-balanced sample "
            "(env TRENDS_FIT_BUDGET).",
        ),
    ] = None,
) -> None:
    """Fit topics, or place new papers into the current topics (the default)."""
    from pipeline.runner import topics_stage, writer

    s = with_backend(ctx.settings, None, words)
    with writer(s) as store, console.status("fitting topics" if full else "placing new papers"):
        line = topics_stage(store, s, full=full, fit_budget=fit_budget)
    out.print(line)


@app.command()
@guarded
def analyze(
    as_of: Annotated[
        str | None,
        typer.Option(help="Use only papers published on or before this date (YYYY-MM-DD)."),
    ] = None,
    decisions: Annotated[
        Decisions | None,
        typer.Option(
            help="Papers the marts count: accepted (and no review outcome, e.g. arXiv) or all"
            " (env TRENDS_DECISIONS).",
        ),
    ] = None,
) -> None:
    """Score papers against the themes, then build the trend marts in SQL (docs/trends.md)."""
    from pipeline.runner import analyze_stage, writer

    s = ctx.settings
    if decisions is not None:
        s = s.model_copy(update={"decisions": decisions})
    with writer(s) as store:
        out.print(analyze_stage(store, s, parse_date(as_of)))


@app.command()
@guarded
def report(
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Site folder (default: $TRENDS_HOME/site).")
    ] = None,
    grain: Annotated[
        ReportGrain | None,
        typer.Option(
            help="Grain of the recent view: month, quarter or year (TRENDS_REPORT_GRAIN)."
        ),
    ] = None,
    since: Annotated[
        int | None,
        typer.Option(
            min=1900, max=2100, help="Year the long view's growth starts (TRENDS_REPORT_SINCE)."
        ),
    ] = None,
) -> None:
    """Render the static HTML site: the long view (years) first, then the recent view."""
    from pipeline.runner import report_stage, writer

    update = {"report_grain": grain, "report_since": since}
    s = ctx.settings.model_copy(update={k: v for k, v in update.items() if v is not None})
    with writer(s) as store, console.status("rendering report"):
        line = report_stage(store, s, out_dir)
    out.print(line)


@app.command()
@guarded
def publish() -> None:
    """Publish a read-only copy of the working database for readers."""
    from pipeline.runner import publish_stage, writer

    s = ctx.settings
    with writer(s) as store:
        out.print(publish_stage(store, s))


@app.command()
@guarded
def run(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(help="Files to ingest (default: the arXiv 2025 corpus in TRENDS_DATA_DIR)."),
    ] = None,
    sample: Annotated[
        int | None, typer.Option(min=20, help="Deterministic sample of N papers per input.")
    ] = None,
    sample_per_period: PerPeriodOpt = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="Refit topics even if a fit exists.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option(help="Build the marts as of this date (YYYY-MM-DD).")
    ] = None,
    backend: BackendOpt = None,
    words: WordsOpt = None,
) -> None:
    """Run every stage in order: ingest, embed, topics, analyze, report, publish."""
    from pipeline.runner import RunOptions, run_pipeline

    started = time.perf_counter()
    with progress_bar() as progress:
        options = RunOptions(
            inputs=inputs or [],
            sample=sample,
            sample_per_period=sample_per_period,
            published_from=parse_date(date_from),
            published_to=parse_date(date_to),
            full_refit=full,
            as_of=parse_date(as_of),
            embed_progress=embed_callback(progress),
        )
        run_pipeline(with_backend(ctx.settings, backend, words), options, say=out.print)
    index = ctx.settings.site_dir / "index.html"
    out.print(f"run: done in {time.perf_counter() - started:.1f}s; open {index}")
