"""`dag.test()` of the DAGs on a small real slice, each test in its own Airflow and trends home.

The asset-driven chain (trends_ingest -> trends_topics -> trends_report) is run DAG by DAG, as
the scheduler would on the asset events; the all-in-one DAG is run on its own.
"""

import json
import re
import subprocess
from pathlib import Path

import duckdb
import pytest
from conftest import ARXIV
from dag_home import dag_test_env, run_dag_code

pytestmark = pytest.mark.e2e
SAMPLE = 60

CHAIN = """
import sys
sys.path.insert(0, sys.argv[1])
from trends_ingest import trends_ingest
from trends_report import trends_report
from trends_topics import trends_topics

conf = {"sample": int(sys.argv[3]), "input_path": sys.argv[2]}
run = trends_ingest().test(run_conf=conf)
print("INGEST", run.state)
run = trends_topics().test(run_conf={"embed_shards": 2})
print("TOPICS", run.state)
run = trends_report().test(run_conf={})
print("REPORT", run.state)
again = trends_ingest().test(run_conf=conf)
states = {ti.task_id: ti.state for ti in again.get_task_instances()}
print("INGEST AGAIN", again.state, states["ingest"])
"""

ALL_IN_ONE = """
import sys
sys.path.insert(0, sys.argv[1])
from research_trends import research_trends
run = research_trends().test(run_conf={"sample": int(sys.argv[3]), "input_path": sys.argv[2]})
print("DAGRUN", run.state)
import json
from airflow.models.asset import AssetEvent
from airflow.utils.session import create_session
with create_session() as session:
    for event in session.query(AssetEvent).filter_by(source_dag_id="research_trends"):
        print("EVENT", json.dumps({"uri": event.asset.uri, "extra": event.extra}))
"""


def run_dag_script(tmp_path: Path, code: str) -> tuple[subprocess.CompletedProcess, str, Path]:
    """Run ``code`` on the slice in a fresh home; the process, its output's tail, TRENDS_HOME."""
    env, home = dag_test_env(tmp_path)
    proc, log = run_dag_code(env, code, str(ARXIV), str(SAMPLE))
    return proc, log, home


def published_counts(home: Path) -> dict[str, int]:
    with duckdb.connect(str(home / "trends.duckdb"), read_only=True) as con:
        return {
            t: con.execute(f"select count(*) from {t}").fetchone()[0]
            for t in ("papers", "paper_embeddings", "paper_topics", "topic_shares")
        }


def test_asset_chain_runs_dag_by_dag(tmp_path):
    proc, log, home = run_dag_script(tmp_path, CHAIN)
    for line in ("INGEST success", "TOPICS success", "REPORT success"):
        assert line in proc.stdout, log
    # the same sample again changes nothing: the ingest is skipped and starts nothing
    assert "INGEST AGAIN success skipped" in proc.stdout, log
    counts = published_counts(home)
    assert counts["papers"] == counts["paper_embeddings"] == counts["paper_topics"] == SAMPLE
    assert counts["topic_shares"] > 0
    assert (home / "site" / "index.html").is_file()
    assert not any((home / "work" / "shards").glob("*/*.parquet"))  # shards cleaned up


def test_all_in_one_dag_runs_every_stage_to_success(tmp_path):
    proc, log, home = run_dag_script(tmp_path, ALL_IN_ONE)
    assert "DAGRUN success" in proc.stdout, log
    counts = published_counts(home)
    assert counts["papers"] == counts["paper_topics"] == SAMPLE
    assert counts["topic_shares"] > 0
    assert (home / "site" / "index.html").is_file()
    # the run's asset events say where its report and database are
    events = {
        e["uri"].rstrip("/"): e["extra"]
        for e in (json.loads(x[6:]) for x in proc.stdout.splitlines() if x.startswith("EVENT "))
    }
    assert {"trends://site", "trends://published"} <= set(events), (
        proc.stdout[-3000:] + proc.stderr[-3000:]
    )
    assert events["trends://site"]["path"] == str((home / "site").absolute())
    assert events["trends://site"]["report_url"].endswith("/trends-report/")
    assert events["trends://published"]["path"] == str((home / "trends.duckdb").absolute())
    # progress and summaries reach the task log in lines the viewer shows whole
    assert re.search(r"embed \S+: papers 60 / 60 \(100%\), [\d.,]+/s, ETA done", proc.stdout)
