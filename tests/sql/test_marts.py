"""Grain and invariants of every mart, on a small hand-built store."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
from conftest import TOY_ROWS as ROWS
from conftest import seed_toy_fit, seed_toy_themes

from pipeline.config import Decisions
from pipeline.records import decision_of
from pipeline.trends import MARTS, MartRules, build_marts

# The toy store's periods hold a handful of papers; with the default thin rule every one of them
# would be thin, so the tests that are not about that rule read every period.
READ_ALL = MartRules(thin_min_papers=0, thin_fraction=0.0, min_support_month=3)
KEYS = {
    "corpus_periods": ["source", "period_grain", "period_start"],
    "topic_shares": ["source", "period_grain", "period_start", "topic_id"],
    "theme_shares": ["source", "period_grain", "period_start", "theme_id"],
    "series_growth": ["kind", "source", "period_grain", "series_id"],
    "series_status": ["kind", "source", "period_grain", "series_id"],
}


@pytest.fixture
def marts(store):
    seed_toy_fit(store, ROWS)
    store.execute("update papers set date_precision = 'year' where source = 'conf'")
    seed_toy_themes(store, {"alpha": {"p01", "p05", "p07", "p09", "c01"}, "beta": set()})
    build_marts(store, rules=READ_ALL)
    return store


def test_no_mart_has_duplicate_keys(marts):
    for mart, key in KEYS.items():
        frame = marts.query(f"select * from {mart}")
        assert len(frame), mart
        assert not frame.duplicated(key).any(), mart


def test_each_source_has_the_grains_its_precision_allows(marts):
    for mart in ("corpus_periods", "topic_shares", "theme_shares"):
        grains = marts.query(f"select distinct source, period_grain from {mart} order by all")
        assert grains.values.tolist() == [
            ["arxiv", "month"],
            ["arxiv", "quarter"],
            ["arxiv", "year"],
            ["conf", "year"],
        ], mart
    # topic_shares is a dense grid: every topic in every period of each source and grain
    n_periods = marts.scalar(
        "select count(distinct (source, period_grain, period_start)) from topic_shares"
    )
    assert marts.scalar("select count(*) from topic_shares") == n_periods * 3


def test_shares_sum_to_one_per_source_grain_and_period(marts):
    sums = marts.query(
        "select source, period_grain, period_start, sum(share) s from topic_shares group by all"
    )
    assert sums["s"].round(9).eq(1.0).all()
    real = marts.query(
        "select sum(share) s from topic_shares where topic_id <> -1"
        " group by source, period_grain, period_start"
    )
    assert (real["s"] <= 1.0 + 1e-9).all()
    for mart in ("topic_shares", "theme_shares"):
        bad = marts.scalar(
            f"select count(*) from {mart} where not (ci_low <= share and share <= ci_high)"
            " or ci_low < 0 or ci_high > 1 or share > 1"
        )
        assert bad == 0, mart


def test_year_rows_of_a_day_source_are_the_sum_of_its_months(marts):
    for mart, series, values in (
        ("corpus_periods", "'all'", "sum(papers), sum(papers_in_fit)"),
        ("topic_shares", "topic_id::varchar", "sum(papers), sum(denominator)"),
        ("theme_shares", "theme_id", "sum(papers), sum(denominator)"),
    ):
        by_grain = {
            grain: marts.query(
                f"select year(period_start) y, {series} s, {values} from {mart}"
                f" where source = 'arxiv' and period_grain = '{grain}' group by all order by all"
            ).values.tolist()
            for grain in ("month", "quarter", "year")
        }
        assert by_grain["year"], mart
        assert by_grain["year"] == by_grain["month"] == by_grain["quarter"], mart
    months = marts.scalar(
        "select sum(papers) from corpus_periods where source = 'arxiv' and period_grain = 'month'"
    )
    assert months == 12  # every dated arXiv paper, once per grain


def test_counts_and_denominators(marts):
    june = marts.query(
        "select topic_id, papers, denominator from topic_shares where source = 'arxiv'"
        " and period_grain = 'month' and period_start = '2025-06-01' order by topic_id"
    )
    assert june["papers"].tolist() == [1, 1, 2]
    assert set(june["denominator"]) == {4}
    per_grain = marts.query("select period_grain, sum(papers) n from topic_shares group by 1")
    # 12 dated arXiv papers in each of month/quarter/year, 2 conference papers in years
    assert dict(per_grain.values) == {"month": 12, "quarter": 12, "year": 14}


def test_partial_periods_at_every_grain(marts):
    flags = {
        (g, str(p.date())): bool(f)
        for g, p, f in marts.query(
            "select period_grain, period_start, is_partial from corpus_periods"
            " where source = 'arxiv'"
        ).values
    }
    assert flags == {
        # coverage starts on May 10 and ends on Aug 30
        ("month", "2025-05-01"): True,
        ("month", "2025-06-01"): False,
        ("month", "2025-07-01"): False,
        ("month", "2025-08-01"): False,
        ("quarter", "2025-04-01"): True,
        ("quarter", "2025-07-01"): True,
        ("year", "2025-01-01"): True,
    }
    # a year date stands for its whole year: yearly sources are never partial by coverage
    assert not marts.scalar("select bool_or(is_partial) from corpus_periods where source = 'conf'")


def test_the_decisions_setting_filters_rejected_papers(store):
    seed_toy_fit(store, ROWS)
    store.execute("update papers set date_precision = 'year' where source = 'conf'")
    store.execute("update papers set decision = 'rejected' where paper_id = 'c01'")
    store.execute("update papers set decision = 'accepted' where paper_id = 'c02'")
    build_marts(store, rules=READ_ALL)
    conf = "select period_start::varchar, papers from corpus_periods where source = 'conf'"
    assert dict(store.query(conf).values) == {"2020-01-01": 1}  # the rejected c01 left out
    arxiv = "select sum(papers) from corpus_periods where source = 'arxiv'"
    assert store.scalar(arxiv) == 36  # no decision (NULL) counts: 12 papers x 3 grains
    assert store.scalar("select decisions from mart_builds") == "accepted"
    build_marts(store, rules=MartRules(decisions=Decisions.all, thin_min_papers=0))
    assert dict(store.query(conf).values) == {"2019-01-01": 1, "2020-01-01": 1}
    assert store.scalar("select decisions from mart_builds") == "all"


def test_thin_rule_minimum_and_fraction_of_the_median(store):
    # yearly source: 10, 40, 100, 100, 100, 120 papers; median 100
    sizes = {2015: 10, 2016: 40, 2017: 100, 2018: 100, 2019: 100, 2020: 120}
    rows = [
        (f"y{year}-{i}", "conf", f"{year}-01-01", i % 2)
        for year, n in sizes.items()
        for i in range(n)
    ]
    seed_toy_fit(store, rows)
    store.execute("update papers set date_precision = 'year'")
    seed_toy_themes(store, {"alpha": {r[0] for r in rows[::7]}})

    def thin(mart: str) -> dict[int, bool]:
        frame = store.query(f"select distinct year(period_start), is_thin from {mart}")
        return {int(y): bool(t) for y, t in frame.values}

    # below 30 papers, or below a quarter of the median (25): 2015 only
    build_marts(store, rules=MartRules(thin_min_papers=30, thin_fraction=0.25))
    for mart in ("corpus_periods", "topic_shares", "theme_shares"):
        assert thin(mart) == {y: y == 2015 for y in sizes}, mart
    # half the median (50): 2015 and 2016
    build_marts(store, rules=MartRules(thin_min_papers=30, thin_fraction=0.5))
    assert thin("corpus_periods") == {y: y in (2015, 2016) for y in sizes}
    builds = store.query("select thin_min_papers, thin_fraction from mart_builds")
    assert builds.values.tolist() == [[30, 0.5]]
    # thin years never enter growth statistics
    growth = store.query("select window_start, n_periods from series_growth")
    assert (growth["window_start"] == pd.Timestamp("2017-01-01")).all()
    assert (growth["n_periods"] == 4).all()


def test_as_of_excludes_later_papers_and_is_reproducible(store):
    seed_toy_fit(store, ROWS)
    build_marts(store, date(2025, 7, 15), READ_ALL)
    first = {m: store.query(f"select * from {m} order by all") for m in MARTS}
    assert store.scalar(
        "select max(period_start) from topic_shares where source = 'arxiv'"
        " and period_grain = 'month'"
    ) == date(2025, 7, 1)
    assert store.scalar(
        "select bool_and(is_partial) from topic_shares where period_start = '2025-07-01'"
    )
    # papers dated after the as-of date change nothing
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
    build_marts(store, date(2025, 7, 15), READ_ALL)
    for mart, frame in first.items():
        again = store.query(f"select * from {mart} order by all")
        assert again.equals(frame), mart


def test_topic_growth_uses_complete_periods_only(marts):
    growth = marts.query(
        "select * from topic_growth where source = 'arxiv' and period_grain = 'month'"
        " order by topic_id"
    )
    assert growth["topic_id"].tolist() == [0, 1]  # outliers excluded
    assert (growth["n_periods"] == 3).all()  # May is partial, so Jun..Aug
    t1 = growth.set_index("topic_id").loc[1]
    assert t1["log_share_slope"] > 0  # topic 1 goes 2/4 -> 2/3 -> 2/2
    assert t1["papers"] == 6
    # every quarter and the year of the arXiv toy are partial: no growth rows there
    grains = marts.query("select distinct source, period_grain from series_growth order by all")
    assert grains.values.tolist() == [["arxiv", "month"], ["conf", "year"]]
    # two conference years: too few periods to call a trend
    conf = marts.query("select distinct status from series_status where source = 'conf'")
    assert conf["status"].tolist() == ["insufficient"]


def test_marts_need_a_fit(store):
    with pytest.raises(ValueError, match="no topic fit"):
        build_marts(store)


def test_theme_shares_grain_and_invariants(marts):
    ts = marts.query("select * from theme_shares where period_grain in ('month', 'year')")
    june = ts[
        (ts.theme_id == "alpha")
        & (ts.period_grain == "month")
        & (ts.period_start == pd.Timestamp("2025-06-01"))
    ].iloc[0]
    assert (june.papers, june.denominator) == (2, 4)
    assert ts[ts.theme_id == "beta"]["papers"].sum() == 0
    # each member once per grain; the undated paper is in no period
    assert ts[ts.period_grain == "month"]["papers"].sum() == 4
    assert ts[ts.period_grain == "year"]["papers"].sum() == 5


def _ca_z(papers, denominators):
    """Cochran-Armitage trend statistic, written out plainly for comparison."""
    k, n = np.asarray(papers, float), np.asarray(denominators, float)
    t = np.arange(1, len(k) + 1)
    p = k.sum() / n.sum()
    t_bar = (n * t).sum() / n.sum()
    return (k * (t - t_bar)).sum() / np.sqrt(p * (1 - p) * (n * (t - t_bar) ** 2).sum())


def test_growth_statistics_match_a_plain_computation_and_status_rules(store):
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
    g = store.query(
        "select * from theme_growth where period_grain = 'month' order by theme_id"
    ).set_index("theme_id")
    assert (g["n_periods"] == 6).all()  # the window is the last 6 complete months
    assert (g["window_start"] == pd.Timestamp("2025-04-01")).all()
    assert g.loc["up", "trend_z"] == pytest.approx(_ca_z(up[2:], [100] * 6), rel=1e-9)
    assert g.loc["up", "trend_p"] < 1e-6
    assert g.loc["up", "slope_low"] < g.loc["up", "log_share_slope"] < g.loc["up", "slope_high"]
    assert g.loc["flat", "trend_z"] == pytest.approx(0, abs=1e-9)
    assert g.loc["flat", "trend_p"] == pytest.approx(1, abs=1e-6)
    status = dict(
        store.query(
            "select series_id, status from series_status"
            " where kind = 'theme' and period_grain = 'month'"
        ).values
    )
    assert status == {"up": "growing", "flat": "stable", "tiny": "insufficient"}
    # quarters: Feb-Mar is partial (Q1 starts in January), so Q2 and Q3 only: too few periods
    quarters = store.query(
        "select n_periods, status from series_status where period_grain = 'quarter'"
    )
    assert (quarters["n_periods"] == 2).all() and (quarters["status"] == "insufficient").all()
    # the minimum support is the grain's: 'flat' (60 papers in its window) falls below 61
    build_marts(store, rules=MartRules(min_support_month=61))
    flat = "select status from series_status where series_id = 'flat' and period_grain = 'month'"
    assert store.scalar(flat) == "insufficient"
    builds = store.query("select * from mart_builds").iloc[0]
    assert builds["min_support_month"] == 61
    assert (builds["window_month"], builds["window_quarter"], builds["window_year"]) == (6, 8, 10)


def test_yearly_window_spans_calendar_years(store):
    # 14 years of 200 papers; the theme rises from 2 to 28 papers a year
    rows, members = [], set()
    for k, year in enumerate(range(2010, 2024)):
        for i in range(200):
            pid = f"y{year}p{i:03d}"
            rows.append((pid, "conf", f"{year}-01-01", i % 2))
            if i < 2 + 2 * k:
                members.add(pid)
    seed_toy_fit(store, rows)
    store.execute("update papers set date_precision = 'year'")
    seed_toy_themes(store, {"rise": members})
    build_marts(store)
    g = store.query("select * from theme_growth").iloc[0]
    assert (g["period_grain"], g["n_periods"], g["window_periods"]) == ("year", 10, 10)
    assert g["window_start"] == pd.Timestamp("2014-01-01")
    assert g["papers"] == sum(2 + 2 * k for k in range(4, 14))
    assert g["recent_papers"] == sum(2 + 2 * k for k in range(9, 14))  # 2019..2023
    status = store.scalar("select status from series_status")
    assert status in ("growing", "emerging")


STATUSES = ["Poster", "Oral", "Spotlight", "Main", "Findings", "Reject", "Withdraw", "Active"]


@pytest.mark.parametrize("status", [*STATUSES, "Desk Reject", "under review", "", None])
def test_decision_rule_is_the_same_in_python_and_in_the_migration(store, status):
    in_sql = store.scalar("select decision_of(?::varchar)", [status])
    assert in_sql == decision_of(status)
    assert decision_of(status) in ("accepted", "rejected", None)
