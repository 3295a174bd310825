"""`trends ingest arxiv|oai|kaggle|page`: one summary line each, counts recorded; and a harvest
killed with SIGKILL halfway that a rerun finishes, ending with the same papers as a clean run."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
from loopback import ArxivApiServer, OaiServer, kaggle_object, parquet_rows
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.harvest import ingest_oai
from pipeline.sources import arxiv_api, oai_pmh
from pipeline.sources.fetch import Fetcher, FetchPolicy
from pipeline.store import open_reader, open_writer

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO.parent / "shared" / "data" / "trending_papers_page.txt"
LINE = re.compile(
    r"^ingest (?P<source>[\w-]+): received (?P<received>[\d,]+) = stored (?P<stored>[\d,]+) "
    r"\(new (?P<new>[\d,]+), updated [\d,]+, unchanged [\d,]+\) \+ quarantined "
    r"(?P<rejected>[\d,]+)"
)
COLUMNS = (
    "paper_id, source, title, abstract, published, date_precision, primary_category, authors,"
    " url, version, content_hash"
)


def run_cli(home: Path, *args: str) -> dict:
    """Run `trends --home HOME ingest ...`, check its one summary line against ingest_runs."""
    result = CliRunner().invoke(app, ["--home", str(home), "ingest", *args])
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    m = LINE.match(lines[0])
    assert m, lines[0]
    counts = {k: int(v.replace(",", "")) if k != "source" else v for k, v in m.groupdict().items()}
    assert counts["received"] == counts["stored"] + counts["rejected"]
    with open_writer(home / "work" / "trends.duckdb") as store:
        run = store.query(
            "select * from ingest_runs where source = ? order by started_at desc limit 1",
            [counts["source"]],
        ).iloc[0]
    assert run["status"] == "complete"
    assert (run["n_received"], run["n_new"], run["n_rejected"]) == (
        counts["received"],
        counts["new"],
        counts["rejected"],
    )
    return {**counts, "line": lines[0]}


def test_cli_defaults_point_at_the_arxiv():
    runner = CliRunner()
    arxiv_help = runner.invoke(app, ["ingest", "arxiv", "--help"], env={"COLUMNS": "200"}).stdout
    oai_help = runner.invoke(app, ["ingest", "oai", "--help"], env={"COLUMNS": "200"}).stdout
    assert arxiv_api.DEFAULT_URL in arxiv_help
    assert oai_pmh.DEFAULT_URL in oai_help


def test_ingest_page_command(tmp_path):
    counts = run_cli(tmp_path, "page", str(PAGE))
    assert (counts["source"], counts["received"], counts["new"]) == ("page", 77, 77)
    assert "skipped 5 (page chrome)" in counts["line"]


def test_ingest_kaggle_command(tmp_path):
    rows = parquet_rows(120)
    path = tmp_path / "snapshot.json"
    lines = [json.dumps(kaggle_object(r)) for r in rows] + ["{broken"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    counts = run_cli(tmp_path, "kaggle", str(path), "--category", "cs.LG", "--chunk-lines", "50")
    in_lg = sum("cs.LG" in r["categories"] for r in rows)
    assert counts["source"] == "arxiv-kaggle"
    assert (counts["received"], counts["rejected"]) == (in_lg + 1, 1)
    assert f"skipped {120 - in_lg}" in counts["line"] and "3 pages" in counts["line"]


def test_ingest_arxiv_command(tmp_path):
    rows = [r for r in parquet_rows(400) if r["published"] <= "2025-05-11"]
    with ArxivApiServer(rows) as server:
        counts = run_cli(
            tmp_path,
            "arxiv",
            "--url",
            f"{server.base}/api/query",
            "--category",
            "cs.AI",
            "--from",
            "2025-05-10",
            "--to",
            "2025-05-11",
            "--page-size",
            "60",
            "--pause",
            "0",
        )
    assert counts["source"] == "arxiv-api" and counts["new"] == len(rows)
    assert "watermark 2025-05-11" in counts["line"]


def test_ingest_oai_command_and_bad_arguments(tmp_path):
    with OaiServer() as server:
        url = f"{server.base}/oai2"
        counts = run_cli(tmp_path, "oai", "--url", url, "--set", "cs", "--pause", "0")
        assert counts["source"] == "arxiv-oai" and counts["received"] == 266
        bad = CliRunner().invoke(
            app, ["--home", str(tmp_path), "ingest", "oai", "--url", url, "--from", "May 1"]
        )
        assert bad.exit_code != 0 and "not a date" in bad.output
    # a server that is gone: one clear line, exit status 1
    gone = CliRunner().invoke(
        app,
        ["--home", str(tmp_path), "ingest", "oai", "--url", url, "--pause", "0", "--retries", "0"],
    )
    assert gone.exit_code == 1 and "error:" in gone.output and "gave up" in gone.output


def papers(db: Path) -> pd.DataFrame:
    with open_reader(db) as store:
        return store.query(f"select {COLUMNS} from papers order by paper_id")


def test_harvest_killed_halfway_resumes_to_the_same_papers(tmp_path):
    home = tmp_path / "home"
    db = home / "work" / "trends.duckdb"
    # one server throughout: the rerun must reach the same URL, i.e. the same stream
    with OaiServer(block_at=3) as server:
        url = f"{server.base}/oai2"
        cmd = [
            sys.executable, "-m", "pipeline", "--home", str(home),
            "ingest", "oai", "--url", url, "--pause", "0",
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert server.blocked.wait(timeout=120), proc.communicate(timeout=5)
            proc.send_signal(signal.SIGKILL)  # the client dies waiting for page 3
            proc.wait(timeout=30)
        finally:
            proc.kill()
            server.block_at = None
            server.release.set()
        assert proc.returncode == -signal.SIGKILL
        assert server.served == [0, 1, 2]

        with open_writer(db) as store:  # what the killed run left: three whole pages
            state = store.query("select resume_token, pages from ingest_state")
            assert state.values.tolist() == [["2752941|3001", 3]]
            run = store.query("select status, n_received, n_pages from ingest_runs")
            assert run.values.tolist() == [["running", 3000, 3]]
            assert store.scalar("select count(*) from papers") == 3000

        server.served.clear()
        n_before = len(server.requests)
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert server.served == [3, 4]
        assert server.requests[n_before] == {
            "verb": "ListRecords",
            "resumptionToken": "2752941|3001",
        }
        line = result.stdout.strip()
        assert line.startswith("ingest arxiv-oai: received 5,000 = stored 4,999 ")
        assert "5 pages, resumed" in line

        clean_db = tmp_path / "clean.duckdb"
        with open_writer(clean_db) as store:
            ingest_oai(store, url, fetcher=Fetcher(FetchPolicy(pause=0, backoff=0)))

    pd.testing.assert_frame_equal(papers(db), papers(clean_db))
    with open_reader(db) as store:
        runs = store.query("select status, n_received, n_new, n_resumes from ingest_runs")
        assert runs.values.tolist() == [["complete", 5000, 4999, 1]]
        assert store.scalar("select count(*) from raw_records") == 5000
        assert store.scalar("select count(*) from ingest_state") == 0
