"""Ingest stage: land records from a source, validate them, and upsert papers atomically.

A file is one batch in one transaction (:func:`load_batch`). A paged source (an API listing,
an OAI-PMH harvest, a large snapshot) is one run of many pages (:class:`PagedIngest`): each
page's records commit together with the run's counts and the position after the page, so a
crash loses at most the page in flight and running the same ingest again resumes there.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from duckdb import Error as DuckDBError

from pipeline.normalize import paper_key, parse_date
from pipeline.records import PreparedBatch, prepare_batch, resolve_columns
from pipeline.sources.files import read_paper_file
from pipeline.sources.page import read_trending_page
from pipeline.store import Store


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


def sample_records(records: list[dict], n: int, id_field: str = "id") -> list[dict]:
    """Keep a deterministic sample of ``n`` records: those whose paper key hashes lowest.

    The same file and ``n`` always give the same sample, and a larger ``n`` is a superset.
    """
    if n >= len(records):
        return records

    def rank(rec: dict) -> str:
        key = paper_key(str(rec.get(id_field, "")))[0]
        return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()

    keep = {id(r) for r in sorted(records, key=rank)[:n]}
    return [r for r in records if id(r) in keep]


def published_between(
    records: list[dict],
    published_from: date | None,
    published_to: date | None,
    column_map: Mapping[str, str] | None = None,
) -> list[dict]:
    """Keep the records published in ``[published_from, published_to]`` (inclusive days).

    A window is for incremental loads (a DAG run's data interval): records without a readable
    date have no place in it and are left for a full ingest, which quarantines them.
    """
    if published_from is None and published_to is None:
        return records
    keys = set().union(*(r.keys() for r in records)) if records else set()
    column = resolve_columns(keys, column_map).get("published")
    if column is None:
        raise ValueError("a date window needs a published-date column; none was found")
    lo, hi = published_from or date.min, published_to or date.max
    kept = []
    for rec in records:
        try:
            published, _ = parse_date(rec.get(column))
        except ValueError:
            continue
        if published is not None and lo <= published <= hi:
            kept.append(rec)
    return kept


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
    column_map: Mapping[str, str] | None = None,
    published_from: date | None = None,
    published_to: date | None = None,
) -> IngestSummary:
    """Ingest a Parquet, JSON Lines or CSV file of papers.

    With ``published_from``/``published_to`` only the records published in that window
    (inclusive) are ingested; the sample, if any, is drawn from them.
    """
    records, unreadable = read_paper_file(path)
    source = source or default_source_name(Path(path), records)
    windowed = published_from is not None or published_to is not None
    if windowed:
        records = published_between(records, published_from, published_to, column_map)
        unreadable = []  # unparseable lines have no date: a full ingest quarantines them
    if sample is not None:
        records = sample_records(records, sample)
    params = {"path": str(Path(path).resolve()), "sample": sample, "column_map": column_map}
    if windowed:
        params["published_from"] = published_from
        params["published_to"] = published_to
    batch = prepare_batch(records, source, column_map, unreadable)
    return load_batch(store, batch, source, params)


def ingest_page(store: Store, path: Path, *, source: str = "page") -> IngestSummary:
    """Ingest a pasted "trending papers" page (title, blank line, abstract; no dates)."""
    page = read_trending_page(path)
    batch = prepare_batch(page.records, source, payloads=page.payloads)
    params = {"path": str(Path(path).resolve()), "chrome_skipped": len(page.chrome)}
    summary = load_batch(store, batch, source, params)
    return IngestSummary(
        **{**asdict(summary), "skipped": len(page.chrome), "skipped_why": "page chrome"}
    )


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
    counts = dict(store.query("select change, count(*) from incoming_classified group by 1").values)
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


def load_batch(store: Store, batch: PreparedBatch, source: str, params: dict) -> IngestSummary:
    """Write a batch atomically: raw payloads, rejections, paper upserts and the run row."""
    run_id = _new_run_id()
    now = _utcnow()
    with _incoming(store, batch), store.transaction():
        summary = _store_batch(store, batch, run_id, source, now)
        store.execute(
            "insert into ingest_runs (run_id, source, params, started_at, finished_at, status,"
            " n_received, n_new, n_updated, n_unchanged, n_rejected)"
            " values (?, ?, ?, ?, ?, 'complete', ?, ?, ?, ?, ?)",
            [
                run_id,
                source,
                json.dumps(params, default=str),
                now,
                datetime.now(UTC).replace(tzinfo=None),
                summary.received,
                summary.new,
                summary.updated,
                summary.unchanged,
                summary.rejected,
            ],
        )
    return summary


def stream_watermark(store: Store, source: str, scope: str) -> str | None:
    """How far a stream has been ingested (None before its first complete run)."""
    return store.scalar(
        "select watermark from source_watermarks where source = ? and scope = ?", [source, scope]
    )


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
        state = store.query(
            "select run_id, params, resume_token from ingest_state where source = ? and scope = ?",
            [source, scope],
        )
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
        row = self.store.query(
            "select n_received, n_new, n_updated, n_unchanged, n_rejected, n_pages, n_skipped,"
            " watermark from ingest_runs where run_id = ?",
            [self.run_id],
        ).iloc[0]
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
    "IngestSummary",
    "PagedIngest",
    "asdict",
    "default_source_name",
    "ingest_file",
    "ingest_page",
    "load_batch",
    "paged_ingest",
    "published_between",
    "stream_watermark",
]
