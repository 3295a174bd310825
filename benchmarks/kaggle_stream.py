"""Benchmark: stream a Kaggle-format arXiv snapshot of at least 1 GB into a fresh store.

Writes ``arxiv-metadata-oai-snapshot.json`` under a work folder in /tmp from the real cs.AI rows
(``$TRENDS_DATA_DIR/arxiv_cs_ai_2025.parquet``), replicated with new arXiv ids until the file
reaches the target size, then runs the function behind ``trends ingest kaggle``
(:func:`pipeline.harvest.ingest_kaggle`, through the same writer and settings, so with the
product's ``TRENDS_DUCKDB_MEMORY_LIMIT``) in a child process and reports records/s and the
child's peak resident memory (:func:`peak_rss_mib`). Not a test: run it by hand.

    .venv/bin/python benchmarks/kaggle_stream.py [--size-gb 1.0 | --papers N] [--chunk-lines 5000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SEQ_PER_MONTH = 99_999
DEFAULT_CHUNK_LINES = 5_000


def new_id(k: int) -> str:
    """The k-th synthetic new-style arXiv id (2030 onwards, so it never meets a real one)."""
    month = k // SEQ_PER_MONTH
    return f"{30 + month // 12:02d}{month % 12 + 1:02d}.{k % SEQ_PER_MONTH + 1:05d}"


def _rfc2822(ts: str) -> str:
    when = datetime.strptime(ts, "%Y-%m-%d %H:%M:%S UTC")
    return f"{when:%a}, {when.day} {when:%b %Y %H:%M:%S} GMT"


def kaggle_lines(rows: list[dict]) -> list[dict]:
    """Kaggle snapshot objects for the rows (ids filled in per copy)."""
    out = []
    for row in rows:
        n = int(str(row["arxiv_version"]).lstrip("v"))
        created = [row["published_ts"]] + [row["updated_ts"]] * (n - 1)
        authors = [a.strip() for a in str(row["authors"]).split(";") if a.strip()]
        out.append(
            {
                "id": None,
                "submitter": authors[0] if authors else None,
                "authors": ", ".join(authors),
                "title": row["title"],
                "comments": row["comment"] or None,
                "journal-ref": None,
                "doi": None,
                "report-no": None,
                "categories": " ".join(row["categories"]),
                "license": None,
                "abstract": "  " + row["abstract"] + "\n",
                "versions": [
                    {"version": f"v{i + 1}", "created": _rfc2822(ts)}
                    for i, ts in enumerate(created)
                ],
                "update_date": row["updated_ts"][:10],
                "authors_parsed": [[a, "", ""] for a in authors],
            }
        )
    return out


def write_snapshot(
    path: Path, target_bytes: int, data_dir: Path, papers: int | None = None
) -> tuple[int, int]:
    """Write the file until it holds ``target_bytes`` (or ``papers`` records); return both."""
    import pandas as pd

    frame = pd.read_parquet(data_dir / "arxiv_cs_ai_2025.parquet")
    frame = frame.astype(object).where(frame.notna(), None)
    rows = frame.to_dict(orient="records")
    for row in rows:
        row["categories"] = list(row["categories"])
    templates = kaggle_lines(rows)
    written = k = 0
    with path.open("w", encoding="utf-8") as fh:
        while written < target_bytes if papers is None else k < papers:
            obj = templates[k % len(templates)]
            obj["id"] = new_id(k)
            line = json.dumps(obj, ensure_ascii=False) + "\n"
            fh.write(line)
            written += len(line.encode("utf-8"))
            k += 1
    return k, path.stat().st_size


def peak_rss_mib() -> float:
    """Peak resident memory of this process since it started (VmHWM), in MiB.

    Not ``getrusage``'s ``ru_maxrss``: Linux carries the parent's resident size at fork into a
    child's ``ru_maxrss`` across exec, so a child of a big parent would report the parent's.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def ingest_child(snapshot: Path, home: Path, chunk_lines: int, memory_limit: str | None) -> None:
    """Child process: ingest the file into a fresh store, print figures as JSON."""
    from pipeline.config import load_settings
    from pipeline.harvest import ingest_kaggle
    from pipeline.runner import writer

    overrides = {"duckdb_memory_limit": memory_limit} if memory_limit else {}
    settings = load_settings(home=home, **overrides)
    started = time.perf_counter()
    with writer(settings) as store:
        summary = ingest_kaggle(store, snapshot, chunk_lines=chunk_lines)
        n_papers = store.scalar("select count(*) from papers")
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "line": summary.line(),
                "received": summary.received,
                "papers": n_papers,
                "seconds": seconds,
                "peak_rss_mib": peak_rss_mib(),
                "memory_limit": settings.duckdb_memory_limit,
                "store_bytes": settings.work_db.stat().st_size,
            }
        )
    )


def main() -> None:
    """Write the snapshot (unless one of the size is there), then time the ingest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--papers", type=int, help="Write this many papers (not --size-gb).")
    parser.add_argument("--chunk-lines", type=int, default=DEFAULT_CHUNK_LINES)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "trends-kaggle-bench"
    )
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument(
        "--memory-limit",
        help="DuckDB memory_limit, e.g. 512MB (default: TRENDS_DUCKDB_MEMORY_LIMIT's)",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the file and the store.")
    parser.add_argument("--child", nargs=2, metavar=("SNAPSHOT", "HOME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        ingest_child(Path(args.child[0]), Path(args.child[1]), args.chunk_lines, args.memory_limit)
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    snapshot = args.workdir / (
        f"arxiv-snapshot-{args.papers}-papers.json"
        if args.papers
        else "arxiv-metadata-oai-snapshot.json"
    )
    target = int(args.size_gb * 1e9)
    if snapshot.exists() and (args.papers or snapshot.stat().st_size >= target):
        print(f"using {snapshot} ({snapshot.stat().st_size / 1e9:.2f} GB)")
    else:
        t0 = time.perf_counter()
        n, size = write_snapshot(snapshot, target, args.data_dir, args.papers)
        took = time.perf_counter() - t0
        print(f"wrote {snapshot}: {n:,} records, {size / 1e9:.2f} GB in {took:.0f}s")
    home = args.workdir / "home"
    shutil.rmtree(home, ignore_errors=True)
    cmd = [sys.executable, __file__, "--chunk-lines", str(args.chunk_lines)]
    if args.memory_limit:
        cmd += ["--memory-limit", args.memory_limit]
    child = subprocess.run(
        [*cmd, "--child", str(snapshot), str(home)], check=True, capture_output=True, text=True
    )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    size = snapshot.stat().st_size
    rate = figures["received"] / figures["seconds"]
    mb_rate = size / 1e6 / figures["seconds"]
    print(figures["line"])
    print(
        f"kaggle stream: {figures['received']:,} records ({size / 1e9:.2f} GB) in "
        f"{figures['seconds']:.0f}s = {rate:,.0f} records/s, {mb_rate:.1f} MB/s; "
        f"peak RSS {figures['peak_rss_mib']:,.0f} MiB; chunk {args.chunk_lines:,} lines; "
        f"DuckDB memory_limit {figures['memory_limit']}; "
        f"store {figures['store_bytes'] / 1e9:.2f} GB"
    )
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
