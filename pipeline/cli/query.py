"""`trends sql`: a read-only query of the published database, printed as a table, CSV or JSON."""

from __future__ import annotations

import json
import re
import sys
from datetime import date, datetime
from typing import Annotated

import typer
from rich.table import Table

from pipeline.cli.app import app, ctx, out
from pipeline.cli.guard import guarded

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@app.command()
@guarded
def sql(
    query: Annotated[str, typer.Argument(help="A read-only SQL query.")],
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    limit: Annotated[int, typer.Option(min=1, help="Rows to print at most (table format).")] = 50,
) -> None:
    """Run a read-only query on the published database and print the result."""
    from pipeline.store import open_reader

    if fmt not in ("table", "csv", "json"):
        raise typer.BadParameter(f"--format {fmt!r}: choose table, csv or json")
    with open_reader(ctx.settings.published_db) as store:
        frame = store.query(query)
    if fmt == "csv":
        frame.to_csv(sys.stdout, index=False)
        return
    if fmt == "json":
        sys.stdout.write(
            frame.to_json(orient="records", date_format="iso", default_handler=str) + "\n"
        )
        return
    table = Table(show_lines=False)
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*(cell_text(v) for v in row))
    out.print(table)
    shown = min(limit, len(frame))
    out.print(f"sql: {len(frame):,} rows ({shown:,} shown)")


def cell_text(value: object) -> str:
    """A value as a table cell: dates in ISO, control characters shown, long text cut."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)[:200]
    # control characters (terminal escape sequences among them) are shown, not sent
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
    return text if len(text) <= 200 else text[:197] + "..."
