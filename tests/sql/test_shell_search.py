"""The analyst's full-text search script runs in the `duckdb` shell offline, read-only."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, TOY_ROWS, seed_toy_fit

from pipeline.store import open_writer

SCRIPT = REPO / "sql" / "shell" / "search_abstracts.sql"
SHELL = Path(sys.executable).parent / "duckdb"

TEXTS = {
    "p01": ("Structured pruning of attention heads", "We prune heads of transformers."),
    "p05": ("Magnitude pruning revisited", "Unstructured sparsity by weight magnitude."),
    "p08": ("Diffusion models for molecules", "A denoising diffusion model generates graphs."),
    "p11": ("Portfolio trading with reinforcement learning", "An agent learns to trade."),
}


@pytest.fixture
def published(tmp_path):
    path = tmp_path / "trends.duckdb"
    with open_writer(path) as store:
        seed_toy_fit(store, TOY_ROWS)
        for paper_id, (title, abstract) in TEXTS.items():
            store.execute(
                "update papers set title = ?, abstract = ? where paper_id = ?",
                [title, abstract, paper_id],
            )
        # the one column of the mart that the script reads: the fit the marts were built from
        store.execute("create table mart_builds as select 'fit-toy' as topic_run_id")
    return path


def search(db: Path, query: str, home: Path) -> subprocess.CompletedProcess:
    # an empty HOME: nothing installed in ~/.duckdb, so the script must load fts by its path
    return subprocess.run(
        [
            str(SHELL),
            "-csv",
            "-cmd",
            f"attach '{db}' as trends (read_only)",
            "-cmd",
            f"set variable query = '{query}'",
        ],
        stdin=SCRIPT.open(),
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


@pytest.mark.skipif(not SHELL.exists(), reason="the duckdb shell (duckdb-cli) is not installed")
def test_search_ranks_stemmed_matches_with_their_topic(published, tmp_path):
    before = published.read_bytes()
    proc = search(published, "pruned heads", tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    assert "Error" not in proc.stderr, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "paper_id,title,published,topic,score"
    hits = [line.split(",") for line in lines[1:]]
    # "pruned" matches "prune"/"pruning" by stem; p01 matches both words, so it ranks first
    assert [h[0] for h in hits] == ["p01", "p05"]
    assert hits[0][3] == "topic 0" and hits[1][3] == "topic 1"
    assert float(hits[0][4]) > float(hits[1][4]) > 0
    assert published.read_bytes() == before  # the published file is only read


@pytest.mark.skipif(not SHELL.exists(), reason="the duckdb shell (duckdb-cli) is not installed")
def test_search_without_a_matching_word_lists_nothing(published, tmp_path):
    proc = search(published, "quantum chromodynamics", tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines() == ["paper_id,title,published,topic,score"]
