"""Airflow on the CeleryExecutor (`make airflow-celery`) gives what the LocalExecutor gives.

`scripts/airflow_local.sh start` with ``AIRFLOW_EXECUTOR=celery`` brings up PostgreSQL (metadata),
Redis (broker), the four Airflow processes and two Celery workers on 127.0.0.1, in a temporary
AIRFLOW_HOME with free ports. A sample of real papers is ingested first (`trends ingest file`:
unpausing `trends_ingest` would also start its scheduled run, a harvest of the live arXiv
feed); the test triggers `trends_topics` with the static encoder, whose four embedding shards
go to the ``embed`` queue, and its asset event runs `trends_report`. Then the LocalExecutor
stack (`make airflow`) runs the same on the same input in its own homes. Checked: the shards ran on two different workers at
once, everything else on the worker of the default queue; the published databases hold the
same rows and the sites the same pages (run ids, clock times and measured durations aside);
only 127.0.0.1 listens; Redis wants its password; and every recorded process, with its process
group, is gone after the stop.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import httpx
import pytest
from airflow_stack import (
    PROCESSES,
    airflow_stack,
    alive,
    free_port,
    listening_addresses,
    process_groups,
    stack_env,
)
from conftest import ARXIV, trends_bin

# 600 papers in four shards of 150, a few seconds of static embedding each. Four, not two: on a
# loaded machine both of two shards once ran on worker-2 (most likely worker-1 was still
# finishing plan_embeddings when they were queued, and worker-2 took one short shard, then the
# other). Celery gives a task to whichever worker asks first; four need worker-1 away for three.
SAMPLE = 600
SHARDS = 4
RUN_ID = "stack_topics"
CHAIN = ("trends_topics", "trends_report")
# Bounds so that a broken stack fails instead of hanging; nothing asserts on durations.
WAIT_S = 1500
LONG_TEST_S = 3600
PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
MISSING = [
    name
    for name, found in (("postgresql", PG_BIN), ("redis-server", shutil.which("redis-server")))
    if not found
]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(MISSING), reason=f"Debian's {MISSING} missing: make celery-deps"),
]


@dataclass
class StackRun:
    """What one stack did: its task instances, listening sockets, pids and homes."""

    task_instances: list[dict]
    listening: list[str]
    ports: dict[str, int]
    pids: dict[str, int]
    groups: set[int]
    airflow_home: Path
    trends_home: Path
    redis_refused: str | None
    timings: dict[str, float]


def _client(url: str, airflow_home: Path) -> httpx.Client:
    password = json.loads(
        (airflow_home / "simple_auth_manager_passwords.json.generated").read_text()
    )["admin"]
    token = httpx.post(
        f"{url}/auth/token", json={"username": "admin", "password": password}, timeout=60
    )
    token.raise_for_status()
    return httpx.Client(
        base_url=f"{url}/api/v2",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=60,
    )


def _finished_run(api: httpx.Client, dag_id: str) -> dict:
    """The DAG's one run once it has finished; fails on a failed run or a second run."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        runs = api.get(f"/dags/{dag_id}/dagRuns").json()["dag_runs"]
        assert len(runs) <= 1, [r["dag_run_id"] for r in runs]
        if runs and runs[0]["state"] == "failed":
            tis = api.get(f"/dags/{dag_id}/dagRuns/{runs[0]['dag_run_id']}/taskInstances")
            failed = [t["task_id"] for t in tis.json()["task_instances"] if t["state"] == "failed"]
            raise AssertionError(f"{dag_id} failed in {failed}")
        if runs and runs[0]["state"] == "success":
            return runs[0]
        time.sleep(2)
    raise AssertionError(f"no finished {dag_id} run in time")


