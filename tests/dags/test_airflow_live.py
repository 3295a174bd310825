"""Live Airflow: the four processes of `make airflow`, driven through the REST API.

`scripts/airflow_local.sh start` brings up api-server, scheduler, dag-processor and triggerer on
127.0.0.1 in a temporary AIRFLOW_HOME and a free port. The test triggers `trends_ingest` on a
60-paper slice with the official `apache-airflow-client`, waits for the asset-scheduled
`trends_topics` and `trends_report` runs, and checks that the published database and the site
changed, while a separate process keeps querying the published database. It then stops exactly
the processes the script recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pytest
from conftest import ARXIV, REPO, trends_bin

pytestmark = pytest.mark.e2e
SCRIPT = REPO / "scripts" / "airflow_local.sh"
SAMPLE = 60
PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer")
DAG_IDS = {"trends_ingest", "trends_topics", "trends_report", "research_trends"}
# Bounds so that a broken run fails instead of hanging; nothing asserts on durations.
WAIT_DAGS_S = 300
WAIT_RUNS_S = 1200

READER = """
import json, os, sys, time
import duckdb
db, stop, status = sys.argv[1:4]
ok, errors, seen = 0, [], []
for _ in range(40000):
    if os.path.exists(stop):
        break
    try:
        with duckdb.connect(db, read_only=True) as con:
            n = con.execute("select count(*) from papers").fetchone()[0]
        ok += 1
        if not seen or seen[-1] != n:
            seen.append(n)
    except Exception as exc:
        errors.append(repr(exc)[:300])
    tmp = status + ".tmp"
    with open(tmp, "w") as fh:
        json.dump({"ok": ok, "errors": errors[-20:], "n_errors": len(errors), "seen": seen}, fh)
    os.replace(tmp, status)
    time.sleep(0.2)
