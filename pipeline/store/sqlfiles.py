"""Named SQL files under ``sql/``."""

from __future__ import annotations

from functools import cache

from pipeline.config import SQL_DIR


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


def split_statements(sql: str) -> list[str]:
    """Split a SQL file on top-level semicolons (our files keep ``;`` out of strings)."""
    lines = [ln for ln in sql.splitlines() if not ln.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


__all__ = ["load_sql", "schema_migrations", "split_statements"]