def _run_chain(url: str, airflow_home: Path) -> tuple[list[dict], dict[str, float]]:
    """Trigger the topics, wait for them and the report they start; task instances, timings."""
    api = _client(url, airflow_home)
    deadline = time.monotonic() + WAIT_S
    while not set(CHAIN) <= {d["dag_id"] for d in api.get("/dags").json()["dags"]}:
        errors = api.get("/importErrors").json()["import_errors"]
        assert not errors, [e["stack_trace"] for e in errors]
        assert time.monotonic() < deadline, "DAGs not parsed in time"
        time.sleep(2)
    started = time.monotonic()
    api.post(
        "/dags/trends_topics/dagRuns",
        json={
            "dag_run_id": RUN_ID,
            "logical_date": None,
            "conf": {"embed_shards": SHARDS, "embed_shard_papers": SAMPLE // SHARDS},
        },
    ).raise_for_status()
    tis = []
    for dag_id in CHAIN:
        run = _finished_run(api, dag_id)
        found = api.get(f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances").json()
        tis += found["task_instances"]
    return tis, {"chain_s": time.monotonic() - started}


def _redis_refusal(port: int) -> str | None:
    """What Redis answers a client without the password (None: it answered the ping)."""
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=port, socket_timeout=10).ping()
    except redis.exceptions.RedisError as exc:  # NOAUTH: an AuthenticationError
        return f"{type(exc).__name__}: {exc}"
    return None


def _run_stack(base: Path, **extra: str) -> StackRun:
    port = free_port()
    ports = {"api": port}
    if extra.get("AIRFLOW_EXECUTOR") == "celery":
        ports |= {"postgres": free_port(), "redis": free_port()}
        extra |= {
            "AIRFLOW_POSTGRES_PORT": str(ports["postgres"]),
            "AIRFLOW_REDIS_PORT": str(ports["redis"]),
        }
    # a loaded machine (CI shares two cores) may take minutes to bring the API up
    env = stack_env(
        base, port, TRENDS_EMBEDDING_BACKEND="static", AIRFLOW_START_TIMEOUT="900", **extra
    )
    ingest = subprocess.run(
        [trends_bin(), "ingest", "file", str(ARXIV), "--sample", str(SAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    t0 = time.monotonic()
    with airflow_stack(env) as started:
        up_s = time.monotonic() - t0
        tis, timings = _run_chain(f"http://127.0.0.1:{port}", base / "airflow")
        listening = listening_addresses(started.pids)
        groups = process_groups(started.pids)
        refused = _redis_refusal(ports["redis"]) if "redis" in ports else None
    return StackRun(
        tis,
        listening,
        ports,
        started.pids,
        groups,
        base / "airflow",
        base / "trends",
        refused,
        {"up_s": up_s, **timings},
    )


@pytest.fixture(scope="module")
def celery_run(tmp_path_factory) -> StackRun:
    return _run_stack(tmp_path_factory.mktemp("celery"), AIRFLOW_EXECUTOR="celery")


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, celery_run) -> StackRun:  # after the Celery stack has stopped
    return _run_stack(tmp_path_factory.mktemp("local"), AIRFLOW_EXECUTOR="local")


def _group_of(pid: int) -> int | None:
    """The process group of ``pid`` (None once it is gone): a reused pid is in another group."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, IndexError, ValueError):
        return None


def _span(ti: dict) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(ti["start_date"]), datetime.fromisoformat(ti["end_date"])


@pytest.mark.timeout(LONG_TEST_S)
def test_shards_run_on_two_workers_at_once_and_the_rest_on_the_default_queue(celery_run):
    shards = [t for t in celery_run.task_instances if t["task_id"] == "embed_shard"]
    assert len(shards) == SHARDS, shards
    assert {t["queue"] for t in shards} == {"embed"}
    hosts = {t["hostname"].split("@")[0] for t in shards}
    assert hosts == {"worker-1", "worker-2"}, [t["hostname"] for t in shards]
    # at least one shard of each worker ran while one of the other's did
    together = [
        (a, b)
        for a in shards
        for b in shards
        if a["hostname"] < b["hostname"]
        and max(_span(a)[0], _span(b)[0]) < min(_span(a)[1], _span(b)[1])
    ]
    assert together, "no two shards on different workers overlapped in time"
    others = [t for t in celery_run.task_instances if t["task_id"] != "embed_shard"]
    assert len(others) == 6  # plan, load, topics; analyze, report, publish
    assert {t["queue"] for t in others} == {"default"}
    assert {t["hostname"].split("@")[0] for t in others} == {"worker-1"}  # default's only worker
    assert all(t["state"] == "success" for t in celery_run.task_instances)
    durations = sorted(round(t["duration"], 1) for t in shards)
    print(f"celery: {celery_run.timings}, shard task durations {durations} s")


@pytest.mark.timeout(LONG_TEST_S)
def test_only_loopback_listens_and_redis_wants_its_password(celery_run):
    assert set(celery_run.pids) == {*PROCESSES, "worker-1", "worker-2", "postgres", "redis"}
    expected = sorted(f"127.0.0.1:{p}" for p in celery_run.ports.values())
    assert celery_run.listening == expected  # no worker log server, no Unix-only surprises
    assert celery_run.redis_refused, "Redis answered a client without the password"
    assert "Authentication" in celery_run.redis_refused, celery_run.redis_refused


@pytest.mark.timeout(LONG_TEST_S)
def test_secrets_are_private_and_out_of_the_environment_file(celery_run):
    secrets = celery_run.airflow_home / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    files = sorted(secrets.iterdir())
    assert {f.name for f in files} >= {"redis.password", "postgres.password", "broker_url"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    env_sh = (celery_run.airflow_home / "env.sh").read_text()
    for name in ("redis.password", "postgres.password"):
        assert (secrets / name).read_text().strip() not in env_sh
    assert "CeleryExecutor" in env_sh and "_CMD=" in env_sh


@pytest.mark.timeout(LONG_TEST_S)
def test_every_started_process_and_its_group_is_gone_after_the_stop(celery_run, local_run):
    for run in (celery_run, local_run):
        left = [pid for pid in run.groups if alive(pid) and _group_of(pid) in run.pids.values()]
        assert not left, (left, run.pids)
        assert not list((run.airflow_home / "pids").glob("*.pid"))


# -- the same output as the LocalExecutor ---------------------------------------------------------
# What differs between two runs of the same input by design: run ids made of the clock, clock
# times, measured durations, and the homes' paths.
RUN_IDS = [
    (re.compile(r"fit-\d{8}T\d{6}"), "fit-<time>"),
    (re.compile(r"ingest-\d{8}T\d{6}-[0-9a-f]+"), "ingest-<time>"),
]
CLOCK = [
    (re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?"), "<t>"),
    (re.compile(r"(Fit time</th><td>)[\d.,]+ s"), r"\1<s>"),
    # feed.xml's ids are named by the store's first edition and its recorded time
    (re.compile(r"urn:uuid:[0-9a-f-]{36}"), "urn:uuid:<edition>"),
]


def _normalise(text: str, run: StackRun, patterns) -> str:
    text = text.replace(str(run.trends_home), "<home>")
    for pattern, replacement in patterns:
        text = pattern.sub(replacement, text)
    return text


def _table_contents(run: StackRun) -> dict[str, list[str]]:
    """Each table's rows, sorted, without clock columns (timestamps, ``*_seconds``)."""
    contents = {}
    with duckdb.connect(str(run.trends_home / "trends.duckdb"), read_only=True) as con:
        tables = [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
        for table in tables:
            columns = con.execute(
                "select column_name, data_type from duckdb_columns() where table_name = ?",
                [table],
            ).fetchall()
            keep = [
                name
                for name, kind in columns
                if not kind.startswith("TIMESTAMP") and not name.endswith("_seconds")
            ]
            rows = con.table(table).select(*map(duckdb.ColumnExpression, keep)).fetchall()
            contents[table] = sorted(_normalise(repr(r), run, RUN_IDS) for r in rows)
    return contents


@pytest.mark.timeout(LONG_TEST_S)
def test_the_published_database_holds_what_the_local_executor_publishes(celery_run, local_run):
    celery, local = _table_contents(celery_run), _table_contents(local_run)
    assert sorted(celery) == sorted(local)
    assert len(celery["papers"]) == len(celery["paper_embeddings"]) == SAMPLE
    assert celery["topic_shares"]
    for table in celery:
        assert celery[table] == local[table], table


@pytest.mark.timeout(LONG_TEST_S)
def test_the_report_is_the_local_executors_page_for_page(celery_run, local_run):
    def pages(run: StackRun) -> dict[str, bytes | str]:
        site = run.trends_home / "site"
        found = {}
        for path in sorted(p for p in site.rglob("*") if p.is_file()):
            data = path.read_bytes()
            try:
                found[str(path.relative_to(site))] = _normalise(data.decode(), run, RUN_IDS + CLOCK)
            except UnicodeDecodeError:
                found[str(path.relative_to(site))] = data
        return found

    celery, local = pages(celery_run), pages(local_run)
    assert "index.html" in celery
    assert sorted(celery) == sorted(local)
    for name in celery:
        assert celery[name] == local[name], name
