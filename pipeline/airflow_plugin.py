"""The published report inside the Airflow UI, and where a run's outputs lie.

``plugins/trends_report.py`` registers :func:`report_app` with Airflow's API server (a FastAPI
app under ``/trends-report``) and a navigation entry that opens it in the UI. The app serves
the published site (``$TRENDS_HOME/site``) to signed-in users only: the report comes from the
same place the pipeline swaps new versions into, so the entry always shows the latest one.

:func:`output_extras` is what the ``report`` and ``publish`` tasks attach to their asset events,
so the run that made a report links to it (the run's *Asset events*, and the asset's page).
"""

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.config import Settings

URL_PREFIX = "/trends-report"
NAV_ROUTE = "trends-report"
NAV_NAME = "Trends report"


def report_url(base_url: str) -> str:
    """The report as the Airflow API server serves it (``base_url``: ``[api] base_url``)."""
    return f"{base_url.rstrip('/')}{URL_PREFIX}/"


def airflow_base_url() -> str:
    """Airflow's ``[api] base_url`` (where the UI and this plugin are served)."""
    from airflow.sdk.configuration import conf

    return str(conf.get("api", "base_url", fallback="http://localhost:8080/"))


def output_extras(settings: Settings, output: str, base_url: str | None = None) -> dict[str, str]:
    """Extras of an asset event: where the output is on disk, and how to open it.

    Args:
        settings: The run's settings (``TRENDS_HOME``).
        output: ``"site"`` or ``"database"``.
        base_url: Airflow's ``[api] base_url``; by default read from Airflow's configuration.

    """
    base_url = base_url or airflow_base_url()
    if output == "site":
        return {
            "path": str(settings.site_dir.absolute()),  # the link the pipeline swaps
            "report_url": report_url(base_url),
            "ui_route": f"{base_url.rstrip('/')}/plugin/{NAV_ROUTE}",
        }
    if output == "database":
        db = settings.published_db.absolute()
        return {
            "path": str(db),
            "query": f'trends sql "select count(*) from papers"  (or: duckdb -readonly {db})',
        }
    raise ValueError(f"unknown output {output!r}; use 'site' or 'database'")


def _not_published_page(site_dir: Path) -> str:
    where = html.escape(str(site_dir))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>No report yet</title></head><body style='font-family:sans-serif;margin:2em'>"
        "<h1>No report published yet</h1>"
        f"<p>The report appears here once <code>trends_report</code> or "
        f"<code>research_trends</code> has run its <code>report</code> task; it is written to "
        f"<code>{where}</code>.</p></body></html>"
    )


def report_app(site_dir: Path, dependencies: Sequence[Any] = ()) -> Any:
    """A FastAPI app serving the site folder ``site_dir`` (an index page when none is there).

    ``site_dir`` may be a symlink that the pipeline swaps: it is resolved on every request.
    ``dependencies`` guard every request (the plugin passes Airflow's sign-in check).
    """
    import os

    from fastapi import FastAPI, Request
    from starlette.responses import HTMLResponse, Response
    from starlette.staticfiles import StaticFiles

    files = StaticFiles(directory=site_dir, html=True, check_dir=False)
    app = FastAPI(
        title="Research Trends report",
        dependencies=list(dependencies),  # apply to routes (not to mounts): hence one route
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/{path:path}", include_in_schema=False)
    async def page(path: str, request: Request) -> Response:
        if not site_dir.is_dir():  # nothing published yet: say so, not a bare 404
            return HTMLResponse(_not_published_page(site_dir), status_code=404)
        relative = os.path.normpath(os.path.join(*path.split("/")))  # as StaticFiles does
        return await files.get_response(relative, request.scope)

    return app
