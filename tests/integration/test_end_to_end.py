"""The main job through the CLI on 2,000 real arXiv abstracts, as a user runs it.

One pipeline run is shared by the tests of this module, which run in file order: the first
checks what it built, the later ones run the pipeline again on the same home.
"""

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
from conftest import ARXIV, SAMPLE, trends, trends_bin

pytestmark = pytest.mark.e2e
KEYED_TABLES = {
    "papers": ["paper_id"],
    "raw_records": ["source", "payload_hash"],
    "rejected_records": ["source", "payload_hash"],
    "paper_embeddings": ["paper_id", "model"],
    "topic_runs": ["topic_run_id"],
    "topics": ["topic_run_id", "topic_id"],
    "paper_topics": ["topic_run_id", "paper_id"],
    "topic_shares": ["source", "period_grain", "period_start", "topic_id"],
    "topic_growth": ["source", "period_grain", "topic_id"],
}


@pytest.fixture(scope="module")
def home(real_run_home):
    return real_run_home


def counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in KEYED_TABLES}


def test_first_run_builds_store_marts_and_site(home):
    log = home.joinpath("first_run.log").read_text()
    assert f"received {SAMPLE:,} = stored {SAMPLE:,}" in log
    assert f"embedded {SAMPLE:,} papers" in log
    c = counts(home / "trends.duckdb")
    assert c["papers"] == c["paper_embeddings"] == c["paper_topics"] == SAMPLE
    assert c["topics"] >= 15  # a 2,000-paper slice of cs.AI has many themes
    site = home / "site"
    index = (site / "index.html").read_text()
    assert index.count('data-figure="') >= 3
    assert 'src="assets/plotly.min.js"' in index
    assert not re.search(r'<script[^>]+src="(https?:)?//', index)
    n_topics = c["topics"]
    assert len(list((site / "topics").glob("*.html"))) == n_topics


