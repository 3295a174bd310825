"""An operator in the Airflow UI: a run that breaks on a bug fails once, says so, and the report
is one click away.

`scripts/airflow_local.sh start` runs the four Airflow processes on 127.0.0.1 (a free port, a
temporary AIRFLOW_HOME) with the project's DAGs plus one drill DAG beside them: the same
``default_args`` as every DAG (retry policy, notifier), and one task that calls a pipeline
function wrongly, a code error. Notifications go to a loopback webhook. A toy report is
published into TRENDS_HOME first. Headless Debian chromium signs in, reads the DAG list,
triggers the drill, sees the run fail, then opens the report from the *Trends report* entry of
the navigation. The fixture stops exactly the processes the script recorded.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from airflow_stack import airflow_stack, free_port, goto, signed_in_page, stack_env
from conftest import REPO, TOY_ROWS, seed_toy_fit

sys.path.insert(0, str(REPO / "tests" / "dags"))
from notify_sinks import WebhookSink

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian's chromium is not installed (make setup installs it)"
    ),
]
DAG_IDS = {"trends_ingest", "trends_topics", "trends_report", "research_trends", "notify_drill"}
# Bounds so that a broken run fails instead of hanging; nothing asserts on durations.
WAIT_S = 600
ARTIFACTS = REPO / "test-artifacts" / "airflow_ui"

DRILL = '''"""notify_drill: a task with a code error, to see failures reported (tests only)."""

from datetime import UTC, datetime

from airflow.sdk import dag, task
from trends_common import DEFAULT_ARGS, TAGS


@dag(
    dag_id="notify_drill",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    is_paused_upon_creation=False,
    default_args=DEFAULT_ARGS,
    description="Drill: one task with a code error, to check that failures are reported.",
    tags=TAGS,
)
def notify_drill():
    @task
    def broken() -> str:
        from pipeline.store.db import parse_size

        return str(parse_size(5))  # a number where DuckDB's size text belongs

    broken()


notify_drill()
'''


def publish_toy_report(home: Path) -> None:
    """A report from a hand-built fit (no model needed), published as the pipeline does."""
    from pipeline.config import load_settings
    from pipeline.runner import publish_stage, report_stage, writer
    from pipeline.trends import build_marts

    settings = load_settings(home=home)
    with writer(settings) as store:
        seed_toy_fit(store, TOY_ROWS)
        build_marts(store)
        report_stage(store, settings)
        publish_stage(store, settings)


@pytest.fixture(scope="module")
def hook():
    with WebhookSink() as sink:
        yield sink


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, hook):
    base = tmp_path_factory.mktemp("airflow_ui")
    dags = base / "dags"
    dags.mkdir()
    for path in (REPO / "dags").glob("*.py"):
        (dags / path.name).symlink_to(path)
    (dags / "notify_drill.py").write_text(DRILL)
    publish_toy_report(base / "trends")
    port = free_port()
    env = stack_env(
        base,
        port,
        drop=("AIRFLOW", "TRENDS_"),
        AIRFLOW_DAGS_FOLDER=str(dags),
        TRENDS_NOTIFY_WEBHOOK_URL=hook.url,
    )
    with airflow_stack(env) as started:
        assert "/trends-report/" in started.stdout  # the script points at the report
        yield {"url": f"http://127.0.0.1:{port}", "password": started.password, "home": base}


def token(airflow) -> str:
    response = httpx.post(
        f"{airflow['url']}/auth/token",
        json={"username": "admin", "password": airflow["password"]},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def api_get(airflow, path: str) -> dict:
    response = httpx.get(
        f"{airflow['url']}/api/v2/{path}",
        headers={"Authorization": f"Bearer {token(airflow)}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def wait_for_dags(airflow) -> dict[str, dict]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        dags = {d["dag_id"]: d for d in api_get(airflow, "dags?limit=100")["dags"]}
        if set(dags) >= DAG_IDS:
            return dags
        errors = api_get(airflow, "importErrors")["import_errors"]
        assert not errors, [e["stack_trace"] for e in errors]
        time.sleep(2)
    raise AssertionError(f"DAGs not parsed in time; found {set(dags)}")


def test_report_needs_a_signed_in_user(airflow):
    assert httpx.get(f"{airflow['url']}/trends-report/", timeout=30).status_code in (401, 403)
    signed_in = httpx.get(
        f"{airflow['url']}/trends-report/",
        headers={"Authorization": f"Bearer {token(airflow)}"},
        timeout=30,
    )
    assert signed_in.status_code == 200 and "Research Trends" in signed_in.text


def test_a_code_error_fails_once_notifies_and_the_report_is_in_the_nav(airflow, hook):
    from playwright.sync_api import expect, sync_playwright

    dags = wait_for_dags(airflow)
    for dag_id in DAG_IDS:  # what the DAG list shows under each name
        assert dags[dag_id]["description"], dag_id
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (
        sync_playwright() as pw,
        signed_in_page(pw, CHROMIUM, airflow["url"], airflow["password"], width=1400) as page,
    ):
        # Done-when 3: the DAG list shows each DAG's description (on its name, as a tooltip)
        goto(page, f"{airflow['url']}/dags")
        for dag_id in sorted(DAG_IDS):
            page.get_by_role("link", name=dag_id, exact=True).hover()
            tip = page.get_by_role("tooltip").filter(has_text=dags[dag_id]["description"])
            expect(tip).to_be_visible()
            page.mouse.move(0, 0)
            expect(tip).to_be_hidden()
        page.get_by_role("link", name="trends_report", exact=True).hover()
        page.screenshot(path=str(ARTIFACTS / "1_dag_list_description.png"))

        # trigger the drill from its page
        goto(page, f"{airflow['url']}/dags/notify_drill")
        page.get_by_role("button", name="Trigger").first.click()
        page.get_by_role("dialog").get_by_test_id("trigger-dag-submit").click()
        page.wait_for_url(f"{airflow['url']}/dags/notify_drill/runs/manual__*")
        run_id = unquote(page.url.rsplit("/runs/", 1)[1].split("/")[0].split("?")[0])
        badge = page.get_by_test_id("header-card").get_by_test_id("state-badge")
        deadline = time.monotonic() + WAIT_S
        while badge.inner_text().strip() not in {"Failed", "Success"}:
            assert time.monotonic() < deadline, "the run page did not show an end state"
            time.sleep(3)
            goto(page, page.url)
        expect(badge).to_have_text("Failed")
        page.screenshot(path=str(ARTIFACTS / "2_run_failed.png"))

        # the report, from the navigation entry
        page.get_by_role("link", name="Trends report").first.click()
        page.wait_for_url(f"{airflow['url']}/plugin/trends-report")
        frame = page.frame_locator("iframe").first
        expect(frame.locator("h1").first).to_contain_text("Which research themes grow and fade")
        charts = frame.locator("[data-figure]")
        expect(charts.first).to_have_attribute("data-drawn", "true", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "3_report_in_nav.png"))

    # failed once: one try, no retry, though the task allows two
    tis = api_get(airflow, f"dags/notify_drill/dagRuns/{run_id}/taskInstances")
    (ti,) = tis["task_instances"]
    assert (ti["state"], ti["try_number"]) == ("failed", 1)
    assert ti["max_tries"] >= 1  # retries were allowed: the policy chose not to
    # the loopback webhook got the failure
    posts = [p for p in hook.wait(1, timeout=120) if p.get("run_id") == run_id]
    assert len(posts) == 1, hook.posts
    post = posts[0]
    assert (post["dag_id"], post["task_id"], post["state"]) == ("notify_drill", "broken", "failed")
    assert "TypeError" in post["error"] and "pipeline/store/db.py" in post["error"]
    assert "a code error (not retried)" in post["error"]
    assert post["log_url"].startswith(f"{airflow['url']}/dags/notify_drill/runs/")
    for part in ("notify_drill", run_id, "broken", post["error"], post["log_url"]):
        assert part in post["text"]
