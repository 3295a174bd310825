"""Tools of the crash tests: run `trends` in a fresh process cheaply, and fingerprint a home.

`trends` processes are forked from a multiprocessing fork server that has imported the
pipeline and its heavy libraries (torch, sentence-transformers, BERTopic) once: a child starts
in milliseconds instead of the 20-40 CPU-seconds those imports cost on two cores, and it is
still a separate process that SIGKILL ends. The server only imports; it never runs a model, so
no thread pool exists when it forks. A child runs the real command-line entry point
(``pipeline.cli.app``) with its output in a log file.

Fingerprints compare what a run leaves behind (:func:`store_checksums`, :func:`site_digest`,
:func:`home_listing`) while ignoring exactly the values that legitimately differ between two
runs of the same work: the times rows were written and the ids of the attempts that wrote them.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb

# Imported by the fork server before it forks any child (import only, no model is loaded).
PRELOAD = ["pipeline.cli", "pipeline.runner", "sentence_transformers", "bertopic"]

_context = None


def _fork_context():
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        here = str(Path(__file__).parent)
        if here not in sys.path:  # the server imports this module to run the children
            sys.path.insert(0, here)
        _context.set_forkserver_preload([*PRELOAD, "crashkit"])
    return _context


def _child(argv: list[str], env: dict[str, str], log: str) -> None:
    """Body of a forked `trends` process: the CLI entry point, output into ``log``."""
    os.environ.update(env)
    fh = open(log, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    os.dup2(fh.fileno(), 1)
    os.dup2(fh.fileno(), 2)
    sys.stdout = sys.stderr = fh
    from pipeline.cli import app

    code = 0
    try:
        app(argv, prog_name="trends")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    fh.flush()
    os._exit(code)


def start_trends(home: Path, *args: str, fault: str | None = None, log: Path | None = None):
    """Start ``trends --home HOME ARGS...`` in a forked process; returns the Process."""
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env["TRENDS_FAULT"] = fault or ""
    log = log or Path(home).parent / f"{Path(home).name}.log"
    proc = _fork_context().Process(
        target=_child, args=(["--home", str(home), *args], env, str(log)), daemon=False
    )
    proc.start()
    proc.log = log
    return proc


def run_trends(home: Path, *args: str, fault: str | None = None) -> tuple[int, str]:
    """Run ``trends --home HOME ARGS...`` in a forked process; (exit code, its output).

    The exit code is negative for a signal, as in :mod:`subprocess` (-9: SIGKILL).
    """
    fd, name = tempfile.mkstemp(prefix=f"{Path(home).name}-", suffix=".log", dir=Path(home).parent)
    os.close(fd)
    log = Path(name)
    proc = start_trends(home, *args, fault=fault, log=log)
    proc.join()
    text = log.read_text(errors="replace") if log.exists() else ""
    log.unlink(missing_ok=True)
    return proc.exitcode, text


def copy_home(src: Path, dest: Path) -> Path:
    """A copy of a trends home (the site symlink stays a relative symlink)."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


# -- fingerprints -------------------------------------------------------------------------------
# Columns that say when, or by which attempt, a row was written. Two runs of the same work
# differ there and nowhere else; everything not listed here is compared.
VOLATILE_COLUMNS = {
    "schema_version": {"applied_at"},
    "papers": {"first_run_id", "last_run_id", "ingested_at", "updated_at"},
    "raw_records": {"first_run_id", "received_at"},
    "rejected_records": {"run_id", "rejected_at"},
    "source_watermarks": {"run_id", "updated_at"},
    "ingest_state": {"run_id", "updated_at"},
    "paper_embeddings": {"embedded_at"},
    "topic_runs": {"created_at", "fit_seconds"},
    "paper_topics": {"assigned_at"},
    "mart_builds": {"built_at"},
    "topic_updates": {"created_at", "seconds"},
    "novelty_pool": {"pooled_at"},
    "report_editions": {"built_at", "recorded_at"},
}
# ingest_runs is a log with one row per attempt: a run that was killed and run again leaves
# more rows than one that was not, by design. Its rows are checked for consistency instead.
LOG_TABLES = {"ingest_runs"}
# Ids of topic fits and updates hold their time; they are compared as their rank in time
# (fit#1, update#1, ...): column -> (table that lists the ids, its id column, rank prefix).
RUN_ID_COLUMNS = {
    "topic_run_id": ("topic_runs", "topic_run_id", "fit"),
    "previous_run_id": ("topic_runs", "topic_run_id", "fit"),
    "update_run_id": ("topic_updates", "update_run_id", "update"),
    "last_update_run_id": ("topic_updates", "update_run_id", "update"),
}