def test_topics_are_about_their_documents(home):
    with duckdb.connect(str(home / "trends.duckdb"), read_only=True) as con:
        topics = con.execute(
            "select topic_id, terms, size from topics where topic_id <> -1 and size >= 15"
        ).fetchall()
        docs = con.execute(
            "select pt.topic_id, lower(p.title || ' ' || p.abstract) from paper_topics pt"
            " join papers p using (paper_id)"
        ).fetchall()
    lifts = []
    for topic_id, terms, _ in topics:
        inside = [d for t, d in docs if t == topic_id]
        outside = [d for t, d in docs if t != topic_id]
        for term in terms[:3]:
            p_in = sum(term in d for d in inside) / len(inside)
            p_out = (sum(term in d for d in outside) + 1) / (len(outside) + 1)
            lifts.append(p_in / p_out)
    # a topic's top terms are far more frequent in its own papers than elsewhere
    assert sorted(lifts)[len(lifts) // 10] >= 2.0, sorted(lifts)[:10]
    families = {
        "robotics": {"robot", "robotic", "robots", "manipulation"},
        "medicine": {"clinical", "medical", "patient", "patients"},
        "reinforcement learning": {"rl", "reinforcement learning", "reward", "policy"},
        "retrieval": {"rag", "retrieval", "retrieval-augmented"},
        "agents": {"agent", "agents", "multi-agent", "multiagent"},
    }
    found = {
        name for name, words in families.items() for _, terms, _ in topics if words & set(terms[:5])
    }
    assert len(found) >= 4, found


def test_the_fit_measured_its_seed_stability(home):
    """2,000 papers: the second seed clustered in a child process, beside the fit."""
    with duckdb.connect(str(home / "trends.duckdb"), read_only=True) as con:
        (stability,) = con.execute("select seed_agreement from topic_runs").fetchone()
    assert 0.5 <= stability <= 1  # most papers keep their topic under another seed
    assert f"seed stability {stability:.0%}" in home.joinpath("first_run.log").read_text()
    about = (home / "site" / "about.html").read_text()
    assert f"<th>Seed stability</th><td>{stability:.0%}</td>" in about


def test_fit_options_benchmark_runs_on_the_published_store(home):
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "fit_options.py"
    cmd = [sys.executable, str(script), "--store", str(home / "trends.duckdb"), "--labels", "3"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line.split("|")[1:-1] for line in proc.stdout.splitlines() if line.startswith("| ")]
    fits = {r[0].strip(): r for r in rows if len(r) == 9 and r[0].strip() != "fit"}
    assert list(fits) == ["ctfidf", "ctfidf + seed check (default)", "ctfidf again", "mmr"]
    assert fits["ctfidf"][7].strip() == "-"
    assert fits["ctfidf + seed check (default)"][7].strip().endswith("%")
    assert fits["ctfidf"][3] == fits["mmr"][3]  # the same topics, other words
    labels = [r for r in rows if len(r) == 4 and r[0].strip() != "topic"]
    assert len(labels) == 3


def test_themes_marts_and_pages(home):
    with duckdb.connect(str(home / "trends.duckdb"), read_only=True) as con:
        n_themes = con.execute("select count(*) from themes").fetchone()[0]
        assert n_themes >= 8
        pairs = con.execute("select count(*) from paper_themes").fetchone()[0]
        assert pairs == n_themes * SAMPLE
        members = dict(
            con.execute(
                "select theme_id, count(*) filter (where is_member) from paper_themes group by 1"
            ).fetchall()
        )
        # the headline themes are present in cs.AI 2025 but far from everywhere
        for theme in ("diffusion-models", "network-pruning", "rl-finance"):
            assert 3 <= members[theme] <= SAMPLE * 0.1, (theme, members[theme])
        statuses = {r[0] for r in con.execute("select status from series_status").fetchall()}
        assert statuses <= {
            "new",
            "emerging",
            "growing",
            "stable",
            "declining",
            "fading",
            "insufficient",
        }
    pages = {p.stem for p in (home / "site" / "themes").glob("*.html")}
    assert {"diffusion-models", "network-pruning", "rl-finance"} <= pages


def test_theme_thresholds_hold_on_the_labelled_sample(home):
    proc = trends(home, "themes", "calibrate")
    assert proc.returncode == 0, proc.stderr
    assert "460 of 460 labelled rows" in proc.stdout
    mean_f1 = float(re.search(r"mean F1 ([0-9.]+) at the file's", proc.stdout).group(1))
    assert mean_f1 >= 0.75


@pytest.mark.parametrize(
    "example",
    sorted((Path(__file__).resolve().parents[2] / "sql" / "examples").glob("*.sql")),
    ids=lambda p: p.stem,
)
def test_sql_examples_run_on_the_published_database(home, example):
    with duckdb.connect(str(home / "trends.duckdb"), read_only=True) as con:
        rows = con.execute(example.read_text()).fetchall()
    # the quarantine may be empty, a quarter may have no emerging topic, and the backtest
    # tables fill only when `trends backtest` ran (tests/sql/test_examples.py runs every example)
    empty_is_fine = (
        "09_quarantine_report",
        "01_emerging_topics_last_quarter",
        "19_backtest_track_record",
    )
    if example.stem not in empty_is_fine:
        assert rows, example.stem  # the real 2,000-paper database answers every example


def test_published_database_is_readable_by_cli_and_duckdb_shell(home):
    proc = trends(home, "sql", "select count(*) as n from papers", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines() == ["n", str(SAMPLE)]
    shell = Path(sys.executable).parent / "duckdb"
    proc = subprocess.run(
        [
            str(shell),
            "-readonly",
            "-csv",
            str(home / "trends.duckdb"),
            "-c",
            "select count(*) from topic_shares where share > 1 or ci_low > share",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0"
    bad = trends(home, "sql", "delete from papers")
    assert bad.returncode == 1 and "read-only" in bad.stderr.lower()


def test_second_run_embeds_nothing_and_duplicates_nothing(home):
    before = counts(home / "trends.duckdb")
    proc = trends(home, "run", "--sample", str(SAMPLE), str(ARXIV))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "embedded 0 papers" in proc.stdout
    assert "unchanged 2,000" in proc.stdout
    assert "no new papers to place" in proc.stdout
    after = counts(home / "trends.duckdb")
    assert after == before
    with duckdb.connect(str(home / "trends.duckdb"), read_only=True) as con:
        for table, key in KEYED_TABLES.items():
            cols = ", ".join(key)
            dupes = con.execute(
                f"select count(*) from (select {cols} from {table} group by all having count(*) > 1)"
            ).fetchone()[0]
            assert dupes == 0, table


def test_readers_are_never_blocked_during_a_run(home):
    errors: list[str] = []
    reads = 0
    env = {**os.environ, "TRENDS_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    writer = subprocess.Popen(
        [trends_bin(), "run", "--sample", str(SAMPLE + 100), str(ARXIV)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def read_loop() -> None:
        nonlocal reads
        while writer.poll() is None:
            try:
                with duckdb.connect(str(home / "trends.duckdb"), read_only=True) as con:
                    n = con.execute("select count(*) from papers").fetchone()[0]
                    assert n in (SAMPLE, SAMPLE + 100), n
                reads += 1
            except Exception as exc:  # every failure is a finding
                errors.append(repr(exc))
            time.sleep(0.05)

    reader = threading.Thread(target=read_loop)
    reader.start()
    # the CLI reader too, mid-run
    time.sleep(2)
    cli = trends(home, "sql", "select count(*) from papers", "--format", "csv")
    out, err = writer.communicate(timeout=1500)
    reader.join()
    assert writer.returncode == 0, out + err
    assert cli.returncode == 0, cli.stderr
    assert errors == []
    assert reads > 10
    assert "embedded 100 papers" in out
    assert "placed 100 papers" in out
    with duckdb.connect(str(home / "trends.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from papers").fetchone()[0] == SAMPLE + 100


def test_as_of_marts_are_reproducible_and_ignore_later_papers(home, tmp_path):
    import pandas as pd

    cut = "2025-10-01"
    marts = ["corpus_periods", "topic_shares", "theme_shares", "series_growth", "series_status",
             "mart_builds"]  # fmt: skip

    def snapshot() -> dict:
        with duckdb.connect(str(home / "work" / "trends.duckdb"), read_only=True) as con:
            return {m: con.execute(f"select * from {m} order by all").df() for m in marts}

    assert trends(home, "analyze", "--as-of", cut).returncode == 0
    first = snapshot()
    assert first["topic_shares"]["period_start"].max() <= pd.Timestamp(cut)
    assert trends(home, "analyze", "--as-of", cut).returncode == 0
    second = snapshot()
    for m in marts:
        pd.testing.assert_frame_equal(first[m], second[m], obj=m)
    # 30 real papers published after the cut, not yet in the store
    with duckdb.connect(str(home / "work" / "trends.duckdb"), read_only=True) as con:
        known = {r[0] for r in con.execute("select paper_id from papers").fetchall()}
    rows = pd.read_parquet(ARXIV)
    rows = rows[(rows["published"] > "2025-11-01") & ~("arxiv:" + rows["arxiv_id"]).isin(known)]
    later = tmp_path / "later.parquet"
    rows.head(30).to_parquet(later)
    for args in (
        ["ingest", "file", str(later)],
        ["embed"],
        ["topics"],
        ["analyze", "--as-of", cut],
    ):
        proc = trends(home, *args)
        assert proc.returncode == 0, (args, proc.stderr)
    third = snapshot()
    for m in marts:
        pd.testing.assert_frame_equal(first[m], third[m], obj=m)
