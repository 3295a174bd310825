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
from conftest import ARXIV, trends_bin

pytestmark = pytest.mark.e2e
SAMPLE = 2000
KEYED_TABLES = {
    "papers": ["paper_id"],
    "raw_records": ["source", "payload_hash"],
    "rejected_records": ["source", "payload_hash"],
    "paper_embeddings": ["paper_id", "model"],
    "topic_runs": ["topic_run_id"],
    "topics": ["topic_run_id", "topic_id"],
    "paper_topics": ["topic_run_id", "paper_id"],
    "topic_shares": ["source", "period_start", "topic_id"],
    "topic_growth": ["source", "period_grain", "topic_id"],
}


def trends(home: Path, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    env = {**os.environ, "TRENDS_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [trends_bin(), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("e2e") / "var"
    proc = trends(home, "run", "--sample", str(SAMPLE), str(ARXIV))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    home.joinpath("first_run.log").write_text(proc.stdout)
    return home


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
