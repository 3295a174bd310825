"""Ingest stage: land records from a source, validate them, and upsert papers page by page.

Every ingest is one run of many pages (:class:`PagedIngest`): a chunk of a file, a page of an
API listing or an OAI-PMH harvest, a chunk of a large snapshot. Each page's records commit
together with the run's counts and the position after the page, so memory stays bounded by a
page whatever the size of the file or the store, a crash loses at most the page in flight, and
running the same ingest again resumes there.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

from duckdb import Error as DuckDBError

from pipeline.normalize import paper_key
from pipeline.records import PreparedBatch, prepare_batch, resolve_columns
from pipeline.sources.files import (
    DEFAULT_CHUNK_ROWS,
    detect_format,
    peek_records,
    read_paper_chunks,
)
from pipeline.sources.page import read_trending_page
from pipeline.sources.selection import (
    FileSelection,
    in_sample,
    plan_sample,
    published_between,
    record_period,
    sample_records,
)
from pipeline.store import Store

Progress = Callable[[int, int | None], None]  # (done, total or None)


@dataclass(frozen=True)
class IngestSummary:
    """Counts of one ingest run; ``received == stored + rejected`` always holds."""

    run_id: str
    source: str
    received: int
    stored: int
    new: int
    updated: int
    unchanged: int
    rejected: int
    skipped: int = 0  # records left out before they were received (filters, page chrome)
    skipped_why: str = "filtered out"
    pages: int = 0  # pages of a paged run (0 for a one-batch ingest)
    resumed: bool = False
    watermark: str | None = None

    def line(self) -> str:
        """One-line summary for the CLI and logs."""
        text = (
            f"ingest {self.source}: received {self.received:,} = stored {self.stored:,} "
            f"(new {self.new:,}, updated {self.updated:,}, unchanged {self.unchanged:,}) "
            f"+ quarantined {self.rejected:,}"
        )
        extras = []
        if self.pages:
            extras.append(f"{self.pages:,} page{'s' if self.pages != 1 else ''}")
        if self.resumed:
            extras.append("resumed")
        if self.skipped:
            extras.append(f"skipped {self.skipped:,} ({self.skipped_why})")
        if self.watermark:
            extras.append(f"watermark {self.watermark}")
        return text + (f"; {', '.join(extras)}" if extras else "")


def default_source_name(path: Path, records: list[dict]) -> str:
    """'arxiv' when the file's ids are arXiv ids, else the file's stem."""
    sample = [r.get("id") for r in records[:50] if r.get("id")]
    if sample and all(paper_key(str(s))[0].startswith("arxiv:") for s in sample):
        return "arxiv"
    return path.stem


def ingest_file(
    store: Store,
    path: Path,
    *,
    source: str | None = None,
    sample: int | None = None,
    sample_per_period: int | None = None,
    column_map: Mapping[str, str] | None = None,
    published_from: date | None = None,
    published_to: date | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: Progress | None = None,
) -> IngestSummary:
    """Ingest a Parquet, JSON Lines or CSV file of papers, ``chunk_rows`` records a page.

    With ``published_from``/``published_to`` only the records published in that window
    (inclusive) are ingested; a sample, if any, is drawn from them. A run that stopped early
    resumes after its last stored chunk when run again on the same, unchanged file with the
    same selection. ``progress`` is called with (records read, None) after each chunk.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    detect_format(path)
    first = peek_records(path)
    # an unknown target column, or a mapped column the records lack, fails before a run starts
    resolve_columns({key for record in first for key in record}, column_map)
    selection = FileSelection(sample, sample_per_period, published_from, published_to, column_map)
    if sample is not None and sample_per_period is not None:
        raise ValueError("choose one of sample and sample_per_period, not both")
    source = source or default_source_name(path, first)
    keys = plan_sample(path, selection, chunk_rows) if selection.sampled else None
    stat = path.stat()
    resolved = str(path.resolve())
    params = {"path": resolved, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    params.update(selection.params())
    why = "outside the sample" if selection.sampled else "filtered out"
    if selection.windowed:
        why = "outside the date window" + (" or the sample" if selection.sampled else "")
    with paged_ingest(store, source, f"file={resolved}", params) as run:
        read = 0
        for chunk in read_paper_chunks(path, start=run.resume_token, chunk_rows=chunk_rows):
            records, unreadable = chunk.records, chunk.unreadable
            total = len(records) + len(unreadable)
            if selection.windowed:
                # unparseable lines have no date: a full ingest quarantines them
                records = published_between(records, published_from, published_to, column_map)
                unreadable = []
            if keys is not None:
                records = in_sample(records, keys, column_map)
            batch = prepare_batch(records, source, column_map, unreadable)
            run.load(
                batch,
                next_token=chunk.end,
                skipped=total - len(records) - len(unreadable),
                last=chunk.last,
            )
            read += total
            if progress:
                progress(read, None)
        summary = run.finish()
    return replace(summary, skipped_why=why)


def ingest_page(store: Store, path: Path, *, source: str = "page") -> IngestSummary:
    """Ingest a pasted "trending papers" page (title, blank line, abstract; no dates).

    A page is small: it is read whole and stored as one page of a run.
    """
    path = Path(path)
    page = read_trending_page(path)
    batch = prepare_batch(page.records, source, payloads=page.payloads)
    resolved = str(path.resolve())
    stat = path.stat()
    params = {"path": resolved, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    with paged_ingest(store, source, f"page={resolved}", params) as run:
        run.load(batch, next_token=None, skipped=len(page.chrome), last=True)
        summary = run.finish()
    return replace(summary, pages=0, skipped_why="page chrome")


def _new_run_id() -> str:
    return f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def _incoming(store: Store, batch: PreparedBatch) -> Iterator[None]:
    """Expose the batch to SQL as the views the ops files read."""
    store.register("incoming", batch.papers)
    store.register("incoming_raw", batch.raw)
    store.register("incoming_rejected", batch.rejected)
    try:
        yield
    finally:
        for name in ("incoming", "incoming_raw", "incoming_rejected"):
            store.unregister(name)


def _store_batch(
    store: Store, batch: PreparedBatch, run_id: str, source: str, now: datetime
) -> IngestSummary:
    """Land raw payloads and rejections and upsert papers (call inside a transaction)."""
    sql_params = {"run_id": run_id, "now": now}
    store.run_file("ops/classify_incoming")
    counts = dict(store.query_file("ingest/change_counts").values)
    store.run_file("ops/record_ingest", sql_params)
    store.run_file("ops/upsert_papers", sql_params)
    summary = IngestSummary(
        run_id=run_id,
        source=source,
        received=batch.received,
        stored=len(batch.papers),
        new=int(counts.get("new", 0)),
        updated=int(counts.get("updated", 0)),
        unchanged=int(counts.get("unchanged", 0)),
        rejected=batch.n_rejected,
    )
    if summary.received != summary.stored + summary.rejected:
        raise AssertionError(f"ingest lost records: {summary}")
    return summary


def stream_watermark(store: Store, source: str, scope: str) -> str | None:
    """How far a stream has been ingested (None before its first complete run)."""
    found = store.query_file("ingest/stream_watermark", {"source": source, "scope": scope})
    return str(found["watermark"].iloc[0]) if len(found) else None


class PagedIngest:
    """One run of a paged source, committed page by page and resumable.

    Open it with :func:`paged_ingest`. A stream is a ``(source, scope)``: the channel (e.g.
    ``arxiv-oai``) and the part of it (e.g. one OAI set of one server). If the last run of the
    stream stopped early and asked for the same parameters, this run continues it (same run
    id, counts carried on) from :attr:`resume_token`; otherwise a new run starts.
    """

    def __init__(self, store: Store, source: str, scope: str, params: Mapping) -> None:
        self.store = store
        self.source = source
        self.scope = scope
        self.params_json = json.dumps(params, sort_keys=True, default=str)
        self.resume_token: str | None = None
        self.resumed = False
        self.finished = False
        state = store.query_file("ingest/stream_state", {"source": source, "scope": scope})
        now = _utcnow()
        if len(state) and json.loads(state["params"].iloc[0]) == json.loads(self.params_json):
            self.run_id = str(state["run_id"].iloc[0])
            token = state["resume_token"].iloc[0]
            self.resume_token = None if token is None or token != token else str(token)
            self.resumed = True
            with store.transaction():
                store.run_file("ops/resume_ingest_run", {"run_id": self.run_id})
            return
        self.run_id = _new_run_id()
        with store.transaction():
            if len(state):
                store.run_file(
                    "ops/abandon_ingest_run", {"run_id": str(state["run_id"].iloc[0]), "now": now}
                )
            store.run_file(
                "ops/start_ingest_run",
                {
                    "run_id": self.run_id,
                    "source": source,
                    "scope": scope,
                    "params": self.params_json,
                    "now": now,
                },
            )

    def load(
        self,
        batch: PreparedBatch,
        *,
        next_token: str | None,
        watermark: str | None = None,
        skipped: int = 0,
        last: bool = False,
    ) -> IngestSummary:
        """Store one page and the position after it in one transaction; return its counts.

        ``last`` completes the run in the same transaction (see :meth:`finish`), so a crash
        can never leave a fully stored stream looking unfinished.
        """
        now = _utcnow()
        with _incoming(self.store, batch), self.store.transaction():
            page = _store_batch(self.store, batch, self.run_id, self.source, now)
            self.store.run_file(
                "ops/save_ingest_page",
                {
                    "run_id": self.run_id,
                    "source": self.source,
                    "scope": self.scope,
                    "received": page.received,
                    "new": page.new,
                    "updated": page.updated,
                    "unchanged": page.unchanged,
                    "rejected": page.rejected,
                    "skipped": skipped,
                    "resume_token": next_token,
                    "watermark": watermark,
                    "now": now,
                },
            )
            if last:
                self._finish(now)
        self.resume_token = next_token
        self.finished = last
        return page

    def _finish(self, now: datetime) -> None:
        params = {"run_id": self.run_id, "source": self.source, "scope": self.scope, "now": now}
        self.store.run_file("ops/finish_ingest_run", params)

    def finish(self) -> IngestSummary:
        """Complete the run, unless its last page did; return the run's summary.

        The stream's watermark moves on and the resumption state goes.
        """
        if not self.finished:
            with self.store.transaction():
                self._finish(_utcnow())
            self.finished = True
        return self.summary()

    def fail(self) -> None:
        """Mark the run failed after an error; its state stays, so a rerun resumes it."""
        try:
            with self.store.transaction():
                self.store.run_file(
                    "ops/fail_ingest_run", {"run_id": self.run_id, "now": _utcnow()}
                )
        except DuckDBError:  # the error that stopped the run may have broken the connection
            pass

    def summary(self) -> IngestSummary:
        """The run's counts so far (all pages, across resumes)."""
        row = self.store.query_file("ingest/run_counts", {"run_id": self.run_id}).iloc[0]
        watermark = row["watermark"]
        return IngestSummary(
            run_id=self.run_id,
            source=self.source,
            received=int(row["n_received"]),
            stored=int(row["n_new"]) + int(row["n_updated"]) + int(row["n_unchanged"]),
            new=int(row["n_new"]),
            updated=int(row["n_updated"]),
            unchanged=int(row["n_unchanged"]),
            rejected=int(row["n_rejected"]),
            skipped=int(row["n_skipped"]),
            pages=int(row["n_pages"]),
            resumed=self.resumed,
            watermark=None if watermark is None or watermark != watermark else str(watermark),
        )


@contextmanager
def paged_ingest(store: Store, source: str, scope: str, params: Mapping) -> Iterator[PagedIngest]:
    """Open (or resume) a paged run; an error marks it failed and keeps it resumable.

    The caller loads pages and calls :meth:`PagedIngest.finish` when the stream is done.
    """
    run = PagedIngest(store, source, scope, params)
    try:
        yield run
    except BaseException:
        if not run.finished:
            run.fail()
        raise


__all__ = [
    "FileSelection",
    "IngestSummary",
    "PagedIngest",
    "asdict",
    "default_source_name",
    "ingest_file",
    "ingest_page",
    "paged_ingest",
    "plan_sample",
    "published_between",
    "record_period",
    "sample_records",
    "stream_watermark",
]
