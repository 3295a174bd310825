"""The `trends` command: every stage by hand, the same functions the DAGs call."""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from pipeline.config import (
    Decisions,
    EmbeddingBackend,
    ReportGrain,
    Settings,
    TopicRepresentation,
    load_settings,
)
from pipeline.sources.files import DEFAULT_CHUNK_ROWS as FILE_CHUNK_ROWS
from pipeline.sources.kaggle import DEFAULT_CHUNK_LINES as KAGGLE_CHUNK_LINES

app = typer.Typer(
    help="Research Trends: topics and trends of research abstracts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
ingest_app = typer.Typer(help="Ingest papers from a source.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
themes_app = typer.Typer(
    help="Themes the report follows (themes/themes.toml).", no_args_is_help=True
)
app.add_typer(themes_app, name="themes")
models_app = typer.Typer(
    help="Embedding models built offline from the packaged MiniLM (onnx, static).",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")
# Printed text holds data (titles, paths, source names): no console markup or emoji codes in it.
console = Console(stderr=True, markup=False, emoji=False)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200, markup=False, emoji=False)

OAI_URL = Settings.model_fields["oai_url"].default
API_URL = Settings.model_fields["arxiv_api_url"].default
HomeOpt = Annotated[Path | None, typer.Option("--home", help="State folder (env TRENDS_HOME).")]
BackendOpt = Annotated[
    EmbeddingBackend | None,
    typer.Option("--backend", help="Embedding backend (env TRENDS_EMBEDDING_BACKEND)."),
]


WordsOpt = Annotated[
    TopicRepresentation | None,
    typer.Option(
        "--words",
        help="How a refit picks topic words: ctfidf or mmr (env TRENDS_TOPIC_REPRESENTATION).",
    ),
]


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


def _with_backend(
    settings: Settings,
    backend: EmbeddingBackend | None,
    words: TopicRepresentation | None = None,
) -> Settings:
    """The settings with a command's --backend and --words applied.

    Topics then use that backend's vectors, and a refit picks its words that way.
    """
    update = {"embedding_backend": backend, "topic_representation": words}
    return settings.model_copy(update={k: v for k, v in update.items() if v is not None})


def _fail(exc: BaseException) -> None:
    # one line however narrow the terminal: logs and DAG task output keep it greppable
    console.print(Text("error:", style="bold red"), str(exc), soft_wrap=True)
    raise typer.Exit(1)


def _guarded(fn):
    """Turn expected failures into one clear line and exit status 1."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from duckdb import Error as DuckDBError

        from pipeline.records import RecordError
        from pipeline.sources.fetch import SourceError
        from pipeline.sources.files import SourceFormatError
        from pipeline.store import StoreLockedError

        try:
            return fn(*args, **kwargs)
        except (
            StoreLockedError,
            FileNotFoundError,
            SourceFormatError,
            SourceError,
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


def _run_ingest(request, progress_update=None) -> None:
    """Run one ingest request through the runner and print each input's summary line."""
    from pipeline.runner import ingest_request_stage, writer

    s = _ctx.settings
    with writer(s) as store, _progress() as progress:
        outcome = ingest_request_stage(
            store,
            s,
            request,
            progress=progress_update(progress) if progress_update else None,
            say=console.print,
        )
    for summary in outcome.summaries:
        out.print(summary.line())


FromOpt = Annotated[
    str | None, typer.Option("--from", help="Keep papers published on or after (YYYY-MM-DD).")
]
ToOpt = Annotated[
    str | None, typer.Option("--to", help="Keep papers published on or before (YYYY-MM-DD).")
]
PerPeriodOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Deterministic sample of N papers per period of each input (a year for "
        "year-precision sources, a month for daily ones).",
    ),
]


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
        published_from=_parse_date(date_from),
        published_to=_parse_date(date_to),
        source_name=source,
        column_map=column_map or None,
        chunk_rows=chunk_rows,
    )
    _run_ingest(request, lambda p: _rate_callback(p, "file", "records"))


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


