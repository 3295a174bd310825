"""Benchmark: one more day of papers into a store with a full topic fit, end to end.

Builds (once) a base store that holds every paper of ``arxiv_cs_ai_2025.parquet`` published
before its last day, with their embeddings copied from an already embedded store
(``--embedded``, e.g. a store after `trends run` on the whole corpus) and a full topic fit.
Then, on a fresh copy of that base, it times the three commands of a daily increment as
separate processes (process start and imports included):

    trends ingest file <the last day's papers>.parquet
    trends embed
    trends topics --update

and prints each command's wall time and summary line, and the total. Not a test: run it by hand.

    .venv/bin/python benchmarks/update_day.py --embedded /tmp/full_corpus_embedded.duckdb \
        [--workdir /tmp/trends-update-bench] [--days 1] [--seed 42] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def last_days(corpus: Path, days: int) -> tuple[date, date]:
    """First and last date of the corpus's last ``days`` publication days (calendar days)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    published = pq.read_table(corpus, columns=["published"]).column("published")
    last = date.fromisoformat(str(pc.max(published)))
    return last - timedelta(days=days - 1), last


def write_window(corpus: Path, start: date, dest: Path) -> int:
    """The corpus rows published on or after ``start``, as a Parquet file; returns the count."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(corpus)
    rows = table.filter(pc.greater_equal(table.column("published"), start.isoformat()))
    pq.write_table(rows, dest)
    return rows.num_rows


def build_base(home: Path, corpus: Path, embedded: Path, before: date, seed: int) -> dict:
    """Ingest the papers published before ``before``, copy their embeddings, fit topics."""
    import pyarrow.compute as pc

    from pipeline.config import load_settings
    from pipeline.embed import model_name
    from pipeline.ingest import ingest_file
    from pipeline.runner import writer
    from pipeline.store import open_reader
    from pipeline.topics.stage import fit_and_store

    settings = load_settings(home=home)
    model = model_name(settings.embedding_backend)
    with open_reader(embedded) as source:
        vectors = source.query_arrow(
            "select paper_id, model, content_hash, embedding from paper_embeddings where model = ?",
            [model],
        )
    with writer(settings) as store:
        ingested = ingest_file(store, corpus, published_to=before - timedelta(days=1))
        papers = store.query_arrow("select paper_id, content_hash from papers")
        keys = pc.binary_join_element_wise(
            vectors.column("paper_id"), vectors.column("content_hash"), "\x1f"
        )
        wanted = pc.binary_join_element_wise(
            papers.column("paper_id"), papers.column("content_hash"), "\x1f"
        )
        vectors = vectors.filter(pc.is_in(keys, value_set=wanted))
        store.register_arrow("incoming_embeddings", vectors)
        try:
            with store.transaction():
                store.run_file(
                    "ops/upsert_embeddings", {"now": datetime.now(UTC).replace(tzinfo=None)}
                )
        finally:
            store.unregister("incoming_embeddings")
        missing = store.scalar("select count(*) from papers") - vectors.num_rows
        started = time.perf_counter()
        fit = fit_and_store(store, model, seed)
        fit_seconds = time.perf_counter() - started
    return {
        "ingest": ingested.line(),
        "embeddings_copied": vectors.num_rows,
        "papers_without_embedding": missing,
        "fit": fit.line(),
        "fit_seconds": round(fit_seconds, 1),
    }


def timed(home: Path, *args: str) -> tuple[float, str]:
    """Run one `trends` command; return its wall time and its last output line."""
    env = {**os.environ, "TRENDS_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "trends"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"trends {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
    return seconds, lines[-1] if lines else ""


def main() -> None:
    """Build the base store once, then time the daily increment on a fresh copy of it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedded", type=Path, required=True, help="An embedded store.")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "trends-update-bench"
    )
    parser.add_argument("--days", type=int, default=1, help="Days in the increment.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rebuild", action="store_true", help="Rebuild the base store.")
    args = parser.parse_args()

    corpus = args.data_dir / "arxiv_cs_ai_2025.parquet"
    start, last = last_days(corpus, args.days)
    base = args.workdir / f"base-before-{start}-s{args.seed}"
    base_db = base / "work" / "trends.duckdb"
    if args.rebuild:
        shutil.rmtree(base, ignore_errors=True)
    if not base_db.exists():
        info = build_base(base, corpus, args.embedded, start, args.seed)
        (base / "base.json").write_text(json.dumps(info, indent=2))
    print("base:", (base / "base.json").read_text())

    home = args.workdir / "run"
    shutil.rmtree(home, ignore_errors=True)
    (home / "work").mkdir(parents=True)
    shutil.copyfile(base_db, home / "work" / "trends.duckdb")
    day_file = args.workdir / f"papers-{start}-to-{last}.parquet"
    n_rows = write_window(corpus, start, day_file)
    print(f"increment: {n_rows} papers published {start}..{last}")

    steps = [("ingest", ("ingest", "file", str(day_file))), ("embed", ("embed",)),
             ("topics --update", ("topics", "--update"))]  # fmt: skip
    total = 0.0
    for name, command in steps:
        seconds, line = timed(home, *command)
        total += seconds
        print(f"{name:16s} {seconds:6.1f} s  {line}")
    load = os.getloadavg()[0]
    print(f"{'total':16s} {total:6.1f} s  (load average {load:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
