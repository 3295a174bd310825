"""Every example query runs on a small multi-grain store and reads one grain of each mart."""

import re
from pathlib import Path

import pytest
from conftest import TOY_ROWS, seed_toy_fit, seed_toy_themes

from pipeline.trends import MartRules, build_marts

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "sql" / "examples").glob("*.sql"))
# Marts with rows at several grains: a query that reads one must pick a grain.
MULTI_GRAIN = re.compile(
    r"\b(corpus_periods|topic_shares|theme_shares|series_growth|series_status|topic_growth"
    r"|theme_growth|topic_status)\b"
)


@pytest.fixture(scope="module")
def toy_store(tmp_path_factory):
    from pipeline.store import open_writer

    with open_writer(tmp_path_factory.mktemp("examples") / "trends.duckdb") as store:
        seed_toy_fit(store, TOY_ROWS)
        store.execute("update papers set date_precision = 'year' where source = 'conf'")
        seed_toy_themes(store, {"diffusion-models": {"p01", "p05", "p07", "p09", "c01"}})
        build_marts(store, rules=MartRules(thin_min_papers=0, thin_fraction=0.0))
        yield store


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_and_filters_one_grain(toy_store, example):
    sql = example.read_text(encoding="utf-8")
    code = "\n".join(line.split("--")[0] for line in sql.splitlines())
    if MULTI_GRAIN.search(code) and not example.stem.endswith("corpus_coverage"):
        assert "period_grain" in code, f"{example.stem} reads a mart without choosing a grain"
    toy_store.query(sql)  # runs on the current schema
