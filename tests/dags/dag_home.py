"""A fresh Airflow and trends home for `dag.test()` scripts, and running one script there.

The DAG tests that run DAGs in a subprocess (test_dag_run, test_dag_feed, test_backend_chain)
each get their own SQLite metadata database and TRENDS_HOME under ``tmp_path``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO

DAGS = REPO / "dags"


def dag_test_env(
    tmp_path: Path, *, drop: frozenset[str] = frozenset(), **extra: str
) -> tuple[dict[str, str], Path]:
    """The environment of a fresh home under ``tmp_path`` (metadata migrated), and TRENDS_HOME.

    ``drop`` names variables of this process to leave out; ``extra`` adds or overrides others.
    """
    home = tmp_path / "trends"
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        TRENDS_HOME=str(home),
        HF_HUB_OFFLINE="1",
    )
    env.update(extra)
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run(
        [airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600
    )
    return env, home


def run_dag_code(
    env: dict[str, str], code: str, *args: str, timeout: int = 1200
) -> tuple[subprocess.CompletedProcess, str]:
    """Run ``code`` with the DAG folder and ``args`` as its arguments; fail unless it exits 0.

    Returns the process and the tail of its output, for assertion messages.
    """
    proc = subprocess.run(
        [sys.executable, "-c", code, str(DAGS), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    log = proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.returncode == 0, log
    return proc, log
