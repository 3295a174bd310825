"""Live Airflow: the four processes of `make airflow`, driven through the REST API.

`scripts/airflow_local.sh start` brings up api-server, scheduler, dag-processor and triggerer on
127.0.0.1 in a temporary AIRFLOW_HOME and a free port. The test triggers `trends_ingest` on a
60-paper slice with the official `apache-airflow-client`, waits for the asset-scheduled
`trends_topics` and `trends_report` runs, and checks that the published database and the site
changed, while a separate process keeps querying the published database. Then an operator's
browser (headless Debian chromium) signs in, opens the trigger form of `trends_ingest`, changes
the sample size and date window, triggers, and sees the run succeed; the downstream runs it starts
succeed and the published database holds the form's selection. Last, the copy-paste REST example
of docs/operations.md runs as pasted (token, trigger with conf, list runs). The fixture
then stops exactly the processes the script recorded.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import duckdb
import httpx
import pytest
from airflow_stack import (
    PROCESSES,
    airflow_stack,
    alive,
    free_port,
    goto,
    signed_in_page,
    stack_env,
)
from conftest import ARXIV, REPO, trends_bin

pytestmark = pytest.mark.e2e
SAMPLE = 60
DAG_IDS = {"trends_ingest", "trends_topics", "trends_report", "research_trends"}
# Bounds so that a broken run fails instead of hanging; nothing asserts on durations. The tests
# that wait for whole DAG runs get more than pytest's default timeout (a loaded machine is slow).
WAIT_DAGS_S = 300
WAIT_RUNS_S = 1200
LONG_TEST_S = 3000

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


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    base = tmp_path_factory.mktemp("airflow_live")
    port = free_port()
    env = stack_env(base, port)
    # an empty published database, so that a reader has something to open from the start
    for command in (["init"], ["publish"]):
        subprocess.run(
            [trends_bin(), *command], env=env, check=True, capture_output=True, timeout=300
        )
    with airflow_stack(env) as started:
        assert set(started.pids) == set(PROCESSES)
        assert f"admin / {started.password}" in started.stdout  # the script tells the operator
        yield Live(
            f"http://127.0.0.1:{port}",
            started.password,
            env,
            base / "airflow",
            base / "trends",
            started.pids,
            port,
        )
    assert not [pid for pid in started.pids.values() if alive(pid)]


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


def test_the_admin_password_and_airflow_home_are_private_to_their_owner(live):
    """The generated admin password is plain text: nobody but its owner may read it."""
    passwords = live.airflow_home / "simple_auth_manager_passwords.json.generated"
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600, oct(passwords.stat().st_mode)
    assert stat.S_IMODE(live.airflow_home.stat().st_mode) & 0o077 == 0  # no listing, no entry
    for name in ("airflow.cfg", "env.sh"):  # generated secrets, the environment
        path = live.airflow_home / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (name, oct(path.stat().st_mode))


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


def test_the_api_refuses_requests_without_a_valid_token(live):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = httpx.get(f"{live.url}/api/v2/dags", headers=headers, timeout=30)
        assert response.status_code in (401, 403), (headers, response.status_code)
        assert "dags" not in response.json()


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


def wait_for_run(
    api,
    dag_id: str,
    *,
    run_id: str | None = None,
    run_type: str | None = None,
    exclude: frozenset[str] = frozenset(),
):
    """The run (by id, or the first of a type not in ``exclude``) once it has finished.

    Fails on a failed run.
    """
    from airflow_client.client.api.dag_run_api import DagRunApi
    from airflow_client.client.api.task_instance_api import TaskInstanceApi

    deadline = time.monotonic() + WAIT_RUNS_S
    while time.monotonic() < deadline:
        runs = DagRunApi(api).get_dag_runs(dag_id, limit=50).dag_runs
        for run in runs:
            if (
                (run_id and run.dag_run_id != run_id)
                or (run_type and str(run.run_type.value) != run_type)
                or run.dag_run_id in exclude
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


@pytest.mark.timeout(LONG_TEST_S)
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


def published_counts(path: Path) -> tuple[int, int]:
    """Papers in the published database: all of them, and those published before UI_FROM."""
    with duckdb.connect(str(path), read_only=True) as con:
        total = con.execute("select count(*) from papers").fetchone()[0]
        earlier = con.execute(
            "select count(*) from papers where published < ?", [UI_FROM]
        ).fetchone()[0]
    return total, earlier


# What the operator changes in the trigger form: another sample size than the API test's, drawn
# from a narrower window. Sampling keeps the papers whose keys hash lowest among those in the
# window, so the papers of an earlier larger-window sample that fall in the window are among
# them: afterwards exactly UI_SAMPLE papers lie in the window and the earlier ones are kept.
UI_SAMPLE = 80
UI_FROM, UI_TO = "2025-06-01", "2025-12-31"
# checked before the module's fixture starts Airflow, so a missing browser costs nothing
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make setup)")
@pytest.mark.timeout(LONG_TEST_S)
def test_operator_triggers_ingest_from_the_trigger_form_and_every_dag_succeeds(live, api, tmp_path):
    """The operator's path: sign in, open trends_ingest, change the form, trigger, see success.

    Runs after the API test of this module (file order) and only looks at the runs it starts,
    so it passes alone too (`-k browser`); then the form's "unpause on trigger" unpauses.
    """
    from airflow_client.client.api.dag_api import DAGApi
    from airflow_client.client.api.dag_run_api import DagRunApi
    from playwright.sync_api import expect, sync_playwright

    wait_for_dags(api)
    runs = DagRunApi(api)
    earlier = {
        dag_id: frozenset(r.dag_run_id for r in runs.get_dag_runs(dag_id, limit=100).dag_runs)
        for dag_id in ("trends_ingest", "trends_topics", "trends_report")
    }
    published = live.trends_home / "trends.duckdb"
    _, before_window = published_counts(published)

    shots = tmp_path / "screenshots"
    shots.mkdir()
    with (
        sync_playwright() as pw,
        signed_in_page(pw, CHROMIUM, live.url, live.password, width=1300) as page,
    ):
        goto(page, f"{live.url}/dags/trends_ingest")

        page.get_by_role("button", name="Trigger").first.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Sample size").wait_for()
        form_text = dialog.inner_text()
        # The number field is labelled; the date fields are found by their param names
        # (Airflow's form labels point at other ids for them).
        dialog.get_by_role("spinbutton", name="Sample size").fill(str(UI_SAMPLE))
        dialog.locator("#element_date_from").fill(UI_FROM)
        dialog.locator("#element_date_to").fill(UI_TO)
        page.screenshot(path=str(shots / "1_trigger_form.png"))
        dialog.get_by_test_id("trigger-dag-submit").click()

        # The UI opens the new run's page; its header shows the run's state.
        page.wait_for_url(f"{live.url}/dags/trends_ingest/runs/manual__*")
        run_id = unquote(page.url.rsplit("/runs/", 1)[1].split("/")[0].split("?")[0])
        assert run_id not in earlier["trends_ingest"]
        state = page.get_by_test_id("header-card").get_by_test_id("state-badge")
        shown = wait_for_state_shown(page, state, "Success")
        if shown == "Success":  # reloaded, the task's row agrees with the header
            goto(page, page.url)
            expect(state).to_have_text("Success", timeout=60_000)
            task_row = page.locator("tbody tr").filter(has_text="ingest")
            expect(task_row).to_contain_text("Success", timeout=60_000)
        page.screenshot(path=str(shots / "2_run_succeeded.png"))
    assert shown == "Success"
    for label in ("Source file", "Sample size", "Published from", "Published to"):
        assert label in form_text
    assert "relative path is read from TRENDS_DATA_DIR" in form_text
    assert "Source file\n*" not in form_text  # optional: empty means the default corpus

    # The run the browser saw is the manual run from the UI, with the changed parameters.
    run = wait_for_run(api, "trends_ingest", run_id=run_id)
    assert str(run.run_type.value) == "manual"
    assert str(run.triggered_by.value) == "ui"
    assert run.conf["sample"] == UI_SAMPLE
    assert (run.conf["date_from"], run.conf["date_to"]) == (UI_FROM, UI_TO)
    assert not run.conf.get("input_path")  # empty field: the default corpus
    assert DAGApi(api).get_dag("trends_ingest").is_paused is False

    # Its papers asset event starts trends_topics, whose topics event starts trends_report.
    topics = wait_for_run(
        api, "trends_topics", run_type="asset_triggered", exclude=earlier["trends_topics"]
    )
    events = runs.get_upstream_asset_events("trends_topics", topics.dag_run_id).asset_events
    assert ("trends_ingest", run_id) in {(e.source_dag_id, e.source_run_id) for e in events}
    report = wait_for_run(
        api, "trends_report", run_type="asset_triggered", exclude=earlier["trends_report"]
    )
    events = runs.get_upstream_asset_events("trends_report", report.dag_run_id).asset_events
    assert ("trends_topics", topics.dag_run_id) in {
        (e.source_dag_id, e.source_run_id) for e in events
    }

    # The published database holds the form's sample in the form's window, and what an
    # earlier run published before the window is still there.
    total, still_before_window = published_counts(published)
    assert still_before_window == before_window
    assert total == before_window + UI_SAMPLE
    with duckdb.connect(str(published), read_only=True) as con:
        in_window = con.execute(
            "select count(*) from papers where published between ? and ?", [UI_FROM, UI_TO]
        ).fetchone()[0]
        assert in_window == UI_SAMPLE
        assert con.execute("select count(*) from paper_embeddings").fetchone()[0] == total
    assert (live.trends_home / "site" / "index.html").is_file()


def wait_for_state_shown(page, badge, wanted: str) -> str:
    """The state the page's badge shows once it is ``wanted`` or a finished other state.

    The run page refreshes itself while the run is active; reloading now and then makes the
    wait independent of that.
    """
    finished = {wanted, "Failed", "Success", "Skipped", "Upstream Failed"}
    deadline = time.monotonic() + WAIT_RUNS_S
    while time.monotonic() < deadline:
        for _ in range(15):
            text = badge.inner_text().strip() if badge.count() else ""
            if text in finished:
                return text
            time.sleep(2)
        goto(page, page.url)
    raise AssertionError(f"the run page did not show {wanted} in time")


DOC = REPO / "docs" / "operations.md"


def rest_example() -> str:
    """The copy-paste REST example of the operations page: the bash block after its marker."""
    text = DOC.read_text()
    after = text.split("<!-- rest-example:", 1)[1]
    return after.split("```bash\n", 1)[1].split("\n```", 1)[0]


def test_the_documented_rest_example_works_as_pasted(live, api):
    """Runs last (file order): the report run it starts does not disturb the asset chain."""
    from airflow_client.client.api.dag_run_api import DagRunApi

    wait_for_dags(api)
    before = {
        r.dag_run_id for r in DagRunApi(api).get_dag_runs("trends_report", limit=100).dag_runs
    }
    env = {**live.env, "AIRFLOW": live.url, "AIRFLOW_HOME": str(live.airflow_home)}
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", rest_example()],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    triggered = json.loads(proc.stdout.splitlines()[0])
    assert triggered["dag_id"] == "trends_report"
    assert triggered["conf"] == {"as_of": "2025-06-30"}
    assert triggered["dag_run_id"] not in before
    listed = proc.stdout.splitlines()[1:]
    assert any(line.startswith(triggered["dag_run_id"] + " ") for line in listed), proc.stdout
    assert "'as_of': '2025-06-30'" in proc.stdout
