"""`trends ingest file|arxiv|oai|kaggle|page`: one typed request each, run through the runner."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from pipeline.cli.app import (
    FromOpt,
    PerPeriodOpt,
    ToOpt,
    console,
    ctx,
    ingest_app,
    out,
    parse_date,
    progress_bar,
)
from pipeline.cli.guard import guarded
from pipeline.config import Settings
from pipeline.sources.files import DEFAULT_CHUNK_ROWS as FILE_CHUNK_ROWS
from pipeline.sources.kaggle import DEFAULT_CHUNK_LINES as KAGGLE_CHUNK_LINES

OAI_URL = Settings.model_fields["oai_url"].default
API_URL = Settings.model_fields["arxiv_api_url"].default
PauseOpt = Annotated[
    float | None,
    typer.Option(min=0, help="Seconds between requests (env TRENDS_FETCH_PAUSE; arXiv asks 3)."),
]
TimeoutOpt = Annotated[float, typer.Option(min=1, help="Seconds to wait for a response.")]
FullOpt = Annotated[
    bool, typer.Option("--full", help="Ignore the watermark of earlier runs (start from scratch).")
]


def _run_ingest(request, progress_update=None) -> None:
    """Run one ingest request through the runner and print each input's summary line."""
    from pipeline.runner import ingest_request_stage, writer

    s = ctx.settings
    with writer(s) as store, progress_bar() as progress:
        outcome = ingest_request_stage(
            store,
            s,
            request,
            progress=progress_update(progress) if progress_update else None,
            say=console.print,
        )
    for summary in outcome.summaries:
        out.print(summary.line())


def _rate_callback(progress: Progress, label: str, unit: str, scale: float = 1.0):
    """Progress callback ``(done, total)`` that shows a rate in ``unit``/s."""
    state: dict = {}

    def update(done: int, total: int | None) -> None:
        if "task" not in state:
            state["task"] = progress.add_task(label, total=None, rate="")
            state["t0"] = time.perf_counter()
        rate = done / scale / max(time.perf_counter() - state["t0"], 1e-9)
        progress.update(
            state["task"],
            completed=round(done / scale),
            total=None if total is None else round(total / scale),
            rate=f"{rate:,.1f} {unit}/s",
        )

    return update


def _fetch_policy(pause: float | None, timeout: float, retries: int):
    from pipeline.sources.fetch import FetchPolicy

    pause = ctx.settings.fetch_pause if pause is None else pause
    return FetchPolicy(pause=pause, timeout=timeout, attempts=retries + 1)


@ingest_app.command("file")
@guarded
def ingest_file_cmd(
    path: Annotated[Path, typer.Argument(help="Parquet, JSON Lines or CSV file of papers.")],
    source: Annotated[
        str | None,
        typer.Option(help="Source name (default: arxiv for arXiv ids, else the file name)."),
    ] = None,
    sample: Annotated[
        int | None, typer.Option(min=1, help="Keep a deterministic sample of N papers.")
    ] = None,
    sample_per_period: PerPeriodOpt = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="Column map TARGET=THEIRS, e.g. abstract=summary."),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option(min=1, help="Records read, validated and stored per transaction.")
    ] = FILE_CHUNK_ROWS,
) -> None:
    """Ingest a Parquet, JSON Lines or CSV file of papers (streamed in chunks, resumable)."""
    from pipeline.runner import IngestRequest

    column_map = {}
    for item in map_ or []:
        target, sep, theirs = item.partition("=")
        if not sep or not target or not theirs:
            raise typer.BadParameter(f"--map {item!r}: expected TARGET=COLUMN")
        column_map[target.strip()] = theirs.strip()
    request = IngestRequest(
        inputs=[path],
        sample=sample,
        sample_per_period=sample_per_period,
        published_from=parse_date(date_from),
        published_to=parse_date(date_to),
        source_name=source,
        column_map=column_map or None,
        chunk_rows=chunk_rows,
    )
    _run_ingest(request, lambda p: _rate_callback(p, "file", "records"))