def _fetch_policy(pause: float, timeout: float, retries: int):
    from pipeline.sources.fetch import FetchPolicy

    return FetchPolicy(pause=pause, timeout=timeout, attempts=retries + 1)


PauseOpt = Annotated[
    float | None,
    typer.Option(min=0, help="Seconds between requests (env TRENDS_FETCH_PAUSE; arXiv asks 3)."),
]


def _pause(value: float | None) -> float:
    return _ctx.settings.fetch_pause if value is None else value


TimeoutOpt = Annotated[float, typer.Option(min=1, help="Seconds to wait for a response.")]
FullOpt = Annotated[
    bool, typer.Option("--full", help="Ignore the watermark of earlier runs (start from scratch).")
]


@ingest_app.command("arxiv")
@_guarded
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
        url=url or _ctx.settings.arxiv_api_url,
        categories=tuple(category),
        published_from=_parse_date(date_from),
        published_to=_parse_date(date_to),
        full=full,
        page_size=page_size,
        fetch=_fetch_policy(_pause(pause), timeout, retries),
    )
    _run_ingest(request, lambda p: _rate_callback(p, "arxiv api", "papers"))


@ingest_app.command("oai")
@_guarded
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
        url=url or _ctx.settings.oai_url,
        set_spec=set_spec,
        published_from=_parse_date(date_from),
        published_to=_parse_date(date_until),
        full=full,
        fetch=_fetch_policy(_pause(pause), timeout, retries),
    )
    _run_ingest(request, lambda p: _rate_callback(p, "oai-pmh", "records"))


@ingest_app.command("kaggle")
@_guarded
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
        published_from=_parse_date(since),
        full=full,
        chunk_rows=chunk_lines,
    )
    _run_ingest(request, lambda p: _rate_callback(p, "kaggle (MB)", "MB", scale=1e6))


@ingest_app.command("page")
@_guarded
def ingest_page_cmd(
    path: Annotated[Path, typer.Argument(help="Text of a pasted trending-papers page.")],
    source: Annotated[str, typer.Option(help="Source name of the papers.")] = "page",
) -> None:
    """Ingest a pasted page: title line, blank line, abstract paragraph, repeated (no dates)."""
    from pipeline.runner import IngestRequest, IngestSource

    _run_ingest(IngestRequest(source=IngestSource.page, inputs=[path], source_name=source))


@app.command()
@_guarded
def embed(
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Documents per model batch.")
    ] = None,
    backend: BackendOpt = None,
) -> None:
    """Embed papers that have no current embedding (new or edited ones)."""
    from pipeline.runner import embed_stage, writer

    s = _with_backend(_ctx.settings, backend)
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
    words: WordsOpt = None,
) -> None:
    """Fit topics, or place new papers into the current topics (the default)."""
    from pipeline.runner import topics_stage, writer

    s = _with_backend(_ctx.settings, None, words)
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

    s = _ctx.settings
    if decisions is not None:
        s = s.model_copy(update={"decisions": decisions})
    with writer(s) as store:
        out.print(analyze_stage(store, s, _parse_date(as_of)))


@app.command()
@_guarded
def backtest(
    date_from: Annotated[str, typer.Option("--from", help="First cut-off's period (YYYY-MM-DD).")],
    date_to: Annotated[str, typer.Option("--to", help="Last cut-off's period (YYYY-MM-DD).")],
    grain: Annotated[str, typer.Option(help="Cut-offs at year or month ends.")] = "year",
    tune_until: Annotated[
        int | None, typer.Option(help="Yearly cut-offs up to this year are the tuning split.")
    ] = 2016,
    topics_mode: Annotated[
        str, typer.Option("--topics", help="refit (a fit per cut-off) or place (one fit).")
    ] = "refit",
    fit_budget: Annotated[int, typer.Option(min=20, help="Papers a fit clusters at most.")] = 4000,
) -> None:
    """Make every call again point-in-time at each cut-off and score it (docs/backtest.md)."""
    from pipeline.backtest import BacktestParams, backtest_stage
    from pipeline.runner import writer

    start, end = _parse_date(date_from), _parse_date(date_to)
    try:
        params = BacktestParams(start, end, grain, tune_until, topics_mode, fit_budget)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with writer(_ctx.settings) as store:
        for line in backtest_stage(store, _ctx.settings, params, say=console.print):
            out.print(line)


