"""One source of truth for the embedding backend, through the DAG chain.

`trends_topics` fits with a non-default backend (``embedding_backend=static``); `trends_report`
then runs with the environment's settings, which name no backend. Its analyze must score the
themes with the fit's vectors, so every theme's denominator is the fit's papers; an explicit
other backend is refused with one line instead of silently shrinking the denominators.
"""

import duckdb
import pytest
from conftest import ARXIV
from dag_home import dag_test_env, run_dag_code

pytestmark = pytest.mark.e2e
SAMPLE = 60
STATIC = "all-MiniLM-L6-v2-m2v256-v1"  # pipeline.embed.MODEL_NAMES[static]

CHAIN = """
import sys
sys.path.insert(0, sys.argv[1])
from trends_ingest import trends_ingest
from trends_report import trends_report
from trends_topics import trends_topics

run = trends_ingest().test(run_conf={"sample": int(sys.argv[3]), "input_path": sys.argv[2]})
print("INGEST", run.state)
run = trends_topics().test(run_conf={"embedding_backend": "static", "embed_shards": 1})
print("TOPICS", run.state)
run = trends_report().test(run_conf={})
print("REPORT", run.state)
"""


def theme_denominators(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """What the themes were scored against, next to what the fit holds."""
    run_id, model, n_docs = con.execute(
        "select topic_run_id, model, n_docs from topic_runs order by created_at desc limit 1"
    ).fetchone()
    fit_papers = con.execute(
        "select count(*) from paper_topics pt join papers p using (paper_id)"
        " where pt.topic_run_id = ? and p.published is not null",
        [run_id],
    ).fetchone()[0]
    per_theme = con.execute(
        "select theme_id, sum(denominator) from theme_shares where period_grain = 'month'"
        " group by 1"
    ).fetchall()
    scored = con.execute("select count(distinct paper_id) from paper_themes").fetchone()[0]
    vectors = {m for (m,) in con.execute("select distinct model from theme_vectors").fetchall()}
    return {
        "model": model,
        "n_docs": n_docs,
        "fit_papers": fit_papers,
        "per_theme": dict(per_theme),
        "scored": scored,
        "theme_vector_models": vectors,
    }


def test_report_after_a_static_fit_scores_themes_with_the_fit_vectors(tmp_path):
    # the report DAG reads the default (onnx), not the fit's backend
    env, home = dag_test_env(tmp_path, drop=frozenset({"TRENDS_EMBEDDING_BACKEND"}))
    proc, log = run_dag_code(env, CHAIN, str(ARXIV), str(SAMPLE))
    for line in ("INGEST success", "TOPICS success", "REPORT success"):
        assert line in proc.stdout, log
    with duckdb.connect(str(home / "trends.duckdb"), read_only=True) as con:
        seen = theme_denominators(con)
    assert seen["model"] == STATIC
    assert seen["n_docs"] == seen["scored"] == SAMPLE
    assert seen["per_theme"], "no theme shares"
    assert set(seen["per_theme"].values()) == {seen["fit_papers"]}
    assert seen["theme_vector_models"] == {STATIC}


def test_an_explicit_other_backend_is_refused_in_one_line(tmp_path, monkeypatch):
    from pipeline.config import load_settings
    from pipeline.runner import (
        BackendMismatchError,
        analyze_stage,
        embed_stage,
        ingest_request,
        ingest_request_stage,
        report_stage,
        run_settings,
        topics_when_ready_stage,
        writer,
    )

    monkeypatch.delenv("TRENDS_EMBEDDING_BACKEND", raising=False)
    monkeypatch.setenv("TRENDS_HOME", str(tmp_path / "trends"))
    params = {"embedding_backend": "static", "sample": SAMPLE, "input_path": str(ARXIV)}
    fit = run_settings(params)  # trends_topics with the run's backend
    with writer(fit) as store:
        ingest_request_stage(store, fit, ingest_request(fit, params))
        embed_stage(store, fit)
        topics_when_ready_stage(store, fit)
        report_settings = load_settings()  # trends_report: the environment's (default onnx)
        assert report_settings.embedding_backend.value == "onnx"
        analyze_stage(store, report_settings)
        seen = theme_denominators(store.con)
        assert set(seen["per_theme"].values()) == {seen["fit_papers"]} == {SAMPLE}
        explicit = load_settings(embedding_backend="onnx")
        for stage in (analyze_stage, report_stage):
            with pytest.raises(BackendMismatchError) as err:
                stage(store, explicit)
            message = str(err.value)
            assert "\n" not in message
            assert "onnx was set" in message and "made with static" in message
        # embedding under the default settings uses the fit's backend (all cached)
        line = embed_stage(store, report_settings)
        assert STATIC in line and "embedded 0 papers" in line
