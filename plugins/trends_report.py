"""Airflow plugin: the published Research Trends report inside the Airflow UI.

Serves ``$TRENDS_HOME/site`` under ``<api base url>/trends-report/`` to signed-in users and
adds a top-level navigation entry, *Trends report*, that shows it in the UI. The local
Airflow (`scripts/airflow_local.sh`) points ``[core] plugins_folder`` here; elsewhere copy or
link this file into the deployment's plugins folder (the `pipeline` package must be importable).
"""

from __future__ import annotations

from airflow.sdk.plugins_manager import AirflowPlugin

from pipeline.airflow_plugin import NAV_NAME, NAV_ROUTE, URL_PREFIX


def _app():
    from fastapi import Depends

    from pipeline.airflow_plugin import report_app
    from pipeline.config import load_settings

    try:  # Airflow's own check: a valid session cookie or bearer token
        from airflow.api_fastapi.core_api.security import requires_authenticated

        guard = [Depends(requires_authenticated())]
    except ImportError:  # outside the API server's environment (docs, linters)
        guard = []
    return report_app(load_settings().site_dir, guard)


class TrendsReportPlugin(AirflowPlugin):
    """The report app and its navigation entry."""

    name = "research_trends_report"
    fastapi_apps = [{"app": _app(), "url_prefix": URL_PREFIX, "name": NAV_NAME}]  # noqa: RUF012
    external_views = [  # noqa: RUF012
        {
            "name": NAV_NAME,
            "href": f"{URL_PREFIX.lstrip('/')}/",  # relative: works behind a proxy prefix
            "url_route": NAV_ROUTE,
            "destination": "nav",
            "nav_top_level": True,
        }
    ]
