"""The daily feed: scheduled `trends_ingest` runs harvest OAI-PMH from the stored watermark.

A loopback server (``tests/unit/loopback.py``) serves the five real arXiv ``ListRecords``
pages with a real repository's set and datestamp filters. ``dag.test()`` makes manual runs
only, so the script below has it create *scheduled* runs, as the scheduler would, each with its
daily data interval. Three runs, each in a fresh process against one Airflow and trends home:

1. the operator starts the feed with a manual run (source oai, from 2010-01-01) while the
   repository holds records up to 2014 only: the ``cs`` records of 2010..2014 are stored;
2. the scheduled run of 2026-01-01, after the repository gained the records of 2015..2018:
   with no parameters it harvests the feed, from the watermark (run 1's last datestamp, not
   its interval) and stores the new records;
3. the same interval again (a rerun): it asks from the new watermark, changes nothing and is
   skipped, so nothing downstream starts.

(The pages date from 2007..2018, before the DAG's start date, so a scheduled run cannot be the
stream's first: a first scheduled run starts at its interval, tested in test_ingest_request.)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import REPO
from dag_home import dag_test_env, run_dag_code

sys.path.insert(0, str(REPO / "tests" / "unit"))  # the loopback servers live beside the unit tests
from loopback import OaiServer, expected_oai_ids, oai_page_bytes, record_matches

pytestmark = pytest.mark.e2e

SCHEDULED_RUN = """
import json
import sys
from datetime import datetime, timezone

sys.path.insert(0, sys.argv[1])
import airflow.models.dagrun as dagrun_module
from airflow.utils.state import DagRunState
from airflow.utils.types import DagRunType
from sqlalchemy import select

from trends_ingest import trends_ingest


def create_scheduled_run(*, dag, logical_date, data_interval, run_after, conf, triggered_by,
                         triggering_user_name, start_date, session, run_id):
    # dag.test() always makes a manual run; the scheduler would make this one
    DagRun = dagrun_module.DagRun
    old = session.scalar(select(DagRun).where(
        DagRun.dag_id == dag.dag_id, DagRun.logical_date == logical_date))
    if old:  # a rerun of the interval, as after clearing it in the UI
        session.delete(old)
        session.commit()
    return dag.create_dagrun(
        run_id=DagRun.generate_run_id(
            run_type=DagRunType.SCHEDULED, logical_date=logical_date, run_after=run_after),
        logical_date=logical_date, data_interval=data_interval, run_after=run_after,
        conf=conf, run_type=DagRunType.SCHEDULED, state=DagRunState.RUNNING,
        triggered_by=triggered_by, triggering_user_name=triggering_user_name,
        start_date=start_date, session=session)


if sys.argv[3] == "scheduled":
    dagrun_module.get_or_create_dagrun = create_scheduled_run
logical = datetime.fromisoformat(sys.argv[2]).replace(tzinfo=timezone.utc)
run = trends_ingest().test(logical_date=logical, run_conf=json.loads(sys.argv[4]))
states = {ti.task_id: ti.state for ti in run.get_task_instances()}
print("RUN", run.run_type, run.state, states["ingest"])
"""

_RECORD = re.compile(rb"<record>.*?</record>\s*", re.DOTALL)


def pages_until(until: str) -> list[bytes]:
    """The real pages as the repository showed them before ``until``'s next day."""
    return [
        _RECORD.sub(
            lambda m: m.group(0) if record_matches(m.group(0), None, None, until) else b"", p
        )
        for p in oai_page_bytes()
    ]


def run_interval(
    env: dict[str, str], logical_date: str, kind: str = "scheduled", conf: dict | None = None
) -> str:
    proc, log = run_dag_code(
        env, SCHEDULED_RUN, logical_date, kind, json.dumps(conf or {}), timeout=600
    )
    found = re.search(r"^RUN (\S+) (\S+) (\S+)$", proc.stdout, re.MULTILINE)
    assert found, log
    return " ".join(found.groups())


def stored(home: Path) -> tuple[set[str], list[tuple], str]:
    """Paper ids, (asked from, new, status) of each run, and the stream's watermark."""
    with duckdb.connect(str(home / "work" / "trends.duckdb"), read_only=True) as con:
        ids = {r[0] for r in con.execute("select paper_id from papers").fetchall()}
        runs = con.execute(
            "select json_extract_string(params, '$.from'), n_new, status from ingest_runs"
            " order by started_at"
        ).fetchall()
        (watermark,) = con.execute("select watermark from source_watermarks").fetchone()
    return ids, runs, watermark


def test_scheduled_runs_harvest_the_feed_from_the_watermark(tmp_path):
    env, home = dag_test_env(tmp_path, TRENDS_OAI_SET="cs", TRENDS_FETCH_PAUSE="0")
    with OaiServer(pages=pages_until("2014-12-31")) as server:
        env["TRENDS_OAI_URL"] = f"{server.base}/oai2"
        seed = {"source": "oai", "date_from": "2010-01-01"}
        assert run_interval(env, "2025-12-31", "manual", seed) == "manual success success"
        assert server.filters == {"set": "cs", "from": "2010-01-01", "until": None}
        first, runs, watermark = stored(home)
        assert first == expected_oai_ids("cs", "2010-01-01", "2014-12-31")
        assert "2010-01-01" < watermark <= "2014-12-31"  # the last datestamp harvested

        server.pages = oai_page_bytes()  # the repository gains the papers of 2015..2018
        assert run_interval(env, "2026-01-02") == "scheduled success success"
        # from the watermark, not from the interval's start (2026-01-01)
        assert server.filters["from"] == watermark
        ids, runs, second_watermark = stored(home)
        assert ids == expected_oai_ids("cs", "2010-01-01")
        new_in_2 = ids - first
        assert new_in_2 and runs[-1][1] == len(new_in_2)
        assert second_watermark > watermark

        # the same interval again: from the new watermark, nothing new, the task is skipped
        assert run_interval(env, "2026-01-02") == "scheduled success skipped"
        assert server.filters["from"] == second_watermark
        again, runs, _ = stored(home)
        assert again == ids
        assert [r[1:] for r in runs] == [
            (len(first), "complete"),
            (len(new_in_2), "complete"),
            (0, "complete"),
        ]
