"""The host name a task instance records: the Celery worker's own name where one is set.

Airflow stores ``[core] hostname_callable()`` on every task instance it runs. Workers on one
machine share its host name, so `make airflow-celery` (scripts/airflow_celery.sh) gives each
worker a ``TRENDS_WORKER_NAME`` and points ``AIRFLOW__CORE__HOSTNAME_CALLABLE`` here: the UI
and the REST API then show which worker ran each task (``worker-1@host``), like Celery's own
``name@host`` node names. Without the variable it is the plain host name, Airflow's default.
Task logs are read from the shared log folder, never fetched from this name.
"""

from __future__ import annotations

import os
import socket

WORKER_NAME_ENV = "TRENDS_WORKER_NAME"


def task_hostname() -> str:
    """``<worker name>@<fqdn>`` when ``TRENDS_WORKER_NAME`` is set, else the fqdn."""
    host = socket.getfqdn()
    name = os.environ.get(WORKER_NAME_ENV, "").strip()
    return f"{name}@{host}" if name else host
