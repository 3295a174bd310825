"""trends_backtest: every call the report makes, made again point-in-time and scored.

Runs only when triggered (a backtest refits topics at every cut-off: minutes to an hour).

1. `backtest` (writer): for each cut-off (the end of every year or month from *first cut-off*
   to *last cut-off*) fits topics on the papers published up to it alone, in a scratch store,
   builds the marts and statuses as of it, and scores each call against what the later
   cut-offs show, next to two baselines (last period's change, raw count growth). Writes
   `backtest_runs`, `backtest_calls` and `backtest_scores` to the working store; the next
   `trends_report` run shows them on the report's Track record page.

The form: *grain* `year` for the conference proceedings (cut-offs up to *tuning split* are the
tuning split, later ones are scored), `month` for arXiv (every cut-off scored; *source* `arxiv`
fits on arXiv papers only); *topics* `refit` (a fit per cut-off) or `place` (one fit, later
papers placed into it); *fit budget* caps the papers a fit clusters; *tune rules* also tunes
the status rules on the tuning split and logs the choice (docs/backtest.md).

The task holds the one-slot `trends_writer` pool like every other writer task.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task
from trends_common import DEFAULT_ARGS, TAGS, WRITER_POOL


@dag(
    dag_id="trends_backtest",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    description=(
        "Backtests the report's calls: point-in-time topic fits at each past cut-off, each call "
        "scored against what followed, beside two baselines. Trigger by hand."
    ),
    tags=[*TAGS, "backtest"],
    doc_md=__doc__,
    params={
        "date_from": Param(
            "2010-01-01",
            type="string",
            format="date",
            title="First cut-off",
            description="The period (year or month) holding this date ends the first cut-off.",
        ),
        "date_to": Param(
            "2024-12-31",
            type="string",
            format="date",
            title="Last cut-off",
            description="The period holding this date ends the last cut-off (YYYY-MM-DD).",
        ),
        "grain": Param(
            "year",
            type="string",
            enum=["year", "month"],
            title="Grain",
            description="Cut-offs at the end of every year (conferences) or month (arXiv).",
        ),
        "topics": Param(
            "refit",
            type="string",
            enum=["refit", "place"],
            title="Topics",
            description="refit: a topic fit per cut-off. place: the first cut-off's fit only.",
        ),
        "fit_budget": Param(
            4000,
            type="integer",
            minimum=20,
            title="Fit budget",
            description="Papers a fit clusters at most (period-balanced sample; the rest placed).",
        ),
        "source": Param(
            None,
            type=["null", "string"],
            pattern="^[A-Za-z0-9_.-]{1,64}$",
            title="Source",
            description="Only this source's papers (e.g. arxiv). Empty: every source.",
        ),
        "tune_until": Param(
            2016,
            type=["null", "integer"],
            title="Tuning split",
            description="Yearly cut-offs up to this year are the tuning split. Empty: none.",
        ),
        "tune": Param(
            False,
            type="boolean",
            title="Tune rules",
            description="Also tune the status rules on the tuning split and log the choice.",
        ),
    },
)
def trends_backtest() -> None:
    """One task: the whole backtest."""

    @task(pool=WRITER_POOL)
    def backtest(params: dict | None = None) -> str:
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline.backtest import backtest_stage, params_from_form
        from pipeline.runner import ParamsError, run_settings, writer
        from pipeline.tasklog import log_summary

        params = params or {}
        try:
            backtest_params = params_from_form(params)
        except ParamsError as exc:  # retrying cannot fix a parameter; the message says it all
            raise AirflowFailException(str(exc)) from None
        settings = run_settings(params)
        with writer(settings) as store:
            lines = backtest_stage(store, settings, backtest_params, tune=bool(params.get("tune")))
        line = log_summary(lines[0])
        for score_line in lines[1:]:
            print(score_line)
        return line

    backtest()


trends_backtest()
