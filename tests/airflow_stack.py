"""The local Airflow stack of `scripts/airflow_local.sh`, started and stopped for a test module.

Shared by the live DAG tests (tests/dags/test_airflow_live.py), the Celery stack test
(tests/dags/test_airflow_celery.py, ``AIRFLOW_EXECUTOR=celery``) and the operator's browser
test (tests/browser/test_airflow_ui.py): a free loopback port, the environment the script
reads, starting the processes and stopping exactly the ones the script recorded, the addresses
they listen on, and the browser steps (opening a page, signing in).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO

SCRIPT = REPO / "scripts" / "airflow_local.sh"
PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"  # not a zombie


def stack_env(
    base: Path, port: int, *, drop: tuple[str, ...] = ("AIRFLOW",), **extra: str
) -> dict[str, str]:
    """This process's environment without the ``drop`` prefixes, set for a stack under ``base``.

    Airflow keeps its state in ``base/airflow``, the pipeline in ``base/trends``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        AIRFLOW_HOME=str(base / "airflow"),
        AIRFLOW_PORT=str(port),
        TRENDS_HOME=str(base / "trends"),
        HF_HUB_OFFLINE="1",
    )
    env.update(extra)
    return env


@dataclass
class Started:
    """A started stack: what the script printed, the admin password, the recorded pids."""

    stdout: str
    password: str
    pids: dict[str, int]


@contextmanager
def airflow_stack(env: dict[str, str]) -> Iterator[Started]:
    """Start the stack with ``env`` (see `stack_env`); stop it, and then any recorded pid left.

    Fails (after stopping) unless the script started and wrote the admin password. Stops what
    the script recorded also when the start fails or is interrupted.
    """
    airflow_home = Path(env["AIRFLOW_HOME"])
    pid_dir = airflow_home / "pids"
    pids: dict[str, int] = {}
    try:
        # the script's own wait for the API, plus the migration and the services before it
        timeout = int(env.get("AIRFLOW_START_TIMEOUT", "180")) + 420
        started = subprocess.run(
            [str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=timeout
        )
        pids.update(_recorded_pids(pid_dir))
        assert started.returncode == 0, started.stdout + started.stderr
        password = json.loads(
            (airflow_home / "simple_auth_manager_passwords.json.generated").read_text()
        )["admin"]
        yield Started(started.stdout, password, pids)
    finally:
        pids.update(_recorded_pids(pid_dir))  # also when the start itself was interrupted
        subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, timeout=180)
        for pid in pids.values():  # last resort, only for the pids the script recorded
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)


def _recorded_pids(pid_dir: Path) -> dict[str, int]:
    """Every pid the script recorded: the four processes, and any workers and services."""
    found = {}
    for path in pid_dir.glob("*.pid"):
        try:
            found[path.stem] = int(path.read_text())
        except (OSError, ValueError):  # removed or half-written meanwhile
            continue
    return found


def process_groups(pids: dict[str, int]) -> set[int]:
    """The recorded pids and every process in their groups (children: workers, backends)."""
    group = set(pids.values())
    for pid in pids.values():
        found = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True)
        group |= {int(p) for p in found.stdout.split()}
    return group


def listening_addresses(pids: dict[str, int]) -> list[str]:
    """``address:port`` of each TCP socket a recorded process or its group listens on."""
    group = process_groups(pids)
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        owners = {int(p.split("=")[1]) for p in line.split("users:")[-1].split(",") if "pid=" in p}
        if owners & group:
            found.append(line.split()[3])
    return sorted(found)


def goto(page, url: str) -> None:
    """Open ``url``; a late redirect of the sign-in may interrupt the load, so retry then."""
    from playwright.sync_api import Error as PlaywrightError

    for attempt in range(5):
        try:
            page.goto(url, wait_until="networkidle")
            return
        except PlaywrightError as exc:
            if "interrupted by another navigation" not in str(exc) or attempt == 4:
                raise
            page.wait_for_load_state("networkidle")


@contextmanager
def signed_in_page(pw, chromium: str, url: str, password: str, *, width: int) -> Iterator:
    """A page of headless ``chromium`` (Playwright ``pw``), signed in to the UI at ``url``.

    The browser closes when the block ends.
    """
    browser = pw.chromium.launch(
        executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"]
    )
    try:
        page = browser.new_page(viewport={"width": width, "height": 1000})
        page.set_default_timeout(60_000)
        sign_in(page, url, password)
        yield page
    finally:
        browser.close()


def sign_in(page, url: str, password: str) -> None:
    """Sign in as admin on the UI at ``url``, and wait until the login form is gone.

    Signing in redirects (token, then the UI's own routing): navigating before the form is
    gone races those redirects; `goto` retries should a late one interrupt it.
    """
    page.goto(f"{url}/", wait_until="networkidle")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Password").wait_for(state="detached")
    page.wait_for_load_state("networkidle")
