"""The report over both real corpora, as a user runs it: years of conference proceedings (year
dates, no authors or url) lead as the long view, arXiv 2025 follows by month."""

import re

import duckdb
import pandas as pd
import pytest
from conftest import TWO_CORPORA_SAMPLE

pytestmark = pytest.mark.e2e
HEADLINE_THEMES = ("diffusion-models", "network-pruning", "rl-finance")


@pytest.fixture(scope="module")
def site(two_corpora_home):
    return two_corpora_home / "site"


def views(html: str) -> list[tuple[str, str, str]]:
    return re.findall(r'data-view="(\w+)" data-grain="(\w+)" data-source="([\w-]+)"', html)


def test_run_over_both_corpora_ingests_papers_without_authors(two_corpora_home):
    log = two_corpora_home.joinpath("first_run.log").read_text()
    assert log.count(f"received {TWO_CORPORA_SAMPLE:,} = stored {TWO_CORPORA_SAMPLE:,}") == 2
    with duckdb.connect(str(two_corpora_home / "trends.duckdb"), read_only=True) as con:
        bare = con.execute(
            "select count(*) from papers where source = 'conference_abstracts'"
            " and authors is null and url is null"
        ).fetchone()[0]
    assert bare == TWO_CORPORA_SAMPLE  # every conference paper lacks both, and the run passed


def test_overview_leads_with_years_then_months(site):
    index = (site / "index.html").read_text()
    assert views(index) == [
        ("long", "year", "conference_abstracts"),
        ("recent", "month", "arxiv"),
    ]
    assert index.index('id="long"') < index.index('id="recent"')
    long_csv = pd.read_csv(site / "data" / "long-conference-abstracts-year-themes.csv")
    recent_csv = pd.read_csv(site / "data" / "recent-arxiv-month-themes.csv")
    years = pd.to_datetime(long_csv["period_start"])
    months = pd.to_datetime(recent_csv["period_start"])
    assert set(long_csv["period_grain"]) == {"year"} and (years.dt.dayofyear == 1).all()
    assert years.dt.year.nunique() >= 20  # decades of proceedings
    assert set(recent_csv["period_grain"]) == {"month"} and set(months.dt.year) == {2025}
    assert months.dt.month.nunique() == 8  # May to December 2025
    # readable years exist: the sample is large enough to read the recent conference years
    assert (~long_csv["is_thin"]).any() and long_csv["is_thin"].any()
    for theme in HEADLINE_THEMES:
        assert set(long_csv["theme_id"]) >= {theme} and set(recent_csv["theme_id"]) >= {theme}
    # the papers counted are stated
    assert "Accepted papers and papers without a review outcome" in index


def test_theme_pages_show_the_multi_year_path_and_the_months(site):
    for theme in HEADLINE_THEMES:
        page = (site / "themes" / f"{theme}.html").read_text()
        assert views(page) == [
            ("long", "year", "conference_abstracts"),
            ("recent", "month", "arxiv"),
        ], theme
        for link in re.findall(r'href="\.\./(data/[^"]+\.csv)" download', page):
            assert (site / link).is_file()
    rl = (site / "themes" / "rl-finance.html").read_text()
    assert "Too little evidence</b> to call a trend" in rl  # far too rare to call a trend
