"""The Airflow plugin that serves the published report, and the outputs' asset extras."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi import Depends, HTTPException, Request
from fastapi.testclient import TestClient

from pipeline.airflow_plugin import output_extras, report_app
from pipeline.config import load_settings

REPO = Path(__file__).resolve().parents[2]


def publish(home: Path, name: str, title: str) -> None:
    """A site folder, swapped in as the pipeline does: ``site`` is a symlink to it."""
    folder = home / name
    (folder / "topics").mkdir(parents=True)
    (folder / "index.html").write_text(f"<html><title>{title}</title><body>{title}</body></html>")
    (folder / "topics" / "t1.html").write_text("topic page")
    link = home / "site"
    tmp = home / "site.tmp"
    tmp.symlink_to(folder.name)
    tmp.replace(link)


def test_serves_the_site_and_follows_each_new_publication(tmp_path):
    client = TestClient(report_app(tmp_path / "site"))
    missing = client.get("/")
    assert missing.status_code == 404 and "No report published yet" in missing.text
    publish(tmp_path, "site-1", "First report")
    assert "First report" in client.get("/").text
    assert client.get("/topics/t1.html").text == "topic page"
    publish(tmp_path, "site-2", "Second report")
    assert "Second report" in client.get("/").text  # the same app, the new folder
    assert client.get("/../site-1/index.html").status_code == 404
    assert client.get("/%2e%2e/site-1/index.html").status_code == 404


def test_every_request_passes_the_guard(tmp_path):
    publish(tmp_path, "site-1", "Report")

    def signed_in(request: Request) -> None:
        if request.cookies.get("_token") != "good":
            raise HTTPException(status_code=401, detail="Not authenticated")

    client = TestClient(report_app(tmp_path / "site", [Depends(signed_in)]))
    assert client.get("/").status_code == 401
    assert client.get("/index.html").status_code == 401
    client.cookies.set("_token", "good")
    assert "Report" in client.get("/").text


def test_asset_extras_point_at_the_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("TRENDS_HOME", str(tmp_path))
    settings = load_settings()
    site = output_extras(settings, "site", "http://127.0.0.1:8093/")
    assert site["report_url"] == "http://127.0.0.1:8093/trends-report/"
    assert site["path"] == str(tmp_path / "site")  # the link, not this publication's folder
    assert site["ui_route"] == "http://127.0.0.1:8093/plugin/trends-report"
    db = output_extras(settings, "database", "http://127.0.0.1:8093")
    assert db["path"] == str(tmp_path / "trends.duckdb")


PROBE = """
import sys
from airflow import plugins_manager
plugins_manager.plugins = None
apps, _ = plugins_manager.get_fastapi_plugins()
views, _ = plugins_manager._get_ui_plugins() if hasattr(plugins_manager, "_get_ui_plugins") else (None, None)
print("APPS", [(a["name"], a["url_prefix"]) for a in apps])
from airflow.plugins_manager import get_plugin_info
for info in get_plugin_info():
    print("VIEWS", info.get("external_views"))
"""


def test_airflow_loads_the_plugin_from_the_plugins_folder(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TRENDS_"))},
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "TRENDS_HOME": str(tmp_path / "trends"),
        "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "('Trends report', '/trends-report')" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert "'url_route': 'trends-report'" in proc.stdout and "'nav_top_level': True" in proc.stdout
