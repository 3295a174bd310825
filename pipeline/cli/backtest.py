"""``trends backtest``: every status call made again point-in-time and scored (docs/backtest.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli.app import app, console, ctx, out, parse_date
from pipeline.cli.guard import guarded


@app.command()
@guarded
def backtest(
    date_from: Annotated[str, typer.Option("--from", help="First cut-off's period (YYYY-MM-DD).")],
    date_to: Annotated[str, typer.Option("--to", help="Last cut-off's period (YYYY-MM-DD).")],
    grain: Annotated[str, typer.Option(help="Cut-offs at year or month ends.")] = "year",
    tune_until: Annotated[
        int | None, typer.Option(help="Yearly cut-offs up to this year are the tuning split.")
    ] = 2016,
    topics_mode: Annotated[
        str, typer.Option("--topics", help="refit (a fit per cut-off) or place (one fit).")
    ] = "refit",
    fit_budget: Annotated[int, typer.Option(min=20, help="Papers a fit clusters at most.")] = 4000,
    source: Annotated[
        str | None, typer.Option(help="Only this source's papers (e.g. arxiv); default all.")
    ] = None,
    tune: Annotated[
        bool, typer.Option("--tune", help="Also tune the status rules on the tuning split.")
    ] = False,
    cache: Annotated[
        Path | None,
        typer.Option(help="Folder for the cut-offs' share series: reused when they match."),
    ] = None,
) -> None:
    """Make every call again point-in-time at each cut-off and score it (docs/backtest.md)."""
    from pipeline.backtest import BacktestParams, backtest_stage
    from pipeline.runner import writer

    start, end = parse_date(date_from), parse_date(date_to)
    try:
        params = BacktestParams(
            start, end, grain, tune_until, topics_mode, fit_budget, source=source
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with writer(ctx.settings) as store:
        lines = backtest_stage(
            store, ctx.settings, params, say=console.print, cache_dir=cache, tune=tune
        )
        for line in lines:
            out.print(line)
