"""`dag.test()` of trends_backtest on a small slice of the conference corpus, in a fresh home.

The all-in-one DAG ingests and embeds the slice (static backend) and fits topics; then a
backtest with a bad range fails at once (one line naming it, no retry), and a good one fills
the three backtest tables of the working store.
"""

import duckdb
import pytest
from conftest import CONFERENCES
from dag_home import dag_test_env, run_dag_code

pytestmark = pytest.mark.e2e
SAMPLE = 400

RUN = """
import sys
sys.path.insert(0, sys.argv[1])
from research_trends import research_trends
from trends_backtest import trends_backtest

conf = {"sample": int(sys.argv[3]), "input_path": sys.argv[2], "embedding_backend": "static"}
print("SETUP", research_trends().test(run_conf=conf).state)
bad = trends_backtest().test(run_conf={"date_from": "2023-01-01", "date_to": "2021-01-01"})
print("BAD", bad.state, [ti.try_number for ti in bad.get_task_instances()])
conf = {"date_from": "2021-01-01", "date_to": "2023-12-31", "fit_budget": 300, "tune_until": 2021}
print("BACKTEST", trends_backtest().test(run_conf=conf).state)
"""


def test_backtest_dag_fills_the_backtest_tables(tmp_path):
    env, home = dag_test_env(tmp_path)
    proc, log = run_dag_code(env, RUN, str(CONFERENCES), str(SAMPLE))
    assert "SETUP success" in proc.stdout, log
    assert "BAD failed [1]" in proc.stdout, log  # failed on its first try: no retry
    assert "backtest range 2023-01-01 .. 2021-01-01 is empty" in proc.stdout + proc.stderr, log
    assert "BACKTEST success" in proc.stdout, log
    with duckdb.connect(str(home / "work" / "trends.duckdb"), read_only=True) as con:
        [(grain, cutoffs, calls, tune_until)] = con.execute(
            "select period_grain, cutoffs, calls, tune_until from backtest_runs"
        ).fetchall()
        splits = dict(
            con.execute("select split, count(*) from backtest_calls group by 1").fetchall()
        )
        scores = con.execute("select count(*) from backtest_scores").fetchone()[0]
    assert (grain, cutoffs, tune_until) == ("year", 3, 2021)
    assert calls == sum(splits.values()) > 0 and set(splits) == {"tuning", "scored"}
    assert scores > 0
