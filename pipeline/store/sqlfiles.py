"""Named SQL files under ``sql/``, split into statements by DuckDB's own parser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import duckdb

from pipeline.config import SQL_DIR


@dataclass(frozen=True)
class SqlStatement:
    """One statement of a SQL text and the named parameters (``$name``) it binds."""

    text: str
    parameters: frozenset[str]


@cache
def load_sql(name: str) -> str:
    """Return the text of ``sql/<name>.sql`` (``name`` like ``"marts/topic_shares"``)."""
    path = (SQL_DIR / f"{name}.sql").resolve()
    if SQL_DIR.resolve() not in path.parents:
        raise ValueError(f"SQL name {name!r} points outside {SQL_DIR}")
    return path.read_text(encoding="utf-8")


def schema_migrations() -> list[tuple[int, str, str]]:
    """Ordered ``(version, name, sql)`` of ``sql/schema/NNN_name.sql``."""
    out = []
    for path in sorted((SQL_DIR / "schema").glob("[0-9][0-9][0-9]_*.sql")):
        version = int(path.name[:3])
        out.append((version, path.stem, path.read_text(encoding="utf-8")))
    versions = [v for v, _, _ in out]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers in {SQL_DIR / 'schema'}: {versions}")
    return out


@cache
def parse_statements(sql: str) -> tuple[SqlStatement, ...]:
    """The statements of a SQL text as DuckDB parses them, each with its named parameters.

    DuckDB's parser (``duckdb.extract_statements``) splits where DuckDB would: a ``;`` inside a
    string or a comment does not end a statement, and a text of comments alone holds none.
    Positional parameters (``?``) are reported by number ("1", "2", ...). A syntax error
    raises DuckDB's ``ParserException`` naming the line.
    """
    return tuple(
        SqlStatement(_without_comment_lines(s.query), frozenset(s.named_parameters))
        for s in duckdb.extract_statements(sql)
    )


@cache
def file_statements(name: str) -> tuple[SqlStatement, ...]:
    """:func:`parse_statements` of ``sql/<name>.sql``."""
    try:
        return parse_statements(load_sql(name))
    except duckdb.ParserException as exc:
        first = str(exc).splitlines()[0]
        raise ValueError(f"sql/{name}.sql does not parse: {first}") from exc


def split_statements(sql: str) -> list[str]:
    """The statements of a SQL text, in order, as text (see :func:`parse_statements`)."""
    return [s.text for s in parse_statements(sql)]


def _without_comment_lines(text: str) -> str:
    """A statement's text without whole-line comments and without the closing ``;``.

    The parser leaves the comments before a statement in its text, and the last statement of
    a text keeps its ``;`` and what follows it on that line.
    """
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("--")]
    return _CLOSING.sub("", "\n".join(lines)).strip()


_CLOSING = re.compile(r";\s*(--[^\n]*)?\s*$")


__all__ = [
    "SqlStatement",
    "file_statements",
    "load_sql",
    "parse_statements",
    "schema_migrations",
    "split_statements",
]