@ingest_app.command("arxiv")
@guarded
def ingest_arxiv_cmd(
    category: Annotated[
        list[str],
        typer.Option("--category", "-c", help="arXiv category (repeatable), e.g. cs.AI or cs."),
    ],
    url: Annotated[
        str | None,
        typer.Option(help=f"arXiv API endpoint (env TRENDS_ARXIV_API_URL; default {API_URL})."),
    ] = None,
    date_from: Annotated[
        str | None,
        typer.Option("--from", help="Submitted on or after (YYYY-MM-DD; default: watermark)."),
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Submitted on or before (YYYY-MM-DD).")
    ] = None,
    full: FullOpt = False,
    page_size: Annotated[
        int, typer.Option(min=1, max=2000, help="Results per request (the API allows 2,000).")
    ] = 1000,
    pause: PauseOpt = None,
    timeout: TimeoutOpt = 60.0,
    retries: Annotated[int, typer.Option(min=0, help="Retries on timeouts and 5xx.")] = 5,
) -> None:
    """Search the arXiv API by categories and submission dates, page by page (resumable)."""
    from pipeline.runner import IngestRequest, IngestSource

    request = IngestRequest(
        source=IngestSource.arxiv,
        url=url or ctx.settings.arxiv_api_url,
        categories=tuple(category),
        published_from=parse_date(date_from),
        published_to=parse_date(date_to),
        full=full,
        page_size=page_size,
        fetch=_fetch_policy(pause, timeout, retries),
    )
    _run_ingest(request, lambda p: _rate_callback(p, "arxiv api", "papers"))


@ingest_app.command("oai")
@guarded
def ingest_oai_cmd(
    url: Annotated[
        str | None, typer.Option(help=f"OAI-PMH base URL (env TRENDS_OAI_URL; default {OAI_URL}).")
    ] = None,
    set_spec: Annotated[
        str | None,
        typer.Option("--set", help="OAI set, e.g. cs or physics:hep-th (default: all sets)."),
    ] = None,
    date_from: Annotated[
        str | None,
        typer.Option("--from", help="Datestamp on or after (YYYY-MM-DD; default: watermark)."),
    ] = None,
    date_until: Annotated[
        str | None, typer.Option("--until", help="Datestamp on or before (YYYY-MM-DD).")
    ] = None,
    full: FullOpt = False,
    pause: PauseOpt = None,
    timeout: TimeoutOpt = 120.0,
    retries: Annotated[
        int, typer.Option(min=0, help="Retries on timeouts, 5xx and 503 Retry-After.")
    ] = 8,
) -> None:
    """Harvest arXiv metadata over OAI-PMH (ListRecords), resumable from the last page."""
    from pipeline.runner import IngestRequest, IngestSource

    request = IngestRequest(
        source=IngestSource.oai,
        url=url or ctx.settings.oai_url,
        set_spec=set_spec,
        published_from=parse_date(date_from),
        published_to=parse_date(date_until),
        full=full,
        fetch=_fetch_policy(pause, timeout, retries),
    )
    _run_ingest(request, lambda p: _rate_callback(p, "oai-pmh", "records"))


@ingest_app.command("kaggle")
@guarded
def ingest_kaggle_cmd(
    path: Annotated[Path, typer.Argument(help="arxiv-metadata-oai-snapshot.json (JSON Lines).")],
    category: Annotated[
        list[str] | None,
        typer.Option("--category", "-c", help="Keep papers in this category (repeatable)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Keep papers updated on or after (YYYY-MM-DD; default: watermark)."),
    ] = None,
    full: FullOpt = False,
    chunk_lines: Annotated[
        int, typer.Option(min=1, help="Lines read, validated and stored per transaction.")
    ] = KAGGLE_CHUNK_LINES,
) -> None:
    """Stream the Kaggle arXiv snapshot in chunks (bounded memory, resumable)."""
    from pipeline.runner import IngestRequest, IngestSource

    request = IngestRequest(
        source=IngestSource.kaggle,
        inputs=[path],
        categories=tuple(category or ()),
        published_from=parse_date(since),
        full=full,
        chunk_rows=chunk_lines,
    )
    _run_ingest(request, lambda p: _rate_callback(p, "kaggle (MB)", "MB", scale=1e6))


@ingest_app.command("page")
@guarded
def ingest_page_cmd(
    path: Annotated[Path, typer.Argument(help="Text of a pasted trending-papers page.")],
    source: Annotated[str, typer.Option(help="Source name of the papers.")] = "page",
) -> None:
    """Ingest a pasted page: title line, blank line, abstract paragraph, repeated (no dates)."""
    from pipeline.runner import IngestRequest, IngestSource

    _run_ingest(IngestRequest(source=IngestSource.page, inputs=[path], source_name=source))
