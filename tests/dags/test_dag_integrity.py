"""DAG policy: clean imports, no heavy work at parse time, retries, tags and docs everywhere."""

import ast
import itertools
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(DAGS.glob("*.py"))


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    import os

    home = tmp_path_factory.mktemp("airflow")
    os.environ.setdefault("AIRFLOW_HOME", str(home))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_every_dag_file_imports(dagbag):
    assert dagbag.import_errors == {}
    assert "research_trends" in dagbag.dags


def test_dags_have_retries_tags_docs_and_one_writer(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert dag.doc_md, dag_id
        assert dag.max_active_runs == 1, dag_id
        for t in dag.tasks:
            assert t.retries >= 1, (dag_id, t.task_id)


def test_stage_order(dagbag):
    dag = dagbag.dags["research_trends"]
    order = ["ingest", "embed", "topics", "analyze", "report", "publish"]
    for up, down in itertools.pairwise(order):
        assert dag.get_task(down).upstream_task_ids == {up}


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_only_airflow_sdk_imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("airflow"):
            assert node.module == "airflow.sdk", f"{path.name}: from {node.module} import ..."
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith("airflow."), alias.name


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parsing_imports_no_heavy_library_and_opens_no_database(path, tmp_path):
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]);"
        "heavy = [m for m in ('pipeline.embed', 'pipeline.topics', 'bertopic', 'torch', 'duckdb',"
        " 'sentence_transformers', 'umap') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    env = {
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "TRENDS_HOME": str(tmp_path / "trends"),
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (tmp_path / "trends").exists()  # nothing touched the store at parse time
