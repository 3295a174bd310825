"""The site renderer on a small hand-built store: structure, escaping, offline, atomic swap."""

import re

import pandas as pd
import pytest
from conftest import TOY_ROWS as ROWS
from conftest import seed_toy_fit, seed_toy_themes

from pipeline.report.site import (
    ReportError,
    ReportOptions,
    csv_text,
    figure_json,
    growth_since,
    plan_views,
    render_site,
    swap_in,
)
from pipeline.trends import build_marts

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def site(store, tmp_path):
    seed_toy_fit(store, ROWS)
    store.execute("update papers set title = ? where paper_id = 'p02'", [HOSTILE])
    store.execute(
        "update topics set label = ?, representative_ids = ['p02', 'p05'] where topic_id = 1",
        [HOSTILE + " & co"],
    )
    build_marts(store)
    out = tmp_path / "site"
    summary = render_site(store, out)
    return out, summary


def test_pages_and_assets(site):
    out, summary = site
    assert (out / "index.html").is_file() and (out / "about.html").is_file()
    assert (out / "map.html").is_file() and (out / "assets" / "search-index.js").is_file()
    assert sorted(p.name for p in (out / "topics").iterdir()) == [
        "0.html",
        "1.html",
        "outliers.html",
    ]
    assert (out / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    assert summary.pages == 8  # index, about, map, since-last-fit, track record, 3 topics


def test_about_page_states_the_fit_as_it_was_made(store, tmp_path):
    seed_toy_fit(store, ROWS)
    build_marts(store)
    render_site(store, tmp_path / "before")
    about = (tmp_path / "before" / "about.html").read_text()
    assert "<th>Seed stability</th><td>not measured</td>" in about
    assert "closest 97% of its own members" in about and "marginal relevance" not in about
    params = '{"assign_threshold": 0.5, "outlier_quantile": 0.05, "representation": "mmr",'
    store.execute(
        "update topic_runs set seed_agreement = 0.834, params = ?",
        [params + ' "mmr_candidates": 30}'],
    )
    render_site(store, tmp_path / "after")
    about = (tmp_path / "after" / "about.html").read_text()
    assert "<th>Seed stability</th><td>83%</td>" in about
    assert "closest 95% of its own members" in about
    assert "maximal marginal relevance among each topic's 30 best" in about


def test_every_title_and_label_is_escaped(site):
    out, _ = site
    for page in out.rglob("*.html"):
        html = page.read_text()
        assert HOSTILE not in html, page
    topic = (out / "topics" / "1.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in topic  # shown as text


def test_no_network_references_and_csp(site):
    out, _ = site
    for page in out.rglob("*.html"):
        html = page.read_text()
        assert "Content-Security-Policy" in html
        # no script, stylesheet or image is loaded from anywhere but the site itself
        for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
            if ref.startswith(("http://", "https://", "//")):
                assert "arxiv.org/abs/" in ref, (page, ref)
                assert "<a href" in html


def test_search_index_holds_titles_as_escaped_data(site):
    out, _ = site
    index = (out / "assets" / "search-index.js").read_text()
    assert index.startswith("window.TRENDS_SEARCH = ")
    assert "<" not in index  # the hostile title is in it, with its markup escaped
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in index


def test_search_index_splits_papers_into_files_newest_first(store, tmp_path):
    """A large report's search reads the newest papers first and older files only as needed."""
    import json

    seed_toy_fit(store, ROWS)
    store.execute("update papers set title = ? where paper_id = 'p02'", [HOSTILE])
    build_marts(store)
    render_site(store, tmp_path / "whole")
    render_site(store, tmp_path / "split", ReportOptions(search_chunk=3))

    def load(path, prefix):
        text = path.read_text(encoding="utf-8")
        assert text.startswith(prefix) and text.endswith(";\n") and "<" not in text
        return json.loads(text[len(prefix) : -2])

    whole = load(tmp_path / "whole" / "assets" / "search-index.js", "window.TRENDS_SEARCH = ")
    split = load(tmp_path / "split" / "assets" / "search-index.js", "window.TRENDS_SEARCH = ")
    n = len(whole["papers"])
    assert whole["parts"] == 1 and whole["total"] == n == store.scalar(
        "select count(*) from papers"
    )
    assert not list((tmp_path / "whole" / "assets").glob("search-papers-*.js"))
    assert split["parts"] == -(-n // 3) and split["total"] == n and len(split["papers"]) == 3
    papers = list(split["papers"])
    for number in range(1, split["parts"]):
        prefix = f"(window.TRENDS_SEARCH_PARTS = window.TRENDS_SEARCH_PARTS || {{}})[{number}] = "
        papers += load(tmp_path / "split" / "assets" / f"search-papers-{number}.js", prefix)
    assert papers == whole["papers"]  # every paper once, in the index's order (newest first)
    dates = [p[1] for p in papers if p[1]]
    assert dates == sorted(dates, reverse=True)
    assert split["topics"] == whole["topics"] and split["themes"] == whole["themes"]


def test_embedded_figure_json_cannot_close_its_script_tag():
    text = str(figure_json({"data": [{"name": "</script><script>alert(1)</script>"}]}))
    assert "</script>" not in text and "<" not in text


def test_rerender_swaps_atomically_and_cleans_up(store, tmp_path):
    seed_toy_fit(store, ROWS)
    build_marts(store)
    out = tmp_path / "site"
    render_site(store, out)
    first = out.resolve()
    render_site(store, out)
    assert out.is_symlink() and out.resolve() != first
    assert not first.exists()  # the previous build is gone
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site-")] == [
        out.resolve().name
    ]


def test_swap_in_replaces_a_real_directory_holding_an_older_site(tmp_path):
    target = tmp_path / "site"
    (target / "assets").mkdir(parents=True)
    (target / "assets" / "search-index.js").write_text("window.TRENDS_SEARCH = {};")
    (target / "index.html").write_text("old")
    (target / "old.html").write_text("old")
    new = tmp_path / ".site-new"
    new.mkdir()
    (new / "index.html").write_text("new")
    swap_in(new, target)
    assert (target / "index.html").read_text() == "new" and not (target / "old.html").exists()


def test_report_needs_marts(store, tmp_path):
    with pytest.raises(ValueError, match="nothing to report"):
        render_site(store, tmp_path / "site")


# --------------------------------------------------------------------------------------------
# Years of history beside a monthly stream: the long view leads, each source in its own grain
# --------------------------------------------------------------------------------------------
CONF_YEARS = range(2012, 2021)  # nine years of a year-precision source
ARXIV_MONTHS = ["2025-05-10", "2025-06-01", "2025-07-01", "2025-08-01", "2025-09-01"]


def _long_rows() -> list[tuple[str, str, str, int]]:
    rows = []
    for year in CONF_YEARS:
        for i in range(40):
            rows.append((f"c{year}-{i:02d}", "conf", f"{year}-01-01", i % 2))
    for month in ARXIV_MONTHS:
        for i in range(40):
            rows.append((f"a{month}-{i:02d}", "arxiv", month, i % 3 - 1))
    return rows


@pytest.fixture
def long_store(store):
    """Nine years of conference papers (no authors, url, venue or categories) and five months
    of arXiv; 'diffusion-models' rises over the years, 'rl-finance' has one paper."""
    rows = _long_rows()
    seed_toy_fit(store, rows)
    store.execute(
        "update papers set date_precision = 'year', url = null, authors = null, venue = null,"
        " categories = null where source = 'conf'"
    )
    store.execute(
        "update papers set authors = 'A. Author; B. Author', decision = null where source = 'arxiv'"
    )
    store.execute("update papers set decision = 'accepted' where source = 'conf'")
    store.execute("update papers set decision = 'rejected' where paper_id like 'c%-39'")
    store.execute(
        "update topics set representative_ids = ['c2012-00', 'c2013-02', 'a2025-06-01-00']"
        " where topic_id = 0"
    )
    # 2, 4, ... 18 conference papers a year (even numbers, so none of the rejected ones)
    rising = {f"c{y}-{i:02d}" for y in CONF_YEARS for i in range(0, 4 * (y - 2011), 2)}
    rising |= {f"a{m}-{i:02d}" for m in ARXIV_MONTHS for i in range(3)}
    seed_toy_themes(store, {"diffusion-models": rising, "rl-finance": {"c2019-05"}})
    build_marts(store)
    return store


def _index(out):
    return (out / "index.html").read_text()


def test_papers_without_authors_or_url_flow_through_every_page(long_store, tmp_path):
    out = tmp_path / "site"
    render_site(long_store, out)
    topic = (out / "topics" / "0.html").read_text()
    # the conference papers are listed by title and year, without a link or an author line
    assert '<li>Paper c2012-00  <span class="muted">2012</span></li>' in topic
    assert 'href="None"' not in topic and "nan" not in topic.split("<footer>")[0].lower()
    assert "A. Author; B. Author" in topic  # the arXiv paper keeps its authors
    theme = (out / "themes" / "diffusion-models.html").read_text()
    assert 'href="None"' not in theme and ">None<" not in theme


def test_long_view_leads_and_each_source_keeps_its_grain(long_store, tmp_path):
    out = tmp_path / "site"
    render_site(long_store, out, ReportOptions(grain="month", since=2014))
    index = _index(out)
    views = re.findall(r'data-view="(\w+)" data-grain="(\w+)" data-source="(\w+)"', index)
    assert views == [("long", "year", "conf"), ("recent", "month", "arxiv")]
    long_csv = pd.read_csv(out / "data" / "long-conf-year-themes.csv")
    recent_csv = pd.read_csv(out / "data" / "recent-arxiv-month-themes.csv")
    assert set(long_csv["period_grain"]) == {"year"} and set(long_csv["source"]) == {"conf"}
    assert set(recent_csv["period_grain"]) == {"month"} and set(recent_csv["source"]) == {"arxiv"}
    assert sorted(pd.to_datetime(long_csv["period_start"]).dt.year.unique()) == list(CONF_YEARS)
    # growth from the chosen year: diffusion models 6 of 39 papers in 2014 (one rejected paper
    # a year is left out), 18 of 39 in 2020, with intervals and counts
    row = index[index.index('href="themes/diffusion-models.html"') :].split("</tr>")[0]
    assert "2014: 15.38% <span" in row and "; 6 of 39)" in row
    assert "2020: 46.15% <span" in row and "; 18 of 39)" in row
    assert "&times;2.8" in row and "too little evidence" not in row
    rl = index[index.index('href="themes/rl-finance.html"') :].split("</tr>")[0]
    assert "too little evidence" in rl and "&times;" not in rl  # no change read from 1 paper
    # the papers counted are stated on the overview
    assert "Accepted papers and papers without a review outcome" in index
    assert "9 rejected in conf" in index


def test_recent_view_follows_the_report_grain(long_store, tmp_path):
    out = tmp_path / "site"
    render_site(long_store, out, ReportOptions(grain="quarter"))
    index = _index(out)
    assert 'data-view="recent" data-grain="quarter" data-source="arxiv"' in index
    quarters = pd.read_csv(out / "data" / "recent-arxiv-quarter-papers.csv")
    assert set(quarters["period_grain"]) == {"quarter"}
    assert list(quarters["period_start"]) == ["2025-04-01", "2025-07-01"]
    assert "Recent: arxiv, by quarter" in index


def test_too_little_evidence_is_said_in_words(long_store, tmp_path):
    out = tmp_path / "site"
    render_site(long_store, out)
    page = (out / "themes" / "rl-finance.html").read_text()
    assert "Too little evidence</b> to call a trend" in page
    assert 'data-view="long" data-grain="year"' in page  # its multi-year path is charted
    assert ">insufficient<" not in page and ">insufficient<" not in _index(out)
    assert ">too little evidence</span>" in _index(out)


def test_every_chart_has_its_data_as_csv_next_to_it(long_store, tmp_path):
    out = tmp_path / "site"
    render_site(long_store, out)
    for page in [out / "index.html", *(out / "themes").glob("*.html"), out / "topics" / "1.html"]:
        html = page.read_text()
        charts = re.findall(r'<div class="chart[^"]*" data-figure="([^"]+)"', html)
        # each chart: its div, its figure's JSON, then the link to its rows
        linked = re.findall(
            r'<div class="chart[^"]*" data-figure="[^"]+"></div>\n<script [^>]+>[^<]*</script>\n'
            r'<p class="download"><a href="([^"]+\.csv)" download>',
            html,
        )
        links = re.findall(r'<p class="download"><a href="([^"]+\.csv)" download>', html)
        assert charts and len(linked) == len(charts), page
        for link in links:
            frame = pd.read_csv((page.parent / link).resolve())
            assert {"source", "period_grain", "period_start", "papers"} <= set(frame.columns)
            assert frame["period_grain"].nunique() == 1, link


def test_small_charts_and_the_map_link_their_data_too(long_store, tmp_path):
    out = tmp_path / "site"
    render_site(long_store, out)
    index = _index(out)
    links = re.findall(r'<a href="(data/[^"]+-topics\.csv)" download>Data of these small', index)
    assert set(links) == {"data/long-conf-year-topics.csv", "data/recent-arxiv-month-topics.csv"}
    sparks = pd.read_csv(out / "data" / "recent-arxiv-month-topics.csv")
    assert set(sparks["period_grain"]) == {"month"} and set(sparks["source"]) == {"arxiv"}


def test_csv_cells_cannot_run_as_spreadsheet_formulas():
    frame = pd.DataFrame({"label": ["=HYPERLINK(1)", "plain", "@x"], "share": [-0.5, 0.1, 0.2]})
    text = csv_text(frame)
    assert "'=HYPERLINK(1)" in text and "'@x" in text and "\n-0.5" not in text
    assert ",-0.5\n" in text  # numbers stay numbers


def test_growth_since_uses_the_first_readable_year_at_or_after_since():
    rows = pd.DataFrame(
        {
            "theme_id": "t",
            "period_start": pd.to_datetime(
                ["2010-01-01", "2011-01-01", "2012-01-01", "2013-01-01"]
            ),
            "papers": [1, 2, 8, 30],
            "denominator": [10, 100, 100, 100],
            "share": [0.1, 0.02, 0.08, 0.3],
            "ci_low": [0.0, 0.01, 0.04, 0.2],
            "ci_high": [0.4, 0.07, 0.15, 0.4],
            "is_partial": [False, False, False, False],
            "is_thin": [True, False, False, False],
        }
    )
    g = growth_since(rows, "theme_id", since=2000).loc["t"]  # 2010 is thin: base is 2011
    assert g["base_start"].year == 2011 and g["last_start"].year == 2013
    assert g["ratio"] == pytest.approx((30.5 / 100) / (2.5 / 100))
    g = growth_since(rows, "theme_id", since=2012).loc["t"]
    assert g["base_start"].year == 2012 and g["base_papers"] == 8
    late = growth_since(rows, "theme_id", since=2030).loc["t"]  # no year that late: the first
    assert late["base_start"].year == 2011
    none = rows.assign(papers=0, share=0.0)
    assert growth_since(none, "theme_id", since=2000).loc["t"]["ratio"] is None


def test_plan_views_puts_years_of_history_first():
    grains = pd.DataFrame(
        [
            ("arxiv", "month", 8, 7, 31_000),
            ("arxiv", "quarter", 3, 2, 31_000),
            ("arxiv", "year", 1, 0, 31_000),
            ("conf", "year", 39, 26, 87_000),
            ("kaggle", "month", 400, 399, 900_000),
            ("kaggle", "year", 34, 33, 900_000),
        ],
        columns=["source", "period_grain", "periods", "readable_periods", "papers"],
    )
    views = plan_views(grains, "month")
    assert [(v.key, v.source, v.grain) for v in views] == [
        ("long", "kaggle", "year"),
        ("long", "conf", "year"),
        ("recent", "kaggle", "month"),
        ("recent", "arxiv", "month"),
    ]
    only_recent = plan_views(grains[grains["source"] == "arxiv"], "quarter")
    assert [(v.key, v.grain) for v in only_recent] == [("recent", "quarter")]


def _break_a_filter(monkeypatch, site_module) -> None:
    """Make the overview's first percentage fail as a NaN author once made truncate fail."""
    make = site_module._environment

    def broken(*args, **kwargs):
        raise TypeError("object of type 'float' has no len()")

    def environment():
        env = make()
        env.filters["pct"] = broken
        return env

    monkeypatch.setattr(site_module, "_environment", environment)


def test_a_page_that_fails_to_render_is_named_in_one_error(long_store, tmp_path, monkeypatch):
    import pipeline.report.writer as site_module

    _break_a_filter(monkeypatch, site_module)
    with pytest.raises(ReportError, match=r"cannot render index\.html \(overview\): TypeError"):
        render_site(long_store, tmp_path / "site")
    assert not (tmp_path / "site").exists()  # nothing half-written


def test_report_cli_fails_in_one_line_without_a_traceback(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import pipeline.report.writer as site_module
    from pipeline.cli import app
    from pipeline.config import EmbeddingBackend
    from pipeline.embed import model_name
    from pipeline.store import open_writer

    home = tmp_path / "var"
    with open_writer(home / "work" / "trends.duckdb") as s:
        seed_toy_fit(s, ROWS)
        # a fit of a real backend's model, so the stage gets as far as rendering
        s.execute("update topic_runs set model = ?", [model_name(EmbeddingBackend.static)])
        build_marts(s)
    monkeypatch.setenv("TRENDS_HOME", str(home))
    _break_a_filter(monkeypatch, site_module)
    result = CliRunner().invoke(app, ["report"])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: report: cannot render index.html (overview)")
    assert "TypeError: object of type 'float' has no len()" in lines[0]
    assert "Traceback" not in result.output


def test_a_store_without_dated_papers_renders_its_topics(store, tmp_path):
    """A pasted page has no dates: no view to draw, the topics are still listed."""
    seed_toy_fit(store, [(f"u{i:02d}", "page", "", i % 2) for i in range(12)])
    build_marts(store)
    out = tmp_path / "site"
    render_site(store, out)
    index = _index(out)
    assert "data-view=" not in index and 'href="topics/1.html"' in index
    assert (out / "topics" / "0.html").is_file()