@app.command()
@_guarded
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
    s = _ctx.settings.model_copy(update={k: v for k, v in update.items() if v is not None})
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
    with _progress() as progress:
        options = RunOptions(
            inputs=inputs or [],
            sample=sample,
            sample_per_period=sample_per_period,
            published_from=_parse_date(date_from),
            published_to=_parse_date(date_to),
            full_refit=full,
            as_of=_parse_date(as_of),
            embed_progress=_embed_callback(progress),
        )
        run_pipeline(_with_backend(_ctx.settings, backend, words), options, say=out.print)
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


@themes_app.command("calibrate")
@_guarded
def themes_calibrate(
    labels: Annotated[Path, typer.Option(help="Labelled sample: theme_id,paper_id,label.")] = Path(
        "themes/labels.csv"
    ),
) -> None:
    """Score each theme's membership rule against a labelled sample (papers in the store)."""
    import numpy as np
    import pandas as pd

    from pipeline.embed import load_embeddings, make_embedder, model_name
    from pipeline.runner import writer
    from pipeline.themes import calibration_table, load_themes, theme_vectors

    s = _ctx.settings
    labelled = pd.read_csv(labels)
    themes = load_themes(s.themes_file)
    model = model_name(s.embedding_backend)
    with writer(s) as store:
        vectors = theme_vectors(
            store, themes, model, lambda: make_embedder(s.embedding_backend, s.embed_batch_size)
        )
        ids, matrix = load_embeddings(store, model)
        texts = dict(store.query_file("ops/paper_texts").values)
    embeddings = dict(zip(ids, matrix, strict=True))
    found = labelled["paper_id"].isin(embeddings).sum()
    if found == 0:
        raise ValueError(
            f"none of the {len(labelled)} labelled papers is embedded in {s.work_db}; "
            "run `trends run --sample 2000` (or more) first"
        )
    table = calibration_table(themes, labelled, embeddings, texts, vectors)
    grid = Table()
    for col in table.columns:
        grid.add_column(col)
    for row in table.itertuples(index=False):
        grid.add_row(*(f"{v:.2f}" if isinstance(v, float | np.floating) else str(v) for v in row))
    out.print(grid)
    out.print(
        f"themes calibrate: {found:,} of {len(labelled):,} labelled rows in the store; "
        f"mean F1 {table['f1'].mean():.3f} at the file's thresholds, "
        f"{table['best_f1'].mean():.3f} at the best ones"
    )


@models_app.command("build")
@_guarded
def models_build(
    backend: Annotated[
        list[EmbeddingBackend] | None,
        typer.Option("--backend", help="Build only this backend's model (onnx, static)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if valid.")] = False,
    models_dir: Annotated[
        Path | None, typer.Option(help="Where the models go (env TRENDS_MODELS_DIR).")
    ] = None,
) -> None:
    """Build the onnx and static models from the packaged MiniLM, offline; skips valid ones."""
    from pipeline.models import ARTIFACTS, build_models

    wanted = [b for b in backend or ARTIFACTS if b in ARTIFACTS]
    if backend and not wanted:
        raise ValueError("minilm needs no build: it is the packaged model itself")
    target = models_dir or _ctx.settings.models_dir
    with console.status("building embedding models (minutes on first run)"):
        for summary in build_models(target, wanted, force=force):
            out.print(summary.line())


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _cell(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)[:200]
    # control characters (terminal escape sequences among them) are shown, not sent
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
    return text if len(text) <= 200 else text[:197] + "..."


if __name__ == "__main__":  # pragma: no cover
    app()
