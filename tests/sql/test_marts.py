"""Grain and invariants of every mart, on a small hand-built store."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
from conftest import TOY_ROWS as ROWS
from conftest import seed_toy_fit

from pipeline.trends import MARTS, build_marts


@pytest.fixture
def marts(store):
    seed_toy_fit(store, ROWS)
    store.execute("update papers set date_precision = 'year' where source = 'conf'")
    build_marts(store)
    return store


def test_topic_shares_grain_is_unique(marts):
    dupes = marts.scalar(
        "select count(*) from (select source, period_start, topic_id, count(*) n"
        " from topic_shares group by all having n > 1)"
    )
    assert dupes == 0
    # dense grid: every topic in every period of each source
    n_periods = marts.scalar("select count(distinct (source, period_start)) from topic_shares")
    assert marts.scalar("select count(*) from topic_shares") == n_periods * 3


def test_shares_sum_to_one_and_intervals_contain_share(marts):
    sums = marts.query("select source, period_start, sum(share) s from topic_shares group by all")
    assert sums["s"].round(9).eq(1.0).all()
    real = marts.query(
        "select sum(share) s from topic_shares where topic_id <> -1 group by source, period_start"
    )
    assert (real["s"] <= 1.0 + 1e-9).all()
    bad = marts.scalar(
        "select count(*) from topic_shares where not (ci_low <= share and share <= ci_high)"
        " or ci_low < 0 or ci_high > 1"
    )
    assert bad == 0


def test_counts_and_denominators(marts):
    june = marts.query(
        "select topic_id, papers, denominator from topic_shares"
        " where source = 'arxiv' and period_start = '2025-06-01' order by topic_id"
    )
    assert june["papers"].tolist() == [1, 1, 2]
    assert set(june["denominator"]) == {4}
    assert marts.scalar("select sum(papers) from topic_shares") == len(ROWS) - 1  # undated left out


def test_partial_periods_and_year_grain(marts):
    flags = dict(
        marts.query(
            "select distinct period_start::varchar p, is_partial from topic_shares"
            " where source = 'arxiv'"
        ).values
    )
    assert flags == {
        "2025-05-01": True,
        "2025-06-01": False,
        "2025-07-01": False,
        "2025-08-01": False,
    }
    grains = marts.query("select distinct source, period_grain from topic_shares order by 1")
    assert grains.values.tolist() == [["arxiv", "month"], ["conf", "year"]]


def test_as_of_excludes_later_papers_and_is_reproducible(store):
    seed_toy_fit(store, ROWS)
    build_marts(store, date(2025, 7, 15))
    first = {m: store.query(f"select * from {m} order by all") for m in MARTS}
    assert store.scalar(
        "select max(period_start) from topic_shares where source = 'arxiv'"
    ) == date(2025, 7, 1)
    assert store.scalar(
        "select bool_and(is_partial) from topic_shares where period_start = '2025-07-01'"
    )
    # papers dated after the as-of date change nothing
    seed_more = [("p20", "arxiv", "2025-09-03", 0), ("p21", "arxiv", "2025-07-20", 1)]
    store.execute(
        "insert into papers (paper_id, source, title, abstract, published, date_precision,"
        " content_hash, first_run_id, last_run_id, ingested_at, updated_at)"
        " select pid, 'arxiv', 't', 'a', pub::date, 'day', pid, 'x', 'x', now(), now()"
        " from (values ('p20', '2025-09-03'), ('p21', '2025-07-20')) v(pid, pub)"
    )
    store.execute(
        "insert into paper_topics select 'fit-toy', pid, t, 0.9, 'update', now()"
        " from (values ('p20', 0), ('p21', 1)) v(pid, t)"
    )
    assert seed_more
    build_marts(store, date(2025, 7, 15))
    for mart, frame in first.items():
        again = store.query(f"select * from {mart} order by all")
        assert again.equals(frame), mart


def test_topic_growth_uses_complete_periods_only(marts):
    growth = marts.query("select * from topic_growth where source = 'arxiv' order by topic_id")
    assert growth["topic_id"].tolist() == [0, 1]  # outliers excluded
    assert (growth["n_periods"] == 3).all()  # May is partial, so Jun..Aug
    t1 = growth.set_index("topic_id").loc[1]
    assert t1["log_share_slope"] > 0  # topic 1 goes 2/4 -> 2/3 -> 2/2
    assert t1["papers"] == 6


def test_marts_need_a_fit(store):
    with pytest.raises(ValueError, match="no topic fit"):
        build_marts(store)


def test_theme_shares_grain_and_invariants(store):
    from conftest import seed_toy_themes

    seed_toy_fit(store, ROWS)
    seed_toy_themes(store, {"alpha": {"p01", "p05", "p07", "p09", "c01"}, "beta": set()})
    build_marts(store)
    ts = store.query("select * from theme_shares")
    assert not ts.duplicated(["source", "period_start", "theme_id"]).any()
    assert (ts["share"] <= 1).all() and (
        (ts["ci_low"] <= ts["share"]) & (ts["share"] <= ts["ci_high"])
    ).all()
    june = ts[(ts.theme_id == "alpha") & (ts.period_start == pd.Timestamp("2025-06-01"))].iloc[0]
    assert (june.papers, june.denominator) == (2, 4)
    assert ts[ts.theme_id == "beta"]["papers"].sum() == 0
    assert ts["papers"].sum() == 5  # the undated paper is not in any period


def _ca_z(papers, denominators):
    """Cochran-Armitage trend statistic, written out plainly for comparison."""
    k, n = np.asarray(papers, float), np.asarray(denominators, float)
    t = np.arange(1, len(k) + 1)
    p = k.sum() / n.sum()
    t_bar = (n * t).sum() / n.sum()
    return (k * (t - t_bar)).sum() / np.sqrt(p * (1 - p) * (n * (t - t_bar) ** 2).sum())


def test_growth_statistics_match_a_plain_computation_and_status_rules(store):
    from conftest import seed_toy_themes

    # 8 complete months, 100 papers each; theme 'up' grows 5 -> 40 per month, 'flat' stays at 10,
    # 'tiny' has 1 paper a month (insufficient).
    rows, members = [], {"up": set(), "flat": set(), "tiny": set()}
    up = [5, 5, 10, 10, 20, 25, 30, 40]
    for m in range(8):
        for i in range(100):
            pid = f"m{m}p{i:03d}"
            day = 1 if i < 50 else 28
            rows.append((pid, "arxiv", f"2025-{m + 2:02d}-{day:02d}", i % 3))
            if i < up[m]:
                members["up"].add(pid)
            if 50 <= i < 60:
                members["flat"].add(pid)
            if i == 99:
                members["tiny"].add(pid)
    seed_toy_fit(store, rows)
    seed_toy_themes(store, members)
    build_marts(store)
    g = store.query("select * from theme_growth order by theme_id").set_index("theme_id")
    assert (g["n_periods"] == 6).all()  # the window is the last 6 complete months
    assert g.loc["up", "trend_z"] == pytest.approx(_ca_z(up[2:], [100] * 6), rel=1e-9)
    assert g.loc["up", "trend_p"] < 1e-6
    assert g.loc["up", "slope_low"] < g.loc["up", "log_share_slope"] < g.loc["up", "slope_high"]
    assert g.loc["flat", "trend_z"] == pytest.approx(0, abs=1e-9)
    assert g.loc["flat", "trend_p"] == pytest.approx(1, abs=1e-6)
    status = dict(
        store.query("select series_id, status from series_status where kind = 'theme'").values
    )
    assert status == {"up": "growing", "flat": "stable", "tiny": "insufficient"}
