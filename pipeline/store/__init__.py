"""The store: the only code that opens DuckDB.

Stages hand it frames and named SQL files; it hands back frames. Values always travel as bound
parameters. Writers take a process lock first, so a second writer gets a clear message instead of
DuckDB's lock error.
"""

from pipeline.store.db import Store, open_reader, open_writer
from pipeline.store.lock import StoreLockedError
from pipeline.store.sqlfiles import load_sql

__all__ = ["Store", "StoreLockedError", "load_sql", "open_reader", "open_writer"]
