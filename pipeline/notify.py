"""Tell someone when a DAG task fails (and, if asked, when a run succeeds).

:class:`TrendsNotifier` is an Airflow notifier (``airflow.sdk.BaseNotifier``); the DAGs attach
it to every task through ``default_args`` (``on_failure_callback``, ``on_success_callback``).
Its targets are settings, so the same DAG files notify differently per deployment:

- ``TRENDS_NOTIFY_WEBHOOK_URL``: a JSON POST (``{"text": ...}``, which Slack, Mattermost and
  most chat webhooks accept, plus the fields one by one);
- ``TRENDS_NOTIFY_SMTP`` (``host:port`` of a relay) and ``TRENDS_NOTIFY_EMAIL_TO``: a mail;
- ``TRENDS_NOTIFY_ON_SUCCESS``: also a message when a run's last task succeeds.

No target set: nothing is sent. The message names the DAG, the run, the task and its try, the
error in one line and whether it is retried, and the link to the task's log in the Airflow UI.
Importing this module is light (the DAG files import it while parsing): the pipeline's stage
modules, httpx and smtplib are imported only when a message goes out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseNotifier

from pipeline.config import Settings, load_settings

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RunEvent:
    """What happened to which task of which run."""

    state: str  # "failed" or "success"
    dag_id: str
    run_id: str
    task_id: str
    try_number: int | None
    max_tries: int | None
    error: str | None  # one line; None on success
    log_url: str

    def subject(self) -> str:
        """A mail subject / chat headline."""
        what = "FAILED" if self.state == "failed" else "succeeded"
        return f"[research-trends] {self.dag_id}.{self.task_id} {what} (run {self.run_id})"

    def text(self) -> str:
        """The message: one fact a line."""
        tries = ""
        if self.try_number:
            tries = f" (try {self.try_number}" + (
                f" of {self.max_tries + 1})" if self.max_tries is not None else ")"
            )
        lines = [
            self.subject(),
            f"DAG:   {self.dag_id}",
            f"Run:   {self.run_id}",
            f"Task:  {self.task_id}{tries}",
            f"State: {self.state}",
        ]
        if self.error:
            lines.append(f"Error: {self.error}")
        lines.append(f"Log:   {self.log_url}")
        return "\n".join(lines)


def _base_url() -> str:
    from airflow.sdk.configuration import conf

    return str(conf.get("api", "base_url", fallback="http://localhost:8080/")).rstrip("/")


def event_from_context(context: Any, state: str) -> RunEvent:
    """The :class:`RunEvent` of a task callback's Airflow context."""
    from pipeline.failures import classify

    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag_id = str(getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", "?"))
    run_id = str(getattr(ti, "run_id", None) or getattr(dag_run, "run_id", "?"))
    task_id = str(getattr(ti, "task_id", "") or "")
    error = None
    exc = context.get("exception")
    if state == "failed":
        if isinstance(exc, BaseException):
            failure = classify(exc)
            error = f"{failure.line} [{failure.kind.describe()}]"
        else:
            error = str(exc or context.get("reason") or "unknown error")
    try:
        log_url = str(ti.log_url)
    except Exception:  # no task instance (a DAG-level callback), or no config
        log_url = f"{_base_url()}/dags/{quote(dag_id)}/runs/{quote(run_id)}"
    ctx = getattr(ti, "_ti_context_from_server", None)
    return RunEvent(
        state=state,
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        try_number=getattr(ti, "try_number", None),
        max_tries=getattr(ctx, "max_tries", None) if ctx is not None else None,
        error=error,
        log_url=log_url,
    )


def send_webhook(url: str, event: RunEvent, timeout: float = TIMEOUT_S) -> None:
    """POST the event as JSON: ``text`` (the whole message) and each field."""
    import httpx

    response = httpx.post(url, json={"text": event.text(), **asdict(event)}, timeout=timeout)
    response.raise_for_status()


def send_mail(
    server: str, sender: str, recipients: list[str], event: RunEvent, timeout: float = TIMEOUT_S
) -> None:
    """Mail the event through the SMTP relay ``host:port``."""
    import smtplib
    from email.message import EmailMessage

    host, _, port = server.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"TRENDS_NOTIFY_SMTP: {server!r} is not host:port")
    message = EmailMessage()
    message["Subject"] = event.subject()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content(event.text())
    with smtplib.SMTP(host, int(port), timeout=timeout) as smtp:
        smtp.send_message(message)


def send_event(settings: Settings, event: RunEvent) -> list[str]:
    """Send to every configured target; returns where it went. Raises if any target failed."""
    sent, errors = [], []
    targets = []
    if settings.notify_webhook_url:
        targets.append(("webhook", lambda: send_webhook(settings.notify_webhook_url, event)))
    if settings.notify_smtp and settings.notify_email_to:
        recipients = [r.strip() for r in settings.notify_email_to.split(",") if r.strip()]
        targets.append(
            (
                f"mail to {', '.join(recipients)}",
                lambda: send_mail(
                    settings.notify_smtp, settings.notify_email_from, recipients, event
                ),
            )
        )
    for name, send in targets:
        try:
            send()
            sent.append(name)
        except Exception as exc:  # one target down must not stop the others
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    if errors:
        raise RuntimeError("notification not delivered: " + "; ".join(errors))
    return sent


class TrendsNotifier(BaseNotifier):
    """Notify the configured targets of a task's failure, or of a run's success.

    Args:
        state: ``"failed"`` for ``on_failure_callback``; ``"success"`` for
            ``on_success_callback``, which sends only when ``TRENDS_NOTIFY_ON_SUCCESS`` is set
            and only for a DAG's last task (one message per successful run).

    """

    def __init__(self, state: str = "failed") -> None:
        super().__init__()
        if state not in {"failed", "success"}:
            raise ValueError(f"state must be 'failed' or 'success', not {state!r}")
        self.state = state

    def notify(self, context: Any) -> None:
        """Build the message from the task's context and send it."""
        settings = load_settings()
        if self.state == "success":
            task = context.get("task")
            if not settings.notify_on_success or (task is not None and task.downstream_task_ids):
                return
        event = event_from_context(context, self.state)
        if self.state == "failed":  # the one line an operator looks for in the task log
            self.log.error("%s.%s failed: %s", event.dag_id, event.task_id, event.error)
        sent = send_event(settings, event)
        if sent:
            self.log.info("notified %s: %s", ", ".join(sent), event.subject())
