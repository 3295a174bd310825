"""Grain and invariants of every mart, on a small hand-built store."""

from datetime import date

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
