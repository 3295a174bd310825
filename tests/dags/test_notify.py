"""Failures: which are retried, what the notification says, and that it arrives.

The notifier sends to a loopback webhook and a loopback SMTP server; a drill DAG built on the
DAGs' own ``default_args`` runs under ``dag.test()`` to show a code error failing on its first
try (and notifying) while a held writer lock is retried.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from notify_sinks import SmtpSink, WebhookSink

from pipeline.config import load_settings
from pipeline.failures import FailureKind, classify
from pipeline.notify import TrendsNotifier, event_from_context, send_event
from pipeline.runner import ParamsError, parse_param_date
from pipeline.sources.files import SourceFormatError
from pipeline.store import StoreLockedError
from pipeline.store.db import parse_size

DAGS = Path(__file__).resolve().parents[2] / "dags"
REPO = DAGS.parent


def raised(fn, *args) -> BaseException:
    try:
        fn(*args)
    except BaseException as exc:
        return exc
    raise AssertionError("nothing raised")


def test_a_code_error_is_not_retried_and_names_the_project_line():
    failure = classify(raised(parse_size, 5))  # a bug: a number where text belongs
    assert failure.kind is FailureKind.code and not failure.retry
    assert failure.line.startswith("TypeError: ")
    assert "(at pipeline/store/db.py:" in failure.line and "in parse_size" in failure.line
    assert "\n" not in failure.line


@pytest.mark.parametrize(
    "exc",
    [
        ParamsError("as_of: 'x' is not a date; use YYYY-MM-DD"),
        FileNotFoundError(2, "No such file or directory", "/data/missing.parquet"),
        SourceFormatError("papers.csv: no title column"),
        PermissionError(13, "Permission denied", "/data/secret.parquet"),
    ],
)
def test_bad_input_and_parameters_are_not_retried(exc):
    failure = classify(exc)
    assert failure.kind is FailureKind.input and not failure.retry
    assert "(at " not in failure.line  # no code location for an input problem


def test_a_bad_parameter_reads_as_its_message():
    failure = classify(raised(parse_param_date, "as_of", "yesterday"))
    assert failure.line == "as_of: 'yesterday' is not a date; use YYYY-MM-DD"


@pytest.mark.parametrize(
    "exc",
    [
        StoreLockedError("another trends process (pid 1560) is writing"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError("timed out"),
        OSError(28, "No space left on device"),
        httpx.ConnectError("connection refused"),
    ],
)
def test_transient_failures_are_retried(exc):
    assert classify(exc).retry


def test_the_dags_retry_policy_follows_the_classification():
    sys.path.insert(0, str(DAGS))
    try:
        from airflow.sdk import RetryAction
        from trends_common import DEFAULT_ARGS
    finally:
        sys.path.remove(str(DAGS))
    policy = DEFAULT_ARGS["retry_policy"]
    locked = policy.evaluate(StoreLockedError("held"), try_number=1, max_tries=2)
    assert locked.action is RetryAction.RETRY
    bug = policy.evaluate(raised(parse_size, 5), try_number=1, max_tries=2)
    assert bug.action is RetryAction.FAIL
    assert "TypeError" in bug.reason and "a code error (not retried)" in bug.reason


class FakeTI:
    dag_id, run_id, task_id, try_number = "research_trends", "manual__2026-01-01", "report", 1
    log_url = "http://127.0.0.1:8093/dags/research_trends/runs/manual__2026-01-01/tasks/report"
    _ti_context_from_server = SimpleNamespace(max_tries=2)


def failure_context() -> dict:
    return {"ti": FakeTI(), "exception": raised(parse_size, 5), "task": None}


def assert_names_everything(text: str) -> None:
    for part in ("research_trends", "manual__2026-01-01", "report", FakeTI.log_url):
        assert part in text, part
    assert "Error: TypeError: " in text and "pipeline/store/db.py" in text
    assert "a code error (not retried)" in text


def test_a_failure_reaches_the_webhook_and_the_mail_relay(monkeypatch):
    with WebhookSink() as hook, SmtpSink() as smtp:
        monkeypatch.setenv("TRENDS_NOTIFY_WEBHOOK_URL", hook.url)
        monkeypatch.setenv("TRENDS_NOTIFY_SMTP", smtp.address)
        monkeypatch.setenv("TRENDS_NOTIFY_EMAIL_TO", "ops@example.org, oncall@example.org")
        TrendsNotifier("failed")(failure_context())
        (post,) = hook.posts
        (sender, recipients, mail) = smtp.mails[0]
    assert_names_everything(post["text"])
    assert (post["dag_id"], post["task_id"], post["state"]) == (
        "research_trends",
        "report",
        "failed",
    )
    assert post["log_url"] == FakeTI.log_url
    assert recipients == ["ops@example.org", "oncall@example.org"]
    assert sender == "research-trends@localhost"
    assert "research_trends.report FAILED" in mail["Subject"]
    assert_names_everything(mail.get_content())


def test_no_target_sends_nothing_and_a_dead_target_is_reported(monkeypatch):
    for name in ("TRENDS_NOTIFY_WEBHOOK_URL", "TRENDS_NOTIFY_SMTP", "TRENDS_NOTIFY_EMAIL_TO"):
        monkeypatch.delenv(name, raising=False)
    event = event_from_context(failure_context(), "failed")
    assert send_event(load_settings(), event) == []
    with WebhookSink() as hook:
        dead = hook.url  # closed when the block ends
    monkeypatch.setenv("TRENDS_NOTIFY_WEBHOOK_URL", dead)
    with pytest.raises(RuntimeError, match="notification not delivered: webhook"):
        send_event(load_settings(), event)


def test_success_is_sent_only_when_asked_and_only_for_the_last_task(monkeypatch):
    with WebhookSink() as hook:
        monkeypatch.setenv("TRENDS_NOTIFY_WEBHOOK_URL", hook.url)
        last = {"ti": FakeTI(), "task": SimpleNamespace(downstream_task_ids=set())}
        middle = {"ti": FakeTI(), "task": SimpleNamespace(downstream_task_ids={"publish"})}
        TrendsNotifier("success")(last)  # not asked for
        monkeypatch.setenv("TRENDS_NOTIFY_ON_SUCCESS", "true")
        TrendsNotifier("success")(middle)
        TrendsNotifier("success")(last)
    assert [p["state"] for p in hook.posts] == ["success"]
    assert "Error:" not in hook.posts[0]["text"]


# A DAG file beside (a link to) the real trends_common.py, with its default_args.
DRILL_DAG = """
import os
from datetime import timedelta
from pathlib import Path

