"""`dag.test()` of the whole chain on a small real slice, in its own Airflow home."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import ARXIV, REPO

pytestmark = pytest.mark.e2e


def test_dag_runs_every_stage_to_success(tmp_path):
    home = tmp_path / "trends"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "TRENDS_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
    }
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run(
        [airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600
    )
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from research_trends import research_trends;"
        "run = research_trends().test(run_conf={'sample': 300, 'input_path': sys.argv[2]});"
        "print('DAGRUN', run.state); sys.exit(0 if run.state == 'success' else 1)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(REPO / "dags"), str(ARXIV)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "DAGRUN success" in proc.stdout
    with duckdb.connect(str(home / "trends.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from papers").fetchone()[0] == 300
        assert con.execute("select count(*) from paper_topics").fetchone()[0] == 300
        assert con.execute("select count(*) from topic_shares").fetchone()[0] > 0
    assert (home / "site" / "index.html").is_file()
