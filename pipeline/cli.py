"""The `trends` command: every stage by hand, the same functions the DAGs call."""

from __future__ import annotations

import json
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from pipeline.config import EmbeddingBackend, Settings, load_settings

app = typer.Typer(
    help="Research Trends: topics and trends of research abstracts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
ingest_app = typer.Typer(help="Ingest papers from a source.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
console = Console(stderr=True)
out = Console(soft_wrap=True)

HomeOpt = Annotated[Path | None, typer.Option("--home", help="State folder (env TRENDS_HOME).")]


class _Ctx:
    settings: Settings


_ctx = _Ctx()


@app.callback()
def main(
    home: HomeOpt = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Input data folder (env TRENDS_DATA_DIR).")
    ] = None,
    backend: Annotated[
        EmbeddingBackend | None, typer.Option("--backend", help="Embedding backend.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed of topic fits (env TRENDS_SEED).")
    ] = None,
) -> None:
    """Settings come from the environment (TRENDS_*); these options override them."""
    _ctx.settings = load_settings(
        home=home, data_dir=data_dir, embedding_backend=backend, seed=seed
    )


def _fail(exc: BaseException) -> None:
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(1)


def _guarded(fn):
    """Turn expected failures into one clear line and exit status 1."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from duckdb import Error as DuckDBError

        from pipeline.records import RecordError
        from pipeline.sources.files import SourceFormatError
        from pipeline.store import StoreLockedError

        try:
            return fn(*args, **kwargs)
        except (
            StoreLockedError,
            FileNotFoundError,
            SourceFormatError,
            RecordError,
            DuckDBError,
            ValueError,
        ) as exc:
            _fail(exc)

    return wrapper


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _embed_callback(progress: Progress):
    state: dict = {}

    def update(done: int, total: int) -> None:
        if "task" not in state:
            state["task"] = progress.add_task("embedding", total=total, rate="")
            state["t0"] = time.perf_counter()
        rate = done / max(time.perf_counter() - state["t0"], 1e-9)
        progress.update(state["task"], completed=done, rate=f"{rate:,.0f} docs/s")

    return update


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@app.command()
@_guarded
def init() -> None:
    """Create or migrate the working database."""
    from pipeline.runner import writer

    s = _ctx.settings
    with writer(s) as store:
        out.print(f"init: {s.work_db} at schema version {store.schema_version()}")


@ingest_app.command("file")
@_guarded
def ingest_file_cmd(
    path: Annotated[Path, typer.Argument(help="Parquet, JSON Lines or CSV file of papers.")],
    source: Annotated[
        str | None,
        typer.Option(help="Source name (default: arxiv for arXiv ids, else the file name)."),
    ] = None,
    sample: Annotated[
        int | None, typer.Option(min=1, help="Keep a deterministic sample of N papers.")
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="Column map TARGET=THEIRS, e.g. abstract=summary."),
    ] = None,
) -> None:
    """Ingest a Parquet, JSON Lines or CSV file of papers."""
    from pipeline.ingest import ingest_file
    from pipeline.runner import writer

    column_map = {}
    for item in map_ or []:
        target, sep, theirs = item.partition("=")
        if not sep or not target or not theirs:
            raise typer.BadParameter(f"--map {item!r}: expected TARGET=COLUMN")
        column_map[target.strip()] = theirs.strip()
    s = _ctx.settings
    with writer(s) as store:
        out.print(
            ingest_file(store, path, source=source, sample=sample, column_map=column_map).line()
        )


@app.command()
@_guarded
def embed(
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Documents per model batch.")
    ] = None,
) -> None:
    """Embed papers that have no current embedding (new or edited ones)."""
    from pipeline.runner import embed_stage, writer

    s = _ctx.settings
    if batch_size:
        s = s.model_copy(update={"embed_batch_size": batch_size})
    with writer(s) as store, _progress() as progress:
        line = embed_stage(store, s, _embed_callback(progress))
    out.print(line)


@app.command()
@_guarded
def topics(
    full: Annotated[
        bool,
        typer.Option(
            "--full/--update", help="Refit all topics, or place new papers into the current fit."
        ),
    ] = False,
) -> None:
    """Fit topics, or place new papers into the current topics (the default)."""
    from pipeline.runner import topics_stage, writer

    s = _ctx.settings
    with writer(s) as store, console.status("fitting topics" if full else "placing new papers"):
        line = topics_stage(store, s, full=full)
    out.print(line)


@app.command()
@_guarded
def analyze(
    as_of: Annotated[
        str | None,
        typer.Option(help="Use only papers published on or before this date (YYYY-MM-DD)."),
    ] = None,
) -> None:
    """Build the trend marts (topic shares, growth) in SQL."""
    from pipeline.runner import analyze_stage, writer

    s = _ctx.settings
    with writer(s) as store:
        out.print(analyze_stage(store, s, _parse_date(as_of)))


@app.command()
@_guarded
def report(
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Site folder (default: $TRENDS_HOME/site).")
    ] = None,
) -> None:
    """Render the static HTML site."""
    from pipeline.runner import report_stage, writer

    s = _ctx.settings
    with writer(s) as store, console.status("rendering report"):
        line = report_stage(store, s, out_dir)
    out.print(line)


@app.command()
@_guarded
def publish() -> None:
    """Publish a read-only copy of the working database for readers."""
    from pipeline.runner import publish_stage, writer

    s = _ctx.settings
    with writer(s) as store:
        out.print(publish_stage(store, s))


@app.command()
@_guarded
def run(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(help="Files to ingest (default: the arXiv 2025 corpus in TRENDS_DATA_DIR)."),
    ] = None,
    sample: Annotated[
        int | None, typer.Option(min=20, help="Deterministic sample of N papers per input.")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Refit topics even if a fit exists.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option(help="Build the marts as of this date (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Run every stage in order: ingest, embed, topics, analyze, report, publish."""
    from pipeline.runner import RunOptions, run_pipeline

    started = time.perf_counter()
    with _progress() as progress:
        options = RunOptions(
            inputs=inputs or [],
            sample=sample,
            full_refit=full,
            as_of=_parse_date(as_of),
            embed_progress=_embed_callback(progress),
        )
        run_pipeline(_ctx.settings, options, say=out.print)
    index = _ctx.settings.site_dir / "index.html"
    out.print(f"run: done in {time.perf_counter() - started:.1f}s; open {index}")


@app.command()
@_guarded
def sql(
    query: Annotated[str, typer.Argument(help="A read-only SQL query.")],
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    limit: Annotated[int, typer.Option(min=1, help="Rows to print at most (table format).")] = 50,
) -> None:
    """Run a read-only query on the published database and print the result."""
    from pipeline.store import open_reader

    if fmt not in ("table", "csv", "json"):
        raise typer.BadParameter(f"--format {fmt!r}: choose table, csv or json")
    with open_reader(_ctx.settings.published_db) as store:
        frame = store.query(query)
    if fmt == "csv":
        frame.to_csv(sys.stdout, index=False)
        return
    if fmt == "json":
        sys.stdout.write(
            frame.to_json(orient="records", date_format="iso", default_handler=str) + "\n"
        )
        return
    table = Table(show_lines=False)
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    out.print(table)
    shown = min(limit, len(frame))
    out.print(f"sql: {len(frame):,} rows ({shown:,} shown)")


def _cell(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)[:200]
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."


if __name__ == "__main__":  # pragma: no cover
    app()
