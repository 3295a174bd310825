"""Incremental ingests of the arXiv's paged sources: the API, OAI-PMH and the Kaggle snapshot.

Each is a :class:`~pipeline.ingest.PagedIngest` run: a page is validated, stored and
committed together with the position after it, so a crash resumes at the next page. Without
an explicit start date a run starts at its stream's watermark (the last day a complete run
reached; that day is fetched again and upserts as unchanged), so a re-run adds only what is
new and overlapping ranges upsert. Every arXiv channel stores its papers as source
``arxiv`` with ids ``arxiv:<id>``, so the same paper from any of them is one row.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from pipeline.ingest import IngestSummary, PagedIngest, paged_ingest, stream_watermark
from pipeline.records import prepare_batch
from pipeline.sources import arxiv_api, kaggle, oai_pmh
from pipeline.sources.fetch import Fetcher, FetchPolicy
from pipeline.store import Store

PAPER_SOURCE = "arxiv"
API_SOURCE = "arxiv-api"
OAI_SOURCE = "arxiv-oai"
KAGGLE_SOURCE = "arxiv-kaggle"

Progress = Callable[[int, int | None], None]  # (done, total or None)
Say = Callable[[str], None]
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


@contextmanager
def _fetcher(fetcher: Fetcher | None, policy: FetchPolicy | None, say: Say) -> Iterator[Fetcher]:
    if fetcher is not None:
        yield fetcher
        return
    with Fetcher(policy, on_retry=say) as made:
        yield made


def _start_date(
    explicit: date | None,
    store: Store,
    source: str,
    scope: str,
    full: bool,
    start_if_new: date | None = None,
) -> date | None:
    """The explicit date, else (unless ``full``) the stream's watermark day.

    A stream without a watermark (never completed) starts at ``start_if_new`` (None: the
    source's beginning), so that a daily feed's first run does not harvest the whole archive.
    """
    if explicit is not None or full:
        return explicit
    watermark = stream_watermark(store, source, scope)
    return date.fromisoformat(watermark[:10]) if watermark else start_if_new


def _quiet(_: str) -> None:
    return None


# --------------------------------------------------------------------------------------------
# OAI-PMH
# --------------------------------------------------------------------------------------------


def ingest_oai(
    store: Store,
    url: str = oai_pmh.DEFAULT_URL,
    *,
    set_spec: str | None = None,
    date_from: date | None = None,
    date_until: date | None = None,
    full: bool = False,
    start_if_new: date | None = None,
    policy: FetchPolicy | None = None,
    fetcher: Fetcher | None = None,
    progress: Progress | None = None,
    say: Say = _quiet,
) -> IngestSummary:
    """Harvest ``ListRecords`` (metadataPrefix ``arXiv``) page by page, resumably.

    Without ``date_from`` (and without ``full``) the harvest starts at the last datestamp a
    complete harvest of the same server and set reached (``start_if_new`` before the first
    complete harvest; None: the repository's beginning). A run that stopped early resumes
    from its last stored resumption token when run again with the same arguments; if the
    server no longer knows that token, the list is harvested again from its start.
    """
    scope = f"{url} set={set_spec or '*'}"
    date_from = _start_date(date_from, store, OAI_SOURCE, scope, full, start_if_new)
    params = {"url": url, "set": set_spec, "from": date_from, "until": date_until}
    with (
        paged_ingest(store, OAI_SOURCE, scope, params) as run,
        _fetcher(fetcher, policy, say) as http,
    ):
        token = run.resume_token
        done = run.summary().received
        while True:
            loaded = 0
            pages = oai_pmh.harvest_list_records(
                http,
                url,
                set_spec=set_spec,
                date_from=date_from,
                date_until=date_until,
                token=token,
            )
            try:
                for page in pages:
                    batch = prepare_batch(
                        page.records,
                        OAI_SOURCE,
                        payloads=page.payloads,
                        quarantined=page.quarantined,
                        paper_source=PAPER_SOURCE,
                    )
                    run.load(
                        batch,
                        next_token=page.token,
                        watermark=page.max_datestamp,
                        last=page.token is None,
                    )
                    loaded += 1
                    done += page.received
                    if progress:
                        total = page.complete_size
                        progress(done, max(total, done) if total is not None else None)
            except oai_pmh.BadResumptionTokenError:
                if token is None or loaded:
                    raise
                say(f"oai: the server no longer knows token {token!r}; harvesting from the start")
                token = None
                continue
            break
        return run.finish()


# --------------------------------------------------------------------------------------------
# arXiv API
# --------------------------------------------------------------------------------------------


def _max_day(records: Sequence[dict], key: str) -> str | None:
    days = [str(r[key])[:10] for r in records if r.get(key) and _ISO_DAY.match(str(r[key]))]
    return max(days) if days else None


def ingest_arxiv(
    store: Store,
    url: str = arxiv_api.DEFAULT_URL,
    *,
    categories: Sequence[str],
    date_from: date | None = None,
    date_to: date | None = None,
    full: bool = False,
    start_if_new: date | None = None,
    page_size: int = 1_000,
    policy: FetchPolicy | None = None,
    fetcher: Fetcher | None = None,
    progress: Progress | None = None,
    say: Say = _quiet,
) -> IngestSummary:
    """Search the API for papers of ``categories`` submitted in a date range, page by page.

    Without ``date_from`` (and without ``full``) the search starts at the last submission day
    a complete search of the same categories reached (``start_if_new`` before the first). A
    run that stopped early resumes at the
    result offset after its last stored page.
    """
    cats = tuple(sorted(arxiv_api.categories_arg(categories)))
    scope = f"{url} cat={','.join(cats)}"
    date_from = _start_date(date_from, store, API_SOURCE, scope, full, start_if_new)
    query = arxiv_api.ArxivQuery(cats, date_from, date_to)
    params = {"url": url, "categories": list(cats), "from": date_from, "to": date_to}
    with (
        paged_ingest(store, API_SOURCE, scope, params) as run,
        _fetcher(fetcher, policy, say) as http,
    ):
        start = int(run.resume_token or 0)
        for page in arxiv_api.fetch_arxiv_listing(
            http, url, query, start=start, page_size=page_size
        ):
            batch = prepare_batch(
                page.feed.records,
                API_SOURCE,
                payloads=page.feed.payloads,
                quarantined=page.feed.quarantined,
                paper_source=PAPER_SOURCE,
            )
            run.load(
                batch,
                next_token=str(page.next_start),
                watermark=_max_day(batch.papers.to_dict("records"), "published"),  # stored only
                last=page.done,
            )
            if progress:
                progress(page.next_start, page.total)
        return run.finish()


# --------------------------------------------------------------------------------------------
# Kaggle snapshot
# --------------------------------------------------------------------------------------------


def ingest_kaggle(
    store: Store,
    path: Path,
    *,
    categories: Sequence[str] = (),
    since: date | None = None,
    full: bool = False,
    chunk_lines: int = kaggle.DEFAULT_CHUNK_LINES,
    progress: Progress | None = None,
) -> IngestSummary:
    """Stream the Kaggle arXiv snapshot into the store, ``chunk_lines`` lines at a time.

    ``categories`` keeps papers listed in any of them (``cs`` keeps every ``cs.*``); ``since``
    keeps papers updated on or after that day (default: the stream's watermark, the latest
    ``update_date`` a complete run of the same categories took in). A run that stopped early
    resumes after its last stored chunk when run again on the same, unchanged file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    cats = tuple(sorted(arxiv_api.categories_arg(categories)))
    scope = f"cat={','.join(cats) or '*'}"
    since = _start_date(since, store, KAGGLE_SOURCE, scope, full)
    stat = os.stat(path)
    params = {
        "path": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "categories": list(cats),
        "since": since,
    }
    keep = kaggle.SnapshotFilter(cats, since)
    with paged_ingest(store, KAGGLE_SOURCE, scope, params) as run:
        start = kaggle.SnapshotPosition.parse(run.resume_token)
        for chunk in kaggle.read_snapshot_chunks(
            path, start=start, chunk_lines=chunk_lines, keep=keep
        ):
            _load_chunk(run, chunk)
            if progress:
                progress(chunk.end.offset, stat.st_size)
        return run.finish()


def _load_chunk(run: PagedIngest, chunk: kaggle.SnapshotChunk) -> None:
    batch = prepare_batch(
        chunk.records,
        KAGGLE_SOURCE,
        unreadable=chunk.unreadable,
        payloads=chunk.payloads,
        paper_source=PAPER_SOURCE,
    )
    run.load(
        batch,
        next_token=chunk.end.token(),
        watermark=chunk.max_update_date,
        skipped=chunk.skipped,
        last=chunk.last,
    )


__all__ = [
    "API_SOURCE",
    "KAGGLE_SOURCE",
    "OAI_SOURCE",
    "PAPER_SOURCE",
    "ingest_arxiv",
    "ingest_kaggle",
    "ingest_oai",
]