def run_ids(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each fit or update id -> its rank in time (``fit#1`` is the first fit)."""
    ranks = {}
    for table, column, prefix in set(RUN_ID_COLUMNS.values()):
        exists = con.execute(
            "select count(*) from information_schema.tables where table_name = ?", [table]
        ).fetchone()[0]
        if exists:
            rows = con.execute(f"select {column} from {table} order by created_at").fetchall()
            ranks.update({r[0]: f"{prefix}#{i}" for i, r in enumerate(rows, start=1)})
    return ranks


def store_checksums(db: Path) -> dict[str, tuple[int, str]]:
    """Per base table: (row count, order-independent hash of its rows).

    Volatile columns (:data:`VOLATILE_COLUMNS`) are left out and fit ids replaced by their
    rank, so two stores that hold the same data compare equal.
    """
    with duckdb.connect(str(db), read_only=True) as con:
        ranks = run_ids(con)
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables"
                " where table_schema = 'main' and table_type = 'BASE TABLE' order by 1"
            ).fetchall()
        ]
        out = {}
        for table in tables:
            if table in LOG_TABLES:
                continue
            columns = [
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = 'main' and table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
                if r[0] not in VOLATILE_COLUMNS.get(table, set())
            ]
            id_cols = [i for i, c in enumerate(columns) if c in RUN_ID_COLUMNS]
            select = ", ".join(f'"{c}"' for c in columns)
            digests = []
            for row in con.execute(f'select {select} from "{table}"').fetchall():
                row = list(row)
                for i in id_cols:
                    row[i] = ranks.get(row[i], row[i])
                digests.append(hashlib.sha256(repr(row).encode()).hexdigest())
            total = hashlib.sha256("".join(sorted(digests)).encode()).hexdigest()[:16]
            out[table] = (len(digests), total)
    return out


# Times the pages show: when the site was rendered and when the last ingest ran (to the
# minute), and how long the fit took (the About page).
_CLOCK = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")
_FIT_TIME = re.compile(r"(<th>Fit time</th><td>)[\d.,]+ s<")
# feed.xml: Atom times (when an edition was built and recorded) and the ids named by them
_ATOM_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_FEED_ID = re.compile(r"urn:uuid:[0-9a-f-]{36}")


def site_digest(site: Path, db: Path) -> dict[str, str]:
    """Relative path -> hash of each file of a site, with clock times, timings, fit ids masked."""
    with duckdb.connect(str(db), read_only=True) as con:
        fits = {k: v for k, v in run_ids(con).items() if v.startswith("fit#")}
        created = {
            str(r[0]): str(r[1])
            for r in con.execute("select topic_run_id, created_at from topic_runs").fetchall()
        }
    root = Path(site).resolve()
    out = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        text = _FIT_TIME.sub(r"\1<seconds> s<", _CLOCK.sub("<time> UTC", text))
        text = _FEED_ID.sub("urn:uuid:<edition>", _ATOM_TIME.sub("<atom time>", text))
        for run_id, rank in fits.items():
            text = text.replace(run_id, rank).replace(created[run_id], f"{rank} created")
        out[str(path.relative_to(root))] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return out


_BUILD_DIR = re.compile(r"^\.site-[A-Za-z0-9_]{8}$")


def home_listing(home: Path) -> list[str]:
    """Every path under a home; the site's build folder (a random name) shown as ``.site-*``."""
    out = []
    for path in sorted(Path(home).rglob("*")):
        parts = path.relative_to(home).parts
        parts = tuple(".site-*" if _BUILD_DIR.match(p) else p for p in parts)
        if parts and parts[0] == ".site-*" and len(parts) > 1:
            continue  # the site's files are compared by site_digest
        out.append("/".join(parts))
    return sorted(set(out))


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def published_state(db: Path) -> dict[str, int]:
    """Open the published database read-only and check that its tables agree with each other.

    Returns the papers, embedded papers, papers placed in the current fit and mart rows.
    """
    with duckdb.connect(str(db), read_only=True) as con:

        def one(sql: str) -> int:
            return con.execute(sql).fetchone()[0]

        fit = con.execute(
            "select topic_run_id from topic_runs order by created_at desc limit 1"
        ).fetchone()[0]
        state = {
            "papers": one("select count(*) from papers"),
            "embedded": one(
                "select count(*) from paper_embeddings e join papers p"
                " on p.paper_id = e.paper_id and p.content_hash = e.content_hash"
            ),
            "placed": con.execute(
                "select count(*) from paper_topics where topic_run_id = ?", [fit]
            ).fetchone()[0],
            "topic_shares": one("select count(*) from topic_shares"),
        }
        assert state["papers"] == state["embedded"] == state["placed"], state
        assert one("select topic_run_id from mart_builds") == fit
        bad_shares = one(
            "select count(*) from (select source, period_grain, period_start, sum(share) as s"
            " from topic_shares group by all having abs(s - 1) > 1e-9)"
        )
        assert bad_shares == 0
        orphans = con.execute(
            "select count(*) from paper_topics pt left join topics t"
            " using (topic_run_id, topic_id) where t.topic_id is null and pt.topic_run_id = ?",
            [fit],
        ).fetchone()[0]
        assert orphans == 0
        runs = one(
            "select count(*) from ingest_runs where status = 'complete'"
            " and n_received <> n_new + n_updated + n_unchanged + n_rejected"
        )
        assert runs == 0, "an ingest run whose counts do not add up"
    return state