from airflow.sdk import dag, task
from trends_common import DEFAULT_ARGS


@dag(dag_id="drill", schedule=None, default_args={**DEFAULT_ARGS, "retry_delay": timedelta(seconds=1)})
def drill():
    @task
    def broken() -> str:
        from pipeline.store.db import parse_size

        return str(parse_size(5))  # a code error

    @task
    def locked_once() -> str:
        from pipeline.store import StoreLockedError

        marker = Path(os.environ["DRILL_MARKER"])
        if not marker.exists():
            marker.touch()
            raise StoreLockedError("another trends process (pid 1560) is writing")
        return "ok"

    broken()
    locked_once()


drill()
"""

RUN_DRILL = """
import sys
sys.path.insert(0, sys.argv[1])
from drill import drill
run = drill().test()
print("RESULT", {ti.task_id: [str(ti.state), ti.try_number] for ti in run.get_task_instances()})
"""


@pytest.mark.e2e
def test_under_airflow_a_code_error_fails_once_and_notifies_while_a_held_lock_is_retried(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TRENDS_"))},
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__BASE_URL": "http://127.0.0.1:8093",
        "TRENDS_HOME": str(tmp_path / "trends"),
        "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path]),
    }
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "trends_common.py").symlink_to(DAGS / "trends_common.py")
    (folder / "drill.py").write_text(DRILL_DAG)
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(folder)
    env["DRILL_MARKER"] = str(tmp_path / "marker")
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run(
        [airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600
    )
    with WebhookSink() as hook:
        env["TRENDS_NOTIFY_WEBHOOK_URL"] = hook.url
        proc = subprocess.run(
            [sys.executable, "-c", RUN_DRILL, str(folder)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        posts = list(hook.posts)
    out = proc.stdout + proc.stderr
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT")), None)
    assert line, out[-3000:]
    result = json.loads(line.removeprefix("RESULT ").replace("'", '"'))
    assert result["broken"] == ["failed", 1], out[-3000:]  # no retry
    assert result["locked_once"] == ["success", 2], out[-3000:]  # retried once, then through
    assert "TypeError: " in out and "a code error (not retried)" in out
    (post,) = posts  # the failure only; the retried task did not notify
    assert post["task_id"] == "broken" and post["dag_id"] == "drill"
    assert "Error: TypeError: " in post["text"] and "pipeline/store/db.py" in post["text"]
    assert post["log_url"].startswith("http://127.0.0.1:8093/dags/drill/runs/")
