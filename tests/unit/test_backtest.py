"""Backtests: strictly point-in-time cut-offs, and calls scored against what followed."""

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipeline.backtest import (
    BacktestParams,
    attach_outcomes,
    calls_at,
    compute_cutoffs,
    cutoffs,
    run_backtest,
    score_calls,
    shift_period,
)
from pipeline.themes import Theme
from pipeline.trends import MartRules

DIM = 32
MODEL = "syn"
# cluster: (words, papers per year from 2006 to 2016)
CLUSTERS = {
    "robots": ("robot manipulation grasping gripper arm trajectory", [40] * 11),
    "graphs": ("graph neural network node message passing", [10, 12, 15, 20, 26, 34, 44, 57, 74, 96, 125]),
    "speech": ("speech audio recognition acoustic speaker waveform", [60, 55, 50, 45, 40, 35, 30, 26, 22, 19, 16]),
}  # fmt: skip
FIRST_YEAR = 2006
# The synthetic corpus is small (a few hundred papers a year): the yearly support of the tuned
# defaults (240 papers in a 6-year window) would call almost every series insufficient, so the
# tests that need trend calls use the rules before the tuning.
SMALL_CORPUS = MartRules(window_year=10, min_support_year=60, trend_alpha=0.05)


def synthetic_papers(seed: int = 0) -> pd.DataFrame:
    """Papers of three clusters a year, one direction per cluster; graphs rise, speech falls."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(DIM, DIM)))
    rows = []
    for number, (name, (words, per_year)) in enumerate(CLUSTERS.items()):
        for offset, n in enumerate(per_year):
            year = FIRST_YEAR + offset
            for i in range(n):
                vector = q[number] * 3.0 + rng.normal(size=DIM) * 0.45
                text = " ".join(rng.choice(words.split(), size=10))
                rows.append((f"{name}-{year}-{i:03d}", year, text, vector / np.linalg.norm(vector)))
    return pd.DataFrame(rows, columns=["paper_id", "year", "text", "vector"]), q


def load(store, frame: pd.DataFrame) -> None:
    papers = frame.assign(published=pd.to_datetime(frame["year"].astype(str) + "-01-01").dt.date)
    store.register("p", papers[["paper_id", "text", "published"]])
    store.execute(
        "insert into papers (paper_id, source, title, abstract, published, date_precision,"
        " content_hash, first_run_id, last_run_id, ingested_at, updated_at)"
        " select paper_id, 'conf', text, text, published, 'year', paper_id, 'r', 'r',"
        " timestamp '2020-01-01', timestamp '2020-01-01' from p"
    )
    store.unregister("p")
    table = pa.table(
        {
            "paper_id": frame["paper_id"].tolist(),
            "model": [MODEL] * len(frame),
            "content_hash": frame["paper_id"].tolist(),
            "embedding": pa.array([v.tolist() for v in frame["vector"]], pa.list_(pa.float32())),
        }
    )
    store.register_arrow("e", table)
    store.execute("insert into paper_embeddings select *, timestamp '2020-01-01' from e")
    store.unregister("e")


def themes_for(store, q) -> list[Theme]:
    """Two themes along the graphs and speech directions, their vectors cached for MODEL."""
    themes = [
        Theme(id="graphs", name="Graphs", seeds=["graph"], threshold=0.5, threshold_strong=0.5),
        Theme(id="speech", name="Speech", seeds=["speech"], threshold=0.5, threshold_strong=0.5),
    ]
    vectors = pa.table(
        {
            "theme_id": ["graphs", "speech"],
            "model": [MODEL, MODEL],
            "seeds_hash": [t.seeds_hash for t in themes],
            "vector": pa.array([q[1].tolist(), q[2].tolist()], pa.list_(pa.float32())),
        }
    )
    store.register_arrow("incoming_theme_vectors", vectors)
    store.run_file("themes/save_theme_vectors")
    store.unregister("incoming_theme_vectors")
    return themes


def no_embedder():
    raise AssertionError("the theme vectors are cached: no model may be loaded")


def as_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def test_cutoffs_are_period_ends():
    assert cutoffs(date(2010, 6, 1), date(2012, 1, 1), "year") == [
        date(2010, 12, 31),
        date(2011, 12, 31),
        date(2012, 12, 31),
    ]
    assert cutoffs(date(2025, 8, 3), date(2025, 10, 31), "month") == [
        date(2025, 8, 31),
        date(2025, 9, 30),
        date(2025, 10, 31),
    ]
    assert shift_period(date(2025, 11, 1), "month", 3) == date(2026, 2, 1)
    with pytest.raises(ValueError, match="grain"):
        BacktestParams(date(2010, 1, 1), date(2011, 1, 1), grain="week")


def test_papers_after_a_cutoff_change_nothing_in_it(store, tmp_path):
    frame, q = synthetic_papers()
    early = frame[frame["year"] <= 2014]
    load(store, early)
    themes = themes_for(store, q)
    params = BacktestParams(date(2012, 1, 1), date(2014, 1, 1), fit_budget=600)
    before = compute_cutoffs(store, themes, MODEL, params, scratch_dir=tmp_path)
    assert [r.cutoff.year for r in before] == [2012, 2013, 2014]
    assert all(r.topic_run_id for r in before) and not before[-1].status.empty

    load(store, frame[frame["year"] > 2014])  # 2015 and 2016 arrive
    after = compute_cutoffs(store, themes, MODEL, params, scratch_dir=tmp_path)
    for old, new in zip(before, after, strict=True):
        assert as_bytes(old.topics) == as_bytes(new.topics)
        assert as_bytes(old.series) == as_bytes(new.series)
        assert as_bytes(old.status) == as_bytes(new.status)
        assert as_bytes(calls_at(old, "year")) == as_bytes(calls_at(new, "year"))
    # the later papers are there: a cut-off that reaches them sees them
    later = compute_cutoffs(
        store, themes, MODEL, BacktestParams(date(2016, 1, 1), date(2016, 1, 1), fit_budget=600),
        scratch_dir=tmp_path,
    )  # fmt: skip
    assert later[0].series["period_start"].max() == date(2016, 1, 1)
    assert before[-1].series["period_start"].max() == date(2014, 1, 1)


def test_backtest_fills_the_tables_and_scores_the_rising_theme(store, tmp_path):
    frame, q = synthetic_papers()
    load(store, frame)
    themes = themes_for(store, q)
    params = BacktestParams(
        date(2012, 1, 1), date(2016, 1, 1), tune_until=2013, fit_budget=600, rules=SMALL_CORPUS
    )
    summary = run_backtest(store, themes, MODEL, params, no_embedder, scratch_dir=tmp_path)
    assert summary.cutoffs == 5 and "tuning split: cut-offs up to 2013" in summary.line()
    calls = store.query("select * from backtest_calls")
    assert len(calls) == summary.calls
    assert set(calls["method"]) == {"status", "last_change", "count_growth"}
    assert set(calls.loc[calls["cutoff"].dt.year <= 2013, "split"]) == {"tuning"}
    assert set(calls.loc[calls["cutoff"].dt.year > 2013, "split"]) == {"scored"}
    graphs = calls[(calls["series_id"] == "graphs") & (calls["method"] == "status")]
    assert set(graphs["status"]) <= {"growing", "emerging"}
    # graphs rose every year (0.46 of 2013's papers, 0.54, 0.62): within 2013's interval a
    # year later, above it two years later; 2016 has no later cut-off in the run
    row = graphs.set_index(graphs["cutoff"].dt.year)
    assert row.loc[2013, "outcome_1"] == "flat" and row.loc[2013, "change_1"] > 0
    assert row.loc[2013, "outcome_2"] == "up"
    assert pd.isna(row.loc[2016, "outcome_1"])
    scores = store.query("select * from backtest_scores")
    assert {"precision", "recall", "lead_time"} <= set(scores["metric"])
    runs = store.query("select * from backtest_runs")
    assert runs.loc[0, "calls"] == summary.calls and runs.loc[0, "topic_mode"] == "refit"


def test_precision_counts_calls_that_moved_their_way():
    base = {"kind": "theme", "source": "s", "label": "x", "base_ci_low": 0.0}
    calls = pd.DataFrame(
        [
            {**base, "series_id": "a", "status": "growing", "outcome_1": "up", "change_1": 0.2},
            {**base, "series_id": "b", "status": "growing", "outcome_1": "flat", "change_1": 0.0},
            {**base, "series_id": "c", "status": "declining", "outcome_1": "down", "change_1": -0.1},
            {**base, "series_id": "d", "status": "stable", "outcome_1": "up", "change_1": 0.5},
            {**base, "series_id": "e", "status": "growing", "outcome_1": None, "change_1": None},
        ]
    ).assign(
        method="status", split="scored", cutoff=date(2020, 12, 31), base_period=date(2020, 1, 1),
        base_share=0.1, base_ci_high=0.2, outcome_2=None, outcome_3=None, change_2=None,
        change_3=None,
    )  # fmt: skip
    scores = score_calls(calls, "year")
    precision = scores[(scores["metric"] == "precision") & (scores["horizon"] == 1)]
    growing = precision.set_index("status").loc["growing"]
    assert growing["n"] == 2 and growing["hits"] == 1 and growing["value"] == 0.5
    assert 0 < growing["ci_low"] < 0.5 < growing["ci_high"] < 1
    assert precision.set_index("status").loc["declining", "value"] == 1.0
    assert "stable" not in set(precision["status"])  # no direction, no precision
    recall = scores[(scores["metric"] == "recall") & (scores["horizon"] == 1)].iloc[0]
    # the top riser (d, +0.5) was called stable: recall 0
    assert recall["n"] == 1 and recall["hits"] == 0


def test_outcomes_read_the_later_cutoffs_marts():
    from pipeline.backtest import CutoffResult

    def series(year, shares):
        return pd.DataFrame(
            [
                {"kind": "theme", "source": "s", "series_id": "a", "label": "A",
                 "period_start": date(y, 1, 1), "papers": 10, "denominator": 100, "share": sh,
                 "ci_low": sh - 0.05, "ci_high": sh + 0.05, "readable": True}
                for y, sh in shares.items()
            ]
        )  # fmt: skip

    results = [
        CutoffResult(date(2020, 12, 31), date(2020, 1, 1), pd.DataFrame(),
                     series(2020, {2020: 0.1}), "f1"),
        CutoffResult(date(2021, 12, 31), date(2021, 1, 1), pd.DataFrame(),
                     series(2021, {2020: 0.1, 2021: 0.3}), "f2"),
    ]  # fmt: skip
    calls = pd.DataFrame(
        [{"kind": "theme", "source": "s", "series_id": "a", "base_period": date(2020, 1, 1)}]
    )
    out = attach_outcomes(calls, results, "year")
    assert out.loc[0, "outcome_1"] == "up" and out.loc[0, "change_1"] == pytest.approx(0.2)
    assert out.loc[0, "outcome_2"] is None


def test_track_record_page_shows_scores_calls_and_is_linked(store, tmp_path):
    from conftest import TOY_ROWS, seed_toy_fit

    from pipeline.report.site import render_site
    from pipeline.trends import build_marts

    hostile = "<script>alert(1)</script>"
    seed_toy_fit(store, TOY_ROWS)
    build_marts(store)
    out = tmp_path / "site"
    render_site(store, out)
    page = (out / "track_record.html").read_text()
    assert "No backtest yet" in page and "trends backtest" in page
    assert 'href="track_record.html"' in (out / "index.html").read_text()

    frame, q = synthetic_papers()
    load(store, frame)
    themes = themes_for(store, q)
    params = BacktestParams(date(2012, 1, 1), date(2015, 1, 1), tune_until=2013, fit_budget=600)
    run_backtest(store, themes, MODEL, params, no_embedder, scratch_dir=tmp_path)
    store.execute("update backtest_calls set label = ? where series_id = 'graphs'", [hostile])
    store.execute("update backtest_calls set kind = 'topic' where series_id = 'graphs'")
    render_site(store, out)
    page = (out / "track_record.html").read_text()
    assert "No backtest yet" not in page
    assert "Scored cut-offs" in page and "Tuning cut-offs (not a score)" in page
    assert "baseline: raw count growth" in page and "baseline: last period" in page
    assert "Tuning split: the rules may be tuned on cut-offs up to 2013" in page
    assert hostile not in page and "&lt;script&gt;" in page
    assert "<td>2014-12-31</td>" in page  # the list of past calls, latest cut-offs first
    assert page.index("<td>2015-12-31</td>") < page.index("<td>2014-12-31</td>")


def test_rules_apply_again_to_cached_cutoffs_without_a_fit(store, tmp_path):
    from dataclasses import replace

    from pipeline.backtest import (
        RuleGrid,
        apply_rules,
        cache_key,
        load_cutoffs,
        save_cutoffs,
        scored_calls,
        tune_rules,
    )

    frame, q = synthetic_papers()
    load(store, frame)
    themes = themes_for(store, q)
    params = BacktestParams(
        date(2011, 1, 1), date(2016, 1, 1), tune_until=2013, fit_budget=600, rules=SMALL_CORPUS
    )
    results = compute_cutoffs(store, themes, MODEL, params, scratch_dir=tmp_path)
    called = set(pd.concat([r.status for r in results])["status"])
    assert called & {"growing", "emerging"} and called & {"declining", "fading"}

    # the run's rules applied to the cached shares give exactly the scratch marts' statuses
    [again] = apply_rules(results, [params.rules], "year", scratch_dir=tmp_path)
    for old, new in zip(results, again, strict=True):
        assert not new.status.empty and as_bytes(old.status) == as_bytes(new.status)
    # growth is built once per window for many status rules: the windows are all it binds
    from pipeline.backtest.tune import WINDOWS
    from pipeline.store.sqlfiles import file_statements

    growth = file_statements("marts/series_growth")
    assert set().union(*(stmt.parameters for stmt in growth)) == set(WINDOWS)
    # a rule that no trend passes (p < 0) leaves no trend call
    [quiet] = apply_rules(results, [replace(params.rules, trend_alpha=0.0)], "year")
    assert not set(pd.concat([r.status for r in quiet])["status"]) & {
        "growing", "emerging", "declining", "fading",
    }  # fmt: skip

    # the cache: read back, the same calls and outcomes; another store state is not reused
    key = cache_key(store, params, MODEL)
    save_cutoffs(results, tmp_path / "cache", key)
    cached = load_cutoffs(tmp_path / "cache", key)
    assert cached is not None and all(r.status.empty for r in cached)
    [cached] = apply_rules(cached, [params.rules], "year")
    expected = scored_calls(results, results, params)
    assert as_bytes(scored_calls(cached, cached, params)) == as_bytes(expected)
    assert load_cutoffs(tmp_path / "cache", {**key, "papers": key["papers"] + 1}) is None
    assert load_cutoffs(tmp_path / "cache", {**key, "source": "arxiv"}) is None

    # tuning: candidates scored on the tuning split only; calling nothing cannot win
    grid = RuleGrid(
        trend_alpha=(0.0, 0.05, 0.3), emerging_ratio=(1.5,), emerging_share_quantile=(0.5,),
        min_support=(60,), window=(10, 4), min_calls=1,
    )  # fmt: skip
    tuning = tune_rules(results, params, grid, scratch_dir=tmp_path)
    table = tuning.table.set_index("candidate")
    assert len(table) == 6  # the base rules (alpha 0.05, window 10) are one of the six
    tuned = expected[(expected["split"] == "tuning") & (expected["method"] == "status")]
    rising = tuned[tuned["status"].isin(["new", "emerging", "growing"])]
    assert table.loc[0, "n_1"] == rising["outcome_1"].notna().sum() > 0
    assert table.loc[0, "hits_1"] == (rising["outcome_1"] == "up").sum()
    nothing = table[table["trend_alpha"] == 0.0]
    assert (nothing["n_1"] == 0).all() and not nothing["eligible"].any()
    assert tuning.chosen.trend_alpha != 0.0
    best = tuning.table.iloc[0]
    if tuning.wins:
        assert best["precision"] > table.loc[0, "precision"]
        assert tuning.chosen.window_year == best["window_year"]
    else:
        assert tuning.chosen == params.rules
    # scored cut-offs' shares play no part in the choice
    blanked = [
        r if r.cutoff.year <= 2013 else replace(r, shares=r.shares.iloc[:0]) for r in results
    ]
    assert as_bytes(tune_rules(blanked, params, grid).table) == as_bytes(tuning.table)
    with pytest.raises(ValueError, match="tuning split"):
        tune_rules(results, replace(params, tune_until=2000), grid)


def test_source_filter_keeps_other_sources_out_of_the_scratch_store(store, tmp_path):
    frame, q = synthetic_papers()
    load(store, frame)
    store.execute("update papers set source = 'other' where paper_id like 'speech-%'")
    themes = themes_for(store, q)
    params = BacktestParams(date(2014, 1, 1), date(2014, 1, 1), fit_budget=600, source="conf")
    [result] = compute_cutoffs(store, themes, MODEL, params, scratch_dir=tmp_path)
    assert set(result.series["source"]) == {"conf"} and set(result.shares["source"]) == {"conf"}
    [mixed] = compute_cutoffs(
        store, themes, MODEL, BacktestParams(date(2014, 1, 1), date(2014, 1, 1), fit_budget=600),
        scratch_dir=tmp_path,
    )  # fmt: skip
    assert set(mixed.series["source"]) == {"conf", "other"}
    with pytest.raises(ValueError, match="source"):
        BacktestParams(date(2014, 1, 1), date(2014, 1, 1), source="x'; drop table papers")


def test_track_record_verdict_says_where_a_baseline_was_ahead():
    from pipeline.report.track_record import verdict

    def row(method, status, h, value, low, high, n=50):
        return {"period_grain": "year", "split": "scored", "metric": "precision",
                "method": method, "status": status, "horizon": h, "n": n,
                "hits": round(value * n), "value": value, "ci_low": low, "ci_high": high}  # fmt: skip

    scores = pd.DataFrame(
        [
            row("status", "rising", 1, 0.34, 0.26, 0.43), row("last_change", "rising", 1, 0.29, 0.19, 0.40),
            row("status", "rising", 3, 0.40, 0.30, 0.50), row("last_change", "rising", 3, 0.43, 0.29, 0.58),
            row("status", "falling", 1, 0.10, 0.05, 0.15), row("count_growth", "falling", 1, 0.60, 0.50, 0.70),
        ]
    )  # fmt: skip
    found = verdict(scores, "year")
    assert found.baseline_ahead
    rising, falling = found.lines
    assert "ours came true 34% / - / 40%" in rising
    assert "baseline: last period's change at +3 (43% against 40%)" in rising
    assert "+1" not in rising.split("ahead:")[1]  # ours led at +1
    assert "cannot be told apart" in rising  # 0.29-0.58 overlaps 0.30-0.50
    assert "baseline: raw count growth at +1 (60% against 10%)" in falling
    assert "beyond both intervals" in falling
    ours_only = scores[~((scores["method"] != "status") & (scores["horizon"] == 3))]
    ours_only = ours_only[ours_only["status"] == "rising"]
    clean = verdict(ours_only, "year")
    assert not clean.baseline_ahead and "ahead of both baselines" in clean.lines[0]
    assert verdict(scores, "month").lines == []  # no monthly run
