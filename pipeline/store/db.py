"""DuckDB connections, migrations, transactions, named SQL files and spools.

The writer lock is :mod:`pipeline.store.lock`; the atomic copy that publish makes is
:mod:`pipeline.store.copy`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.faults import crash_point
from pipeline.store.copy import copy_database
from pipeline.store.lock import StoreLockedError, writer_lock
from pipeline.store.sqlfiles import (
    SqlStatement,
    file_statements,
    parse_statements,
    schema_migrations,
)

Params = Mapping[str, Any] | Sequence[Any] | None

# A reader that runs SQL typed by a person (`trends sql`) sees the database file and nothing
# else: no COPY TO / EXPORT, no read_text / read_csv / glob of other files, no ATTACH, no URL,
# no INSTALL or LOAD of an extension (DuckDB's "Securing DuckDB" settings). Set when the
# database opens (its own file stays readable) and locked, so a query cannot SET them back.
SEALED_CONFIG: dict[str, str | bool] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


class Store:
    """A DuckDB connection with the project's conventions.

    Use :func:`open_writer` or :func:`open_reader` rather than the constructor.
    """

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool,
        memory_limit: str | None = None,
        sealed: bool = False,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.sealed = sealed
        config: dict[str, str | bool] = {"preserve_insertion_order": True}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if sealed:
            config.update(SEALED_CONFIG)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            raise StoreLockedError(
                f"cannot open {self.path}: {exc}. Query the published copy with `trends sql`."
            ) from exc

    # -- schema -------------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply pending migrations from ``sql/schema`` in order; return the names applied."""
        self.con.execute(
            "create table if not exists schema_version ("
            " version integer primary key, name varchar not null,"
            " applied_at timestamp not null default current_timestamp)"
        )
        done = {r[0] for r in self.con.execute("select version from schema_version").fetchall()}
        applied = []
        for version, name, sql in schema_migrations():
            if version in done:
                continue
            with self.transaction():
                for stmt in parse_statements(sql):
                    self.con.execute(stmt.text)
                self.con.execute(
                    "insert into schema_version (version, name) values (?, ?)", [version, name]
                )
            applied.append(name)
        return applied

    def schema_version(self) -> int:
        """Highest applied migration number (0 for an empty database)."""
        row = self.con.execute("select coalesce(max(version), 0) from schema_version").fetchone()
        return int(row[0]) if row else 0

    # -- execution ----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Run the block atomically: all of it commits or none of it does."""
        self.con.execute("begin transaction")
        try:
            yield self
        except BaseException:
            self.con.execute("rollback")
            raise
        else:
            crash_point("before_commit")  # test-only crash points (pipeline/faults.py)
            self.con.execute("commit")
            crash_point("middle")

    def execute(self, sql: str, params: Params = None) -> None:
        """Execute one statement with bound parameters."""
        self.con.execute(sql, params)

    def run_file(self, name: str, params: Params = None) -> None:
        """Execute every statement of ``sql/<name>.sql`` with the same named parameters."""
        for stmt in file_statements(name):
            self.con.execute(stmt.text, _params_used(stmt, params))

    def query(self, sql: str, params: Params = None) -> pd.DataFrame:
        """Run a query and return a DataFrame."""
        return self.con.execute(sql, params).df()

    def query_arrow(self, sql: str, params: Params = None) -> pa.Table:
        """Run a query and return an Arrow table (for large numeric columns such as vectors)."""
        return self.con.execute(sql, params).fetch_arrow_table()

    def stream_arrow(
        self, sql: str, params: Params = None, batch_rows: int = 20_000
    ) -> Iterator[pa.RecordBatch]:
        """Run a query on a second cursor and yield its rows in Arrow batches.

        Memory stays bounded by a batch, and the caller may write through this store while
        it reads (the cursor sees the data as committed when the query started). Rows come in
        no particular order unless the query orders them: keeping insertion order made DuckDB
        hold a million-row join in memory, past its limit (this cursor's session only). A
        sealed reader's configuration is locked, so it streams in insertion order.
        """
        cursor = self.con.cursor()
        try:
            if not self.sealed:
                cursor.execute("set session preserve_insertion_order = false")
            yield from cursor.execute(sql, params).fetch_record_batch(batch_rows)
        finally:
            cursor.close()

    def stream_file(
        self, name: str, params: Params = None, batch_rows: int = 20_000
    ) -> Iterator[pa.RecordBatch]:
        """:meth:`stream_arrow` of the single query of ``sql/<name>.sql``."""
        stmt = _single(name)
        yield from self.stream_arrow(stmt.text, _params_used(stmt, params), batch_rows)

    def spool(
        self, sql: str, params: Params, path: Path, batch_rows: int = 20_000, *, parts: int = 1
    ) -> int:
        """Write a query's rows to a Parquet file, streamed; returns how many.

        Memory stays bounded by a batch, and the caller then reads the file at its own pace
        with no DuckDB query open while it works or writes. A query without rows gives a file
        without columns (no batches). With ``parts`` > 1 the query runs once per part with the
        named parameters ``parts`` and ``part`` (0 .. parts - 1) added, and the file gets the
        rows of every run: a query that partitions a large join on them holds one part at a
        time.
        """
        (stmt,) = parse_statements(sql)
        runs: list[Params] = [params]
        if params is None or isinstance(params, Mapping):
            runs = [{**(params or {}), "parts": parts, "part": part} for part in range(parts)]
        elif parts > 1:
            raise TypeError("a query spooled in parts takes named parameters")
        writer: pq.ParquetWriter | None = None
        rows = 0
        try:
            for run in runs:
                for batch in self.stream_arrow(sql, _params_used(stmt, run), batch_rows):
                    if writer is None:
                        writer = pq.ParquetWriter(path, batch.schema)
                    writer.write_batch(batch.cast(writer.schema))
                    rows += batch.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            pq.write_table(pa.table({}), path)
        return rows

    @staticmethod
    def read_spool(path: Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Read a file :meth:`spool` wrote, ``batch_rows`` rows at a time.

        Without pre-buffering: pyarrow's default reader kept every row group it had read, so
        reading a 1M-paper spool of vectors and texts grew to 3.3 GB (on a 200k-row test file,
        allocations grew 114 -> 359 MB with the default and stayed at 85 MB without).
        """
        reader = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
        try:
            yield from reader.iter_batches(batch_size=batch_rows)
        finally:
            reader.close()

    def spool_file(self, name: str, params: Params, path: Path, *, parts: int = 1) -> int:
        """:meth:`spool` of the single query of ``sql/<name>.sql``."""
        return self.spool(_single(name).text, params, path, parts=parts)

    def memory_limit_bytes(self) -> int:
        """DuckDB's memory limit for this connection, in bytes."""
        text = str(self.scalar("select current_setting('memory_limit')"))
        return parse_size(text)

    def count_file(self, name: str, params: Params = None) -> int:
        """How many rows the single query of ``sql/<name>.sql`` returns, without fetching them."""
        stmt = _single(name)
        counted = f"select count(*) from (\n{stmt.text}\n)"
        return int(self.scalar(counted, _params_used(stmt, params)))

    def register_arrow(self, name: str, table: pa.Table) -> None:
        """Expose an Arrow table to SQL as a view named ``name``."""
        self.con.register(name, table)

    def query_file(self, name: str, params: Params = None) -> pd.DataFrame:
        """Run the single query of ``sql/<name>.sql`` and return a DataFrame."""
        stmt = _single(name)
        return self.con.execute(stmt.text, _params_used(stmt, params)).df()

    def scalar_file(self, name: str, params: Params = None) -> Any:
        """:meth:`scalar` of the single query of ``sql/<name>.sql``."""
        stmt = _single(name)
        row = self.con.execute(stmt.text, _params_used(stmt, params)).fetchone()
        return row[0] if row else None

    def query_arrow_file(self, name: str, params: Params = None) -> pa.Table:
        """:meth:`query_arrow` of the single query of ``sql/<name>.sql``."""
        stmt = _single(name)
        return self.con.execute(stmt.text, _params_used(stmt, params)).fetch_arrow_table()

    def scalar(self, sql: str, params: Params = None) -> Any:
        """Run a query and return the first column of its first row (None when empty)."""
        row = self.con.execute(sql, params).fetchone()
        return row[0] if row else None

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Expose a DataFrame to SQL as a view named ``name`` (for loads from stages)."""
        self.con.register(name, frame)

    def unregister(self, name: str) -> None:
        """Drop a view made by :meth:`register`."""
        self.con.unregister(name)

    def table_exists(self, name: str) -> bool:
        """Whether a table or view of that name exists in the main schema."""
        return bool(
            self.scalar(
                "select count(*) from information_schema.tables"
                " where table_schema = 'main' and table_name = ?",
                [name],
            )
        )

    def checkpoint(self) -> None:
        """Flush the write-ahead log into the database file."""
        self.con.execute("checkpoint")

    def publish_copy(self, dest: Path) -> int:
        """Copy this (writer's) database to ``dest`` atomically; return its size in bytes.

        See :func:`pipeline.store.copy.copy_database`.
        """
        if self.read_only:
            raise RuntimeError("publish from the writer's connection")
        self.checkpoint()
        crash_point("middle")
        return copy_database(self.path, Path(dest))

    def close(self) -> None:
        """Close the connection."""
        self.con.close()


_UNITS = {"": 1, "b": 1, "bytes": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}  # fmt: skip


def parse_size(text: str) -> int:
    """Bytes in a size as DuckDB writes it ("244.1 MiB", "1GB", "512 bytes")."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _single(name: str) -> SqlStatement:
    """The one statement of ``sql/<name>.sql``; a clear error when it holds several."""
    found = file_statements(name)
    if len(found) != 1:
        raise ValueError(f"sql/{name}.sql holds {len(found)} statements; expected one query")
    return found[0]


def _params_used(stmt: SqlStatement, params: Params) -> Params:
    """Pass only the named parameters a statement binds (DuckDB rejects extra ones).

    The names come from DuckDB's parser (:class:`SqlStatement`), so a ``$name`` inside a
    string or a comment is not taken for a parameter.
    """
    if params is None or not isinstance(params, Mapping):
        return params
    used = {k: v for k, v in params.items() if k in stmt.parameters}
    return used or None


@contextmanager
def open_writer(
    path: Path, lock_path: Path | None = None, *, memory_limit: str | None = None
) -> Iterator[Store]:
    """Open the working database for writing, migrated, holding the writer lock.

    ``memory_limit`` caps DuckDB's buffer pool (its cache of the database's pages, which
    otherwise grows up to 80% of RAM while a large ingest writes); DuckDB spills beyond it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(lock_path or path.with_suffix(".lock")):
        store = Store(path, read_only=False, memory_limit=memory_limit)
        try:
            store.migrate()
            yield store
        finally:
            store.close()


@contextmanager
def open_reader(path: Path) -> Iterator[Store]:
    """Open a database read-only (the published copy, for readers), sealed.

    The connection reaches no file but the database and no network (:data:`SEALED_CONFIG`):
    a query that tries fails with DuckDB's ``Permission Error: ... disabled by configuration``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no database at {path}; run `trends run` or `trends publish`")
    store = Store(path, read_only=True, sealed=True)
    try:
        yield store
    finally:
        store.close()
