"""The `trends` command: every stage by hand, the same functions the DAGs call.

``app`` (the console script ``trends`` and ``python -m pipeline``) is assembled here from the
command modules: :mod:`.stages` (init, embed, topics, analyze, report, publish, run),
:mod:`.ingest` (``trends ingest ...``), :mod:`.query` (``trends sql``), :mod:`.backtest`
(``trends backtest``) and :mod:`.extras` (``trends themes ...``, ``trends models ...``).
Every command runs under :func:`.guard.guarded`, which turns any failure into one line on
stderr and exit status 1.
"""

# The stage commands register first: the order of registration is the order of `trends --help`.
from pipeline.cli import stages  # noqa: I001
from pipeline.cli import backtest, extras, ingest, query
from pipeline.cli.app import app

__all__ = ["app", "backtest", "extras", "ingest", "query", "stages"]

if __name__ == "__main__":  # pragma: no cover
    app()
