"""One typed ingest request for every source, and how DAG run parameters become one.

The CLI's ingest commands, `trends run` and the DAGs all describe an ingest as an
:class:`IngestRequest` and hand it to :func:`pipeline.runner.ingest_request_stage`, which
calls :func:`run_ingest`. Sources: ``file`` (Parquet, JSON Lines, CSV), ``page`` (a pasted
trending-papers page), ``kaggle`` (the arXiv snapshot), ``oai`` (arXiv OAI-PMH, the daily
feed) and ``arxiv`` (the arXiv API search).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from pipeline.config import Settings
from pipeline.ingest import IngestSummary
from pipeline.sources.fetch import FetchPolicy
from pipeline.store import Store

Progress = Callable[[int, int | None], None]  # (done, total or None)
Say = Callable[[str], None]
# Run types whose data interval is the ingest window (Airflow's DagRunType values).
INTERVAL_RUN_TYPES = frozenset({"scheduled", "backfill"})


class IngestSource(StrEnum):
    """Where an ingest reads from."""

    file = "file"
    page = "page"
    kaggle = "kaggle"
    oai = "oai"
    arxiv = "arxiv"


FILE_SOURCES = frozenset({IngestSource.file, IngestSource.page, IngestSource.kaggle})
FEED_SOURCES = frozenset({IngestSource.oai, IngestSource.arxiv})


class ParamsError(ValueError):
    """A run parameter that cannot be used; the message names the parameter and the fix."""


@dataclass(frozen=True)
class IngestRequest:
    """What one ingest reads, for any source.

    Attributes:
        inputs: Files to read (file, page, kaggle).
        sample: file: a deterministic sample of N papers per input.
        published_from: file: first published day kept; oai/arxiv: first datestamp or
            submission day asked for (default: the stream's watermark); kaggle: first
            ``update_date`` kept (default: the watermark).
        published_to: file: last published day kept; oai/arxiv: last day asked for.
        source: Which kind of source.
        sample_per_period: file: N papers per period (year or month) per input.
        source_name: file, page: the stored source name (default: arxiv or the file's stem).
        column_map: file: canonical column -> the file's own.
        url: oai/arxiv: the endpoint (default: ``TRENDS_OAI_URL``/``TRENDS_ARXIV_API_URL``).
        set_spec: oai: the OAI set (default: ``TRENDS_OAI_SET``).
        categories: arxiv (required) and kaggle: categories or archives such as ``cs``.
        full: oai/arxiv/kaggle: ignore the watermark and read from the beginning.
        start_if_new: oai/arxiv: where a stream without a watermark starts (a daily feed's
            first run), instead of the repository's beginning.
        chunk_rows: file and kaggle: records (lines) stored per transaction.
        page_size: arxiv: results per request.
        fetch: oai/arxiv: pause, timeout and retries of the HTTP requests.

    """

    inputs: Sequence[Path] = ()
    sample: int | None = None
    published_from: date | None = None
    published_to: date | None = None
    source: IngestSource = IngestSource.file
    sample_per_period: int | None = None
    source_name: str | None = None
    column_map: Mapping[str, str] | None = None
    url: str | None = None
    set_spec: str | None = None
    categories: Sequence[str] = ()
    full: bool = False
    start_if_new: date | None = None
    chunk_rows: int | None = None
    page_size: int = 1_000
    fetch: FetchPolicy | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Reject combinations no source can run, naming the field."""
        source = IngestSource(self.source)
        object.__setattr__(self, "source", source)
        if source in FILE_SOURCES and not self.inputs:
            raise ParamsError(f"source {source}: name the file to read (input_path)")
        if source in FEED_SOURCES and self.inputs:
            raise ParamsError(f"source {source} reads from a URL, not a file; drop input_path")
        if source is IngestSource.arxiv and not self.categories:
            raise ParamsError("source arxiv: name the categories to search, e.g. cs.AI")
        if (self.sample or self.sample_per_period) and source is not IngestSource.file:
            raise ParamsError(f"sample: only file ingests sample, not source {source}")
        if self.sample is not None and self.sample_per_period is not None:
            raise ParamsError("sample and sample_per_period: choose one")
        for name in ("sample", "sample_per_period", "chunk_rows"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ParamsError(f"{name}: {value} must be at least 1")
        lo, hi = self.published_from, self.published_to
        if lo and hi and lo > hi:
            raise ParamsError(f"date_from {lo} is after date_to {hi}")

    def line(self) -> str:
        """One line for the logs."""
        lo, hi = self.published_from, self.published_to
        window = f"{lo or '...'}..{hi or '...'}" if lo or hi else None
        if self.source in FEED_SOURCES:
            what = self.url or "the default endpoint"
            scope = f"set {self.set_spec}" if self.source is IngestSource.oai else "categories"
            if self.source is IngestSource.arxiv or self.set_spec:
                scope = f"{scope} {self.set_spec or ','.join(self.categories)}"
            start = window or ("everything" if self.full else "from the watermark")
            return f"ingest request: {self.source} {what}; {scope}; {start}"
        files = ", ".join(str(p) for p in self.inputs)
        if self.sample:
            sample = f"sample {self.sample:,}"
        elif self.sample_per_period:
            sample = f"sample {self.sample_per_period:,} per period"
        else:
            sample = "no sample"
        return f"ingest request: {self.source} {files}; published {window or 'all dates'}; {sample}"


def run_ingest(
    store: Store,
    settings: Settings,
    request: IngestRequest,
    *,
    progress: Progress | None = None,
    say: Say | None = None,
) -> list[IngestSummary]:
    """Ingest what a request names, one summary per input (one for a feed)."""
    from pipeline import harvest
    from pipeline.ingest import ingest_file, ingest_page
    from pipeline.sources.files import DEFAULT_CHUNK_ROWS
    from pipeline.sources.kaggle import DEFAULT_CHUNK_LINES

    quiet: Say = say or (lambda _: None)
    fetch = request.fetch or FetchPolicy(pause=settings.fetch_pause)
    match request.source:
        case IngestSource.file:
            return [
                ingest_file(
                    store,
                    Path(path),
                    source=request.source_name,
                    sample=request.sample,
                    sample_per_period=request.sample_per_period,
                    column_map=request.column_map,
                    published_from=request.published_from,
                    published_to=request.published_to,
                    chunk_rows=request.chunk_rows or DEFAULT_CHUNK_ROWS,
                    progress=progress,
                )
                for path in request.inputs
            ]
        case IngestSource.page:
            return [
                ingest_page(store, Path(path), source=request.source_name or "page")
                for path in request.inputs
            ]
        case IngestSource.kaggle:
            return [
                harvest.ingest_kaggle(
                    store,
                    Path(path),
                    categories=request.categories,
                    since=request.published_from,
                    full=request.full,
                    chunk_lines=request.chunk_rows or DEFAULT_CHUNK_LINES,
                    progress=progress,
                )
                for path in request.inputs
            ]
        case IngestSource.oai:
            summary = harvest.ingest_oai(
                store,
                request.url or settings.oai_url,
                set_spec=request.set_spec,
                date_from=request.published_from,
                date_until=request.published_to,
                full=request.full,
                start_if_new=request.start_if_new,
                policy=fetch,
                progress=progress,
                say=quiet,
            )
        case IngestSource.arxiv:
            summary = harvest.ingest_arxiv(
                store,
                request.url or settings.arxiv_api_url,
                categories=request.categories,
                date_from=request.published_from,
                date_to=request.published_to,
                full=request.full,
                start_if_new=request.start_if_new,
                page_size=request.page_size,
                policy=fetch,
                progress=progress,
                say=quiet,
            )
    return [summary]


# -- DAG run parameters -------------------------------------------------------------------------


def run_type_name(value: object) -> str:
    """A DAG run's type as text (``scheduled``, ``manual``, ``backfill``, ...)."""
    return str(getattr(value, "value", value) or "")


def parse_param_date(name: str, value: object) -> date | None:
    """A date parameter (``YYYY-MM-DD``); empty means none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ParamsError(f"{name}: {value!r} is not a date; use YYYY-MM-DD") from None


def resolve_input(settings: Settings, value: object, *, check_format: bool = True) -> Path:
    """The file an ``input_path`` parameter names; empty means the default corpus.

    A relative path is looked up in the data folder (``TRENDS_DATA_DIR``).
    """
    from pipeline.sources.files import SourceFormatError, detect_format

    text = "" if value is None else str(value).strip()
    path = Path(text).expanduser() if text else settings.default_corpus()
    if not path.is_absolute():
        path = settings.data_dir / path
    if not path.is_file():
        hint = (
            f"relative paths are read from {settings.data_dir}"
            if text
            else "an empty input_path means the default corpus; set TRENDS_DATA_DIR"
        )
        raise ParamsError(f"input_path: no such file {path} ({hint})")
    if check_format:
        try:
            detect_format(path)
        except SourceFormatError as exc:
            raise ParamsError(f"input_path: {exc}") from None
    return path


def _whole_number(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamsError(f"{name}: {value!r} is not a whole number")
    if value < 1:
        raise ParamsError(f"{name}: {value} must be at least 1 (or empty for all papers)")
    return value


def _source_param(value: object, default: IngestSource) -> IngestSource:
    text = str(value or default.value).strip()
    try:
        return IngestSource(text)
    except ValueError:
        known = ", ".join(s.value for s in IngestSource)
        raise ParamsError(f"source: {text!r} is not one of {known}") from None


def ingest_request(
    settings: Settings,
    params: Mapping[str, object],
    *,
    run_type: object = None,
    interval_start: datetime | None = None,
    interval_end: datetime | None = None,
    scheduled_source: IngestSource = IngestSource.file,
) -> IngestRequest:
    """Validate ingest parameters of a DAG run into a request.

    ``source`` picks the source; empty means ``scheduled_source`` for a scheduled run (the
    daily DAG's feed) and ``file`` for any other. A file ingest reads ``input_path`` (default:
    the arXiv corpus); its window is ``date_from``..``date_to`` when either is set, else a
    scheduled or backfill run takes the papers published in its data interval and a manual run
    every date. A feed (``oai``, ``arxiv``) asks for ``date_from``..``date_to`` when set; else a
    backfill run asks for its data interval, and scheduled and manual runs continue from the
    stream's watermark (the first run of a stream starts at its interval's start). ``categories``
    is the OAI set (default ``TRENDS_OAI_SET``) or the arXiv/Kaggle categories.
    """
    run_kind = run_type_name(run_type)
    default = scheduled_source if run_kind == "scheduled" else IngestSource.file
    source = _source_param(params.get("source"), default)
    sample = _whole_number("sample", params.get("sample"))
    lo = parse_param_date("date_from", params.get("date_from"))
    hi = parse_param_date("date_to", params.get("date_to"))
    if lo and hi and lo > hi:
        raise ParamsError(f"date_from {lo} is after date_to {hi}")
    interval = None
    if interval_start is not None and run_kind in INTERVAL_RUN_TYPES:
        end = (interval_end - timedelta(microseconds=1)).date() if interval_end else None
        interval = (interval_start.date(), max(end or interval_start.date(), interval_start.date()))
    raw_categories = str(params.get("categories") or "").replace(",", " ").split()
    fetch = FetchPolicy(pause=settings.fetch_pause)
    if source in FEED_SOURCES:
        if str(params.get("input_path") or "").strip():
            raise ParamsError(f"input_path: source {source} reads from a URL; leave it empty")
        if lo is None and hi is None and interval and run_kind == "backfill":
            lo, hi = interval
        return IngestRequest(
            source=source,
            sample=sample,  # rejected: feeds do not sample
            published_from=lo,
            published_to=hi,
            set_spec=(raw_categories[0] if raw_categories else settings.oai_set)
            if source is IngestSource.oai
            else None,
            categories=tuple(raw_categories) if source is IngestSource.arxiv else (),
            start_if_new=interval[0] if interval else None,
            fetch=fetch,
        )
    if lo is None and hi is None and interval and source is IngestSource.file:
        lo, hi = interval
    value = params.get("input_path")
    if source is not IngestSource.file and not str(value or "").strip():
        raise ParamsError(f"input_path: source {source} needs a file")
    path = resolve_input(settings, value, check_format=source is not IngestSource.page)
    return IngestRequest(
        inputs=[path],
        sample=sample,
        published_from=lo if source is not IngestSource.page else None,
        published_to=hi if source is IngestSource.file else None,
        source=source,
        categories=tuple(raw_categories) if source is IngestSource.kaggle else (),
    )