"""


@dataclass
class Live:
    url: str
    password: str
    env: dict[str, str]
    airflow_home: Path
    trends_home: Path
    pids: dict[str, int]
    port: int


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"  # not a zombie


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    base = tmp_path_factory.mktemp("airflow_live")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(base / "airflow"),
        AIRFLOW_PORT=str(port),
        TRENDS_HOME=str(base / "trends"),
        HF_HUB_OFFLINE="1",
    )
    # an empty published database, so that a reader has something to open from the start
    for command in (["init"], ["publish"]):
        subprocess.run(
            [trends_bin(), *command], env=env, check=True, capture_output=True, timeout=300
        )
    started = subprocess.run(
        [str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=600
    )
    pid_dir = base / "airflow" / "pids"
    pids = {
        name: int((pid_dir / f"{name}.pid").read_text())
        for name in PROCESSES
        if (pid_dir / f"{name}.pid").exists()
    }
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert set(pids) == set(PROCESSES)
        password = json.loads(
            (base / "airflow" / "simple_auth_manager_passwords.json.generated").read_text()
        )["admin"]
        assert f"admin / {password}" in started.stdout  # the script tells the operator
        yield Live(
            f"http://127.0.0.1:{port}",
            password,
            env,
            base / "airflow",
            base / "trends",
            pids,
            port,
        )
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, timeout=180)
        for pid in pids.values():  # last resort, only for the pids the script recorded
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)
        assert not [pid for pid in pids.values() if alive(pid)]


@pytest.fixture(scope="module")
def api(live):
    import airflow_client.client as client

    token = httpx.post(
        f"{live.url}/auth/token",
        json={"username": "admin", "password": live.password},
        timeout=30,
    )
    token.raise_for_status()
    config = client.Configuration(host=live.url, access_token=token.json()["access_token"])
    with client.ApiClient(config) as api_client:
        yield api_client


def test_only_the_api_port_listens_and_only_on_loopback(live):
    group = set()
    for pid in live.pids.values():
        found = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True)
        group |= {int(p) for p in found.stdout.split()}
    assert set(live.pids.values()) <= group
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    ours = []
    for line in out.splitlines():
        owners = {int(p.split("=")[1]) for p in line.split("users:")[-1].split(",") if "pid=" in p}
        if owners & group:
            ours.append(line.split()[3])
    assert ours == [f"127.0.0.1:{live.port}"], out


def test_writer_pool_exists_with_one_slot(api):
    from airflow_client.client.api.pool_api import PoolApi

    assert PoolApi(api).get_pool("trends_writer").slots == 1


@pytest.mark.parametrize(
    ("dag_id", "conf", "message"),
    [
        ("trends_ingest", {"sample": 0}, "Invalid input for param sample: 0 is less than"),
        ("trends_report", {"as_of": "yesterday"}, "Invalid input for param as_of"),
        ("trends_topics", {"embedding_backend": "word2vec"}, "param embedding_backend"),
    ],
)
def test_the_api_rejects_bad_params_with_a_clear_message(api, dag_id, conf, message):
    from airflow_client.client.api.dag_run_api import DagRunApi
    from airflow_client.client.exceptions import ApiException
    from airflow_client.client.models.trigger_dag_run_post_body import TriggerDAGRunPostBody

    wait_for_dags(api)
    with pytest.raises(ApiException) as info:
        DagRunApi(api).trigger_dag_run(dag_id, TriggerDAGRunPostBody(conf=conf, logical_date=None))
    assert info.value.status == 400
    assert message in json.loads(info.value.body)["detail"]


@pytest.mark.browser
def test_operator_sees_the_trigger_form(live, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (make setup installs it)")
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(f"{live.url}/", wait_until="networkidle")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(live.password)
            page.get_by_role("button", name="Sign in").click()
            # Signing in redirects (token, then the UI's own routing): wait until the login form
            # is gone, and retry the navigation if a late redirect interrupts it.
            page.get_by_label("Password").wait_for(state="detached", timeout=60_000)
            page.wait_for_load_state("networkidle")
            for attempt in range(5):
                try:
                    page.goto(f"{live.url}/dags/trends_ingest", wait_until="networkidle")
                    break
                except PlaywrightError as exc:
                    if "interrupted by another navigation" not in str(exc) or attempt == 4:
                        raise
                    page.wait_for_load_state("networkidle")
            page.get_by_role("button", name="Trigger").first.click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_text("Sample size").wait_for()
            text = dialog.inner_text()
            page.screenshot(path=str(tmp_path / "trigger_form.png"))
        finally:
            browser.close()
    for label in ("Source file", "Sample size", "Published from", "Published to"):
        assert label in text
    assert "relative path is read from TRENDS_DATA_DIR" in text
    assert "Source file\n*" not in text  # optional: empty means the default corpus


def wait_for_dags(api) -> None:
    from airflow_client.client.api.dag_api import DAGApi
    from airflow_client.client.api.import_error_api import ImportErrorApi

    deadline = time.monotonic() + WAIT_DAGS_S
    while time.monotonic() < deadline:
        found = {d.dag_id for d in DAGApi(api).get_dags(limit=100).dags}
        if found >= DAG_IDS:
            return
        errors = ImportErrorApi(api).get_import_errors().import_errors
        assert not errors, [e.stack_trace for e in errors]
        time.sleep(2)
    raise AssertionError(f"DAGs not parsed in time; found {found}")


def wait_for_run(api, dag_id: str, *, run_id: str | None = None, run_type: str | None = None):
    """The run (by id, or the first of a type) once it has finished; fails on a failed run."""
    from airflow_client.client.api.dag_run_api import DagRunApi
    from airflow_client.client.api.task_instance_api import TaskInstanceApi

    deadline = time.monotonic() + WAIT_RUNS_S
    while time.monotonic() < deadline:
        runs = DagRunApi(api).get_dag_runs(dag_id, limit=50).dag_runs
        for run in runs:
            if (run_id and run.dag_run_id != run_id) or (
                run_type and str(run.run_type.value) != run_type
            ):
                continue
            state = str(run.state.value)
            if state == "failed":
                tis = TaskInstanceApi(api).get_task_instances(dag_id, run.dag_run_id)
                failed = [t.task_id for t in tis.task_instances if str(t.state) == "failed"]
                raise AssertionError(f"{dag_id} run {run.dag_run_id} failed in {failed}")
            if state == "success":
                return run
        time.sleep(2)
    raise AssertionError(f"no finished {dag_id} run in time")


def test_ingest_triggers_topics_and_report_while_readers_keep_reading(live, api, tmp_path):
    from airflow_client.client.api.dag_api import DAGApi
    from airflow_client.client.api.dag_run_api import DagRunApi
    from airflow_client.client.models.dag_patch_body import DAGPatchBody
    from airflow_client.client.models.trigger_dag_run_post_body import TriggerDAGRunPostBody

    published = live.trends_home / "trends.duckdb"
    site_index = live.trends_home / "site" / "index.html"
    before = published.stat()
    assert not site_index.exists()

    wait_for_dags(api)
    dags = DAGApi(api)
    assert dags.get_dag("trends_topics").is_paused is False  # asset-scheduled: on from the start
    assert dags.get_dag("trends_report").is_paused is False
    dags.patch_dag("trends_ingest", DAGPatchBody(is_paused=False))

    stop, status = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published), str(stop), str(status)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run = DagRunApi(api).trigger_dag_run(
            "trends_ingest",
            TriggerDAGRunPostBody(
                dag_run_id="live_test_ingest",
                conf={"input_path": str(ARXIV), "sample": SAMPLE},
                logical_date=None,
            ),
        )
        assert run.dag_run_id == "live_test_ingest"
        wait_for_run(api, "trends_ingest", run_id="live_test_ingest")
        # the asset events start the downstream DAGs; nothing else does (no weekly refit yet)
        wait_for_run(api, "trends_topics", run_type="asset_triggered")
        wait_for_run(api, "trends_report", run_type="asset_triggered")
        runs = DagRunApi(api).get_dag_runs("trends_topics", limit=50).dag_runs
        assert [str(r.run_type.value) for r in runs] == ["asset_triggered"]

        # the reader saw the new publication, then stops
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = json.loads(status.read_text())["seen"] if status.exists() else []
            if SAMPLE in seen:
                break
            time.sleep(0.5)
        stop.touch()
        reader.wait(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    result = json.loads(status.read_text())
    assert result["n_errors"] == 0, result["errors"]
    assert result["ok"] > 0
    assert result["seen"][0] == 0 and result["seen"][-1] == SAMPLE, result["seen"]

    after = published.stat()
    assert (after.st_ino, after.st_mtime_ns) != (before.st_ino, before.st_mtime_ns)
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select count(*) from papers").fetchone()[0] == SAMPLE
        assert con.execute("select count(*) from paper_embeddings").fetchone()[0] == SAMPLE
        assert con.execute("select count(*) from topic_shares").fetchone()[0] > 0
    assert site_index.is_file()
    assert not any((live.trends_home / "work" / "shards").glob("*/*.parquet"))
