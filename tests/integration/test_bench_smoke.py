"""Smoke test of the `make bench` harness (benchmarks/bench.py) on a tiny real slice.

It runs every variant as the full benchmark does (fresh child interpreters, real models), on
120 papers plus 20 of day D, and checks that the result names every variant, stage and metric
with sane values. It asserts nothing about time: this machine's speed is not the point here.
"""

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import REPO

# a few minutes on two idle cores; several times that when other work shares them
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

BASE, DAY = 120, 20
PLAIN_STAGES = [
    "read docs",
    "load model",
    "fit_transform: embed",
    "fit_transform: UMAP + HDBSCAN + c-TF-IDF",
    "topics_over_time (nr_bins=20)",
    "visualize_topics_over_time + write_html",
]
OURS_STAGES = ["import pipeline", "open store", "ingest", "embed", "analyze (themes + marts)"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    out, work = root / "out", root / "work"
    cmd = [sys.executable, str(REPO / "benchmarks" / "bench.py"), "--papers", str(BASE)]
    cmd += ["--day-papers", str(DAY), "--no-warmup", "--out", str(out), "--workdir", str(work)]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        start_new_session=True,  # on timeout, stop the harness and the variant it is running
    )
    try:
        output, _ = proc.communicate(timeout=1700)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"bench.py did not finish in 1700 s:\n{output[-4000:]}")
    assert proc.returncode == 0, output[-8000:]
    return json.loads((out / "bench.json").read_text()), out, work


def test_every_variant_reports_stages_and_totals(bench):
    report, _, _ = bench
    variants = report["variants"]
    assert set(variants) == {"a", "b", "c", "d"}
    assert variants["d"]["status"] in ("ok", "not available")
    ran = [k for k, v in variants.items() if v["status"] == "ok"]
    assert {"a", "b", "c"} <= set(ran)
    assert [s["stage"] for s in variants["a"]["stages"]] == PLAIN_STAGES
    for key in ran:
        v = variants[key]
        names = [s["stage"] for s in v["stages"]]
        if key != "a":
            expected = "topics (update)" if key == "c" else "topics (fit)"
            assert set(OURS_STAGES) | {expected, "report", "publish"} == set(names)
        for s in v["stages"]:
            assert s["wall_s"] >= 0 and s["cpu_s"] >= 0
            assert 50 * 2**20 < s["peak_rss"] < 64 * 2**30
        total = v["total"]
        assert total["wall_s"] >= 0.95 * sum(s["wall_s"] for s in v["stages"])
        assert total["cpu_s"] > 0
        assert total["peak_rss"] >= 100 * 2**20


def test_quality_is_scored_on_the_same_papers(bench):
    report, _, _ = bench
    variants = report["variants"]
    docs = {"a": BASE + DAY, "b": BASE, "c": BASE + DAY, "d": BASE}
    for key, v in variants.items():
        if v["status"] != "ok":
            continue
        q = v["quality"]
        assert q["docs"] == docs[key]
        assert q["topics"] >= 1
        assert 0 <= q["outlier_share"] <= 1
        assert -1 <= q["npmi"] <= 1
        assert 0 < q["diversity"] <= 1
        assert -1 <= q["ari_vs_a"] <= 1 and 0 <= q["nmi_vs_a"] <= 1
        assert 0 < q["agreement_docs"] <= docs[key]
    assert variants["a"]["quality"]["ari_vs_a"] == pytest.approx(1.0)
    # (c) only places day D's papers into (b)'s topics: the topic words are (b)'s
    assert variants["c"]["quality"]["npmi"] == pytest.approx(variants["b"]["quality"]["npmi"])


def test_ratios_targets_tables_and_artefacts(bench):
    report, out, work = bench
    assert report["corpus"]["n_base"] == BASE and report["corpus"]["n_day"] == DAY
    assert report["machine"]["cores"] >= 1 and report["command"].startswith("python")
    ratios = report["ratios"]
    assert set(ratios) == {"a_over_b", "a_over_c", "a_over_d"}
    assert ratios["a_over_b"] > 0 and ratios["a_over_c"] > 0
    assert len(report["targets"]) == 6
    assert all(t["met"] in (True, False, None) for t in report["targets"])
    markdown = (out / "bench.md").read_text()
    assert "| target | measured | met |" in markdown
    for key in "abcd":
        assert f"({key})" in markdown
    # (a) wrote its chart; (b)+(c) published a database and a site
    assert (work / "variant-a" / "topics_over_time.html").stat().st_size > 10_000
    assert (work / "home-ours" / "trends.duckdb").exists()
    assert (work / "home-ours" / "site" / "index.html").exists()
