"""DAG policy: clean imports, no heavy work or DB access at parse time, retries, tags and docs
everywhere, one writer at a time, assets wired end to end, validated run parameters."""

import ast
import copy
import itertools
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(DAGS.glob("*.py"))
EXPECTED = {
    "research_trends", "trends_ingest", "trends_topics", "trends_report", "trends_backtest"
}  # fmt: skip
WRITER_POOL = "trends_writer"
# Tasks that never open the working database, so they may run in parallel outside the pool.
NON_WRITERS = {("trends_topics", "embed_shard")}
AIRFLOW2_MODULES = ("airflow.decorators", "airflow.models", "airflow.operators", "airflow.utils")


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    import os

    home = tmp_path_factory.mktemp("airflow")
    os.environ.setdefault("AIRFLOW_HOME", str(home))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import BundleDagBag

    # what the dag-processor and the task runner do: the bundle folder is on sys.path, so
    # the DAG files can import their shared module
    return BundleDagBag(dag_folder=str(DAGS), bundle_path=DAGS)


def test_every_dag_file_imports(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dags) == EXPECTED


def test_dags_have_retries_tags_docs_notifications_and_one_run_at_a_time(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert dag.doc_md and len(dag.doc_md) > 200, dag_id
        # shown in the DAG list: what the DAG is for and when to use it, in a line or two
        assert dag.description and 60 <= len(dag.description) <= 200, dag_id
        assert dag.max_active_runs == 1, dag_id
        assert dag.catchup is False, dag_id
        for t in dag.tasks:
            assert t.retries >= 1, (dag_id, t.task_id)
            assert t.retry_exponential_backoff, (dag_id, t.task_id)
            # fail fast on what retries cannot fix; tell someone when a task fails
            assert type(t.retry_policy).__name__ == "FailFast", (dag_id, t.task_id)
            assert any(type(c).__name__ == "TrendsNotifier" for c in t.on_failure_callback)


def test_writer_tasks_share_the_one_slot_pool(dagbag):
    writers = 0
    for dag_id, dag in dagbag.dags.items():
        for t in dag.tasks:
            if (dag_id, t.task_id) in NON_WRITERS:
                assert t.pool != WRITER_POOL, (dag_id, t.task_id)
            else:
                assert t.pool == WRITER_POOL, (dag_id, t.task_id)
                writers += 1
    assert writers >= 10


def test_tasks_pass_only_strings_through_xcom(dagbag):
    """Summary lines and file paths; never frames or vectors."""
    for dag_id, dag in dagbag.dags.items():
        for t in dag.tasks:
            fn = getattr(t, "python_callable", None) or t.partial_kwargs["python_callable"]
            assert fn.__annotations__.get("return") in ("str", "list[str]"), (dag_id, t.task_id)


def test_stage_order_of_the_all_in_one_dag(dagbag):
    dag = dagbag.dags["research_trends"]
    order = ["ingest", "embed", "topics", "analyze", "report", "publish"]
    for up, down in itertools.pairwise(order):
        assert dag.get_task(down).upstream_task_ids == {up}


def test_embedding_is_split_into_mapped_shards_loaded_by_one_task(dagbag):
    dag = dagbag.dags["trends_topics"]
    shard = dag.get_task("embed_shard")
    assert type(shard).__name__ == "DecoratedMappedOperator"
    assert shard.upstream_task_ids == {"plan_embeddings"}
    assert dag.get_task("load_embeddings").upstream_task_ids == {"embed_shard"}
    assert dag.get_task("topics").upstream_task_ids == {"load_embeddings"}


def test_only_the_embedding_shards_go_to_the_embed_queue(dagbag):
    """Celery workers started with `--queues embed` take the shards; the rest stays default."""
    for dag_id, dag in dagbag.dags.items():
        for t in dag.tasks:
            expected = (
                "embed" if (dag_id, t.task_id) == ("trends_topics", "embed_shard") else "default"
            )
            assert t.queue == expected, (dag_id, t.task_id, t.queue)


def _uris(assets) -> set[str]:
    return {a.uri for a in assets}


def _scheduled_on(dag) -> list:
    """The assets a DAG's schedule waits for (through any AssetAll/AssetAny)."""
    pending = [getattr(dag.timetable, "asset_condition", None)]
    found = []
    while pending:
        cond = pending.pop()
        if cond is None:
            continue
        if hasattr(cond, "objects"):
            pending.extend(cond.objects)
        else:
            found.append(cond)
    return found


def test_assets_chain_ingest_to_topics_to_report(dagbag):
    dags = dagbag.dags
    ingest_out = _uris(dags["trends_ingest"].get_task("ingest").outlets)
    topics_out = _uris(dags["trends_topics"].get_task("topics").outlets)
    topics_on = _uris(_scheduled_on(dags["trends_topics"]))
    report_on = _uris(_scheduled_on(dags["trends_report"]))
    assert ingest_out == topics_on == {"trends://store/papers"}
    assert report_on <= topics_out
    # every asset a DAG waits for is produced by a task of another DAG
    produced = {
        (dag_id, a.uri) for dag_id, dag in dags.items() for t in dag.tasks for a in t.outlets
    }
    for dag_id, dag in dags.items():
        for asset in _scheduled_on(dag):
            assert any(uri == asset.uri and d != dag_id for d, uri in produced), asset
    # the all-in-one DAG does not restart the chain it duplicates
    all_in_one = {a.uri for t in dags["research_trends"].tasks for a in t.outlets}
    assert all_in_one.isdisjoint(topics_on | report_on)


def test_backtest_runs_only_when_triggered_and_calls_the_stage(dagbag):
    dag = dagbag.dags["trends_backtest"]
    assert type(dag.timetable).__name__ == "NullTimetable"  # schedule=None: by hand only
    [task] = dag.tasks
    assert task.task_id == "backtest" and task.pool == WRITER_POOL and not task.outlets
    source = (DAGS / "trends_backtest.py").read_text()
    assert "backtest_stage(" in source and "params_from_form(" in source


def test_ingest_is_daily_on_data_intervals_and_topics_refit_weekly(dagbag):
    ingest = dagbag.dags["trends_ingest"]
    assert type(ingest.timetable).__name__ == "CronDataIntervalTimetable"
    assert ingest.is_paused_upon_creation in (None, True)  # the operator turns it on
    topics = dagbag.dags["trends_topics"]
    assert type(topics.timetable).__name__ == "AssetOrTimeSchedule"
    for dag_id in ("trends_topics", "trends_report", "research_trends"):
        assert dagbag.dags[dag_id].is_paused_upon_creation is False, dag_id


FORM_FIELDS = {
    "trends_ingest": {"source", "input_path", "sample", "date_from", "date_to", "categories"},
    "trends_topics": {
        "full_refit",
        "embedding_backend",
        "topic_representation",
        "embed_shards",
        "embed_shard_papers",
    },
    "trends_report": {"as_of"},
    "trends_backtest": {
        "date_from",
        "date_to",
        "grain",
        "topics",
        "fit_budget",
        "source",
        "tune_until",
        "tune",
    },
    "research_trends": {
        "input_path",
        "sample",
        "date_from",
        "date_to",
        "embedding_backend",
        "full_refit",
        "topic_representation",
        "as_of",
    },
}


def test_every_param_is_a_labelled_form_field(dagbag):
    for dag_id, fields in FORM_FIELDS.items():
        params = dagbag.dags[dag_id].params
        assert set(params.keys()) == fields, dag_id
        for name in fields:
            schema = params.get_param(name).schema
            assert schema.get("title") and params.get_param(name).description, (dag_id, name)
        params_copy = copy.deepcopy(params)
        params_copy.validate()  # the defaults are valid: scheduled and asset runs use them


@pytest.mark.parametrize(
    ("dag_id", "conf", "message"),
    [
        ("trends_ingest", {"sample": 0}, "minimum"),
        ("trends_ingest", {"sample": "ten"}, "not valid|is not of type"),
        ("trends_ingest", {"date_from": "2025-02-30"}, "date"),
        ("trends_ingest", {"source": "rss"}, "is not one of"),
        ("trends_report", {"as_of": "yesterday"}, "date"),
        ("trends_topics", {"embedding_backend": "word2vec"}, "is not one of"),
        ("trends_topics", {"embed_shards": 0}, "minimum"),
        ("trends_topics", {"embed_shard_papers": 0}, "minimum"),
        ("research_trends", {"sample": 5}, "minimum"),
        ("trends_backtest", {"grain": "week"}, "is not one of"),
        ("trends_backtest", {"topics": "guess"}, "is not one of"),
        ("trends_backtest", {"fit_budget": 5}, "minimum"),
        ("trends_backtest", {"date_to": "2024-13-01"}, "date"),
        ("trends_backtest", {"source": "arxiv'; drop table papers"}, "does not match"),
    ],
)
def test_bad_params_are_rejected_at_trigger_time(dagbag, dag_id, conf, message):
    params = copy.deepcopy(dagbag.dags[dag_id].params)
    with pytest.raises(Exception, match=message):  # ParamValidationError, as the API answers
        params.update(conf)
        params.validate()


def test_good_params_pass(dagbag):
    params = copy.deepcopy(dagbag.dags["research_trends"].params)
    params.update(
        {
            "input_path": "conference_abstracts.parquet",
            "sample": 60,
            "date_from": "2025-06-01",
            "date_to": "2025-06-30",
            "full_refit": True,
            "as_of": "2025-07-01",
        }
    )
    assert params.validate()["sample"] == 60


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_only_airflow_sdk_imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("airflow"):
            assert not node.module.startswith(AIRFLOW2_MODULES), f"{path.name}: {node.module}"
            assert node.module == "airflow.sdk" or node.module.startswith("airflow.sdk."), (
                f"{path.name}: from {node.module} import ..."
            )
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith("airflow"), alias.name


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_top_level_imports_are_light(path):
    """Only airflow.sdk, the DAGs' shared module, pipeline.config and pipeline.notify (light)."""
    tree = ast.parse(path.read_text())
    allowed = {
        "__future__", "datetime", "airflow.sdk", "trends_common", "pipeline.config", "pipeline.notify"
    }  # fmt: skip
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            assert node.module in allowed, f"{path.name}: top-level import of {node.module}"
        elif isinstance(node, ast.Import):
            raise AssertionError(f"{path.name}: top-level import {ast.unparse(node)}")


PARSE_PROBE = """
import runpy, socket, sys

def refuse(*args, **kwargs):
    raise RuntimeError("parse-time access to a database, connection or the network")

socket.socket.connect = refuse  # no network (and so no API server) while parsing
import airflow.sdk
for name in ("Variable", "Connection"):
    setattr(getattr(airflow.sdk, name), "get", staticmethod(refuse))
airflow.sdk.BaseHook.get_connection = classmethod(refuse)
import sqlalchemy.engine
sqlalchemy.engine.Engine.connect = refuse
runpy.run_path(sys.argv[1])
heavy = [m for m in ("pipeline.embed", "pipeline.embedders", "pipeline.topics", "pipeline.store",
         "pipeline.runner",
         "bertopic", "torch", "duckdb", "sentence_transformers", "umap", "pandas")
         if m in sys.modules]
print("heavy:", heavy)
sys.exit(1 if heavy else 0)
"""


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parsing_imports_no_heavy_library_and_opens_no_database(path, tmp_path):
    env = {
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # a metadata database that cannot exist: any parse-time query would fail
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/missing/dir/airflow.db",
        "TRENDS_HOME": str(tmp_path / "trends"),
        "PYTHONPATH": str(DAGS),  # the bundle folder, as Airflow puts it on sys.path
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-c", PARSE_PROBE, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (tmp_path / "trends").exists()  # nothing touched the store at parse time
    assert not (tmp_path / "missing").exists()
