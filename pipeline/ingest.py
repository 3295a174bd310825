"""Ingest stage: land records from a source, validate them, and upsert papers atomically."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.normalize import paper_key
from pipeline.records import PreparedBatch, prepare_batch
from pipeline.sources.files import read_paper_file
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

    def line(self) -> str:
        """One-line summary for the CLI and logs."""
        return (
            f"ingest {self.source}: received {self.received:,} = stored {self.stored:,} "
            f"(new {self.new:,}, updated {self.updated:,}, unchanged {self.unchanged:,}) "
            f"+ quarantined {self.rejected:,}"
        )


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
) -> IngestSummary:
    """Ingest a Parquet, JSON Lines or CSV file of papers."""
    records, unreadable = read_paper_file(path)
    if sample is not None:
        records = sample_records(records, sample)
    source = source or default_source_name(Path(path), records)
    params = {"path": str(Path(path).resolve()), "sample": sample, "column_map": column_map}
    batch = prepare_batch(records, source, column_map, unreadable)
    return load_batch(store, batch, source, params)


def load_batch(store: Store, batch: PreparedBatch, source: str, params: dict) -> IngestSummary:
    """Write a batch atomically: raw payloads, rejections, paper upserts and the run row."""
    run_id = f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC).replace(tzinfo=None)
    sql_params = {"run_id": run_id, "now": now}
    store.register("incoming", batch.papers)
    store.register("incoming_raw", batch.raw)
    store.register("incoming_rejected", batch.rejected)
    try:
        with store.transaction():
            store.run_file("ops/classify_incoming")
            counts = dict(
                store.query("select change, count(*) from incoming_classified group by 1").values
            )
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
    finally:
        for name in ("incoming", "incoming_raw", "incoming_rejected"):
            store.unregister(name)
    return summary


__all__ = ["IngestSummary", "asdict", "default_source_name", "ingest_file", "load_batch"]
