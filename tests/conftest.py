"""Shared fixtures: paths to the real data, and a small store built by hand for SQL tests."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"
ARXIV = DATA / "arxiv_cs_ai_2025.parquet"
CONFERENCES = DATA / "conference_abstracts.parquet"
VENV_BIN = REPO / ".venv" / "bin"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def trends_bin() -> str:
    """The `trends` console script of the project's environment."""
    path = VENV_BIN / "trends"
    return str(path) if path.exists() else "trends"


SAMPLE = 2000


def trends(
    home: Path, *args: str, timeout: int = 1500, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run the `trends` command with its state in ``home`` (and ``env`` set)."""
    env = {**os.environ, **(env or {}), "TRENDS_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [trends_bin(), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def real_run_home(tmp_path_factory):
    """`trends run --sample 2000` on the real arXiv corpus, once per session."""
    home = tmp_path_factory.mktemp("e2e") / "var"
    proc = trends(home, "run", "--sample", str(SAMPLE), str(ARXIV))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    home.joinpath("first_run.log").write_text(proc.stdout)
    return home


TWO_CORPORA_SAMPLE = 600


@pytest.fixture(scope="session")
def two_corpora_home(tmp_path_factory):
    """`trends run --sample 600 --backend static` on both real corpora, once per session.

    Years of conference proceedings (year dates, no authors or url) beside months of arXiv:
    the report's long and recent views.
    """
    home = tmp_path_factory.mktemp("two-corpora") / "var"
    args = ["run", "--sample", str(TWO_CORPORA_SAMPLE), "--backend", "static"]
    proc = trends(home, *args, str(CONFERENCES), str(ARXIV))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    home.joinpath("first_run.log").write_text(proc.stdout)
    return home


class WordEmbedder:
    """A stand-in sentence model for topic words: a text's vector sums its tokens' vectors.

    So "graph neural" lies near "graph", as in a real model. Records every call to ``encode``.
    """

    def __init__(self, dim: int = 24) -> None:
        self.dim = dim
        self.calls: list[list[str]] = []

    def encode(self, texts):
        import hashlib

        import numpy as np

        self.calls.append(list(texts))
        rows = []
        for text in texts:
            vector = np.zeros(self.dim)
            for token in text.split():
                seed = int.from_bytes(hashlib.sha256(token.encode()).digest()[:8], "little")
                vector += np.random.default_rng(seed).normal(size=self.dim)
            rows.append(vector / (np.linalg.norm(vector) or 1.0))
        return np.asarray(rows, dtype=np.float32)


@pytest.fixture
def word_embedder() -> WordEmbedder:
    """A fresh :class:`WordEmbedder`."""
    return WordEmbedder()


@pytest.fixture
def store(tmp_path):
    """A fresh, migrated working database."""
    from pipeline.store import open_writer

    with open_writer(tmp_path / "work" / "trends.duckdb") as s:
        yield s


TOY_ROWS = [
    # May 2025 starts on the 10th: a partial month
    ("p01", "arxiv", "2025-05-10", 0),
    ("p02", "arxiv", "2025-05-20", 1),
    ("p03", "arxiv", "2025-05-30", 0),
    ("p04", "arxiv", "2025-06-01", 0),
    ("p05", "arxiv", "2025-06-15", 1),
    ("p06", "arxiv", "2025-06-29", -1),
    ("p07", "arxiv", "2025-06-30", 1),
    ("p08", "arxiv", "2025-07-01", 1),
    ("p09", "arxiv", "2025-07-12", 1),
    ("p10", "arxiv", "2025-07-31", 0),
    ("p11", "arxiv", "2025-08-02", 1),
    ("p12", "arxiv", "2025-08-30", 1),
    ("c01", "conf", "2019-01-01", 0),
    ("c02", "conf", "2020-01-01", 1),
    ("u01", "arxiv", "", 0),  # undated: clustered, kept out of the marts
]


def seed_toy_fit(store, rows: list[tuple[str, str, str, int]], run_id: str = "fit-toy") -> None:
    """Load papers and a fit by hand: rows of (paper_id, source, published 'YYYY-MM-DD', topic).

    Topics are labelled ``topic N``; topic -1 is the outliers. Enough for SQL and report tests
    that must not depend on a model.
    """
    now = datetime(2025, 1, 1)
    papers = pd.DataFrame(
        [
            {
                "paper_id": pid,
                "source": src,
                "title": f"Paper {pid}",
                "abstract": f"Abstract of {pid}.",
                "published": date.fromisoformat(pub) if pub else None,
                "date_precision": "day" if pub else "unknown",
                "version": 1,
                "content_hash": pid,
                "first_run_id": "ingest-toy",
                "last_run_id": "ingest-toy",
                "ingested_at": now,
                "updated_at": now,
                "url": f"https://arxiv.org/abs/{pid}",
            }
            for pid, src, pub, _ in rows
        ]
    )
    topic_ids = sorted({t for *_, t in rows} | {-1})
    topics = pd.DataFrame(
        {
            "topic_run_id": run_id,
            "topic_id": topic_ids,
            "label": ["outliers" if t == -1 else f"topic {t}" for t in topic_ids],
            "size": [sum(1 for *_, x in rows if x == t) for t in topic_ids],
        }
    )
    assignments = pd.DataFrame(
        {
            "topic_run_id": run_id,
            "paper_id": [r[0] for r in rows],
            "topic_id": [r[3] for r in rows],
            "similarity": 0.9,
            "method": "fit",
            "assigned_at": now,
        }
    )
    store.register("toy_papers", papers)
    store.register("toy_topics", topics)
    store.register("toy_assign", assignments)
    store.execute("insert into papers by name select * from toy_papers")
    store.execute(
        "insert into topics by name select topic_run_id, topic_id, label, ['a', 'b'] as terms,"
        " [0.5, 0.4] as term_weights, size, [] as representative_ids from toy_topics"
    )
    store.execute("insert into paper_topics by name select * from toy_assign")
    store.execute(
        "insert into topic_runs (topic_run_id, kind, model, seed, params, n_docs, n_topics,"
        " outlier_share, npmi, diversity, fit_seconds, created_at)"
        " values (?, 'full', 'toy', 1, ?, ?, ?, 0.1, null, null, 1.0, ?)",
        [run_id, json.dumps({"assign_threshold": 0.5}), len(rows), len(topic_ids) - 1, now],
    )


def seed_toy_themes(store, members: dict[str, set[str]]) -> None:
    """Themes by hand: theme id -> member paper ids; every paper is scored for every theme."""
    store.execute(
        "insert into themes select unnest(?::varchar[]), 'Theme ' || unnest(?::varchar[]), '',"
        " ['seed'], ['kw'], 0.3, 0.6",
        [list(members), list(members)],
    )
    for theme_id, ids in members.items():
        store.execute(
            "insert into paper_themes select ?, paper_id, 0.5, true, list_contains(?, paper_id)"
            " from papers",
            [theme_id, sorted(ids)],
        )
