"""The rendered report in headless Chromium, as a reader opens it: from a loopback static
server and from file://. No console errors, every chart drawn, search finds a known title, and
over both corpora the long view is drawn by year and the recent view by month."""

import contextlib
import functools
import http.server
import json
import re
import shutil
import threading
from pathlib import Path

import duckdb
import pytest
from conftest import ARXIV, CONFERENCES, trends

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def site(real_run_home):
    return real_run_home / "site"


@contextlib.contextmanager
def serve(site: Path):
    """A loopback static file server of ``site``; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site.resolve()))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def server(site):
    with serve(site) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (make setup installs it)")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1300, "height": 900},
        )  # fmt: skip
        yield context
        context.close()


def open_page(browser, url):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "request",
        lambda r: (
            errors.append(f"network request to {r.url}")
            if not r.url.startswith(("http://127.0.0.1", "file://", "data:"))
            else None
        ),
    )
    page.goto(url)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-figure]')]"
        ".every(el => el.getAttribute('data-drawn') === 'true')",
        timeout=60_000,
    )
    return page, errors


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_index_draws_every_chart_without_errors(browser, server, site, scheme):
    base = server if scheme == "http" else (site.resolve()).as_uri()
    page, errors = open_page(browser, f"{base}/index.html")
    charts = page.locator("[data-figure]")
    assert charts.count() >= 4
    assert page.locator(".js-plotly-plot").count() == charts.count()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"index-{scheme}.png"), full_page=True)
    assert errors == []
    page.close()


def test_topic_theme_and_map_pages_draw(browser, server):
    for path in ("topics/T0001.html", "themes/diffusion-models.html", "map.html"):
        page, errors = open_page(browser, f"{server}/{path}")
        assert page.locator(".js-plotly-plot").count() >= 1, path
        assert errors == [], (path, errors)
        if path == "map.html":
            page.screenshot(path=str(ARTIFACTS / "map.png"))
        page.close()


def test_search_finds_a_known_title(browser, server, real_run_home):
    with duckdb.connect(str(real_run_home / "trends.duckdb"), read_only=True) as con:
        title = con.execute(
            "select title from papers where length(title) > 40 order by paper_id limit 1"
        ).fetchone()[0]
    page, errors = open_page(browser, f"{server}/index.html")
    query = " ".join(title.split()[:4])
    page.fill("#search", query)
    results = page.locator("#search-results li a")
    results.first.wait_for(timeout=30_000)
    assert title in results.all_inner_texts()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "search.png"))
    assert errors == []
    page.close()


def test_search_reads_older_paper_files_only_while_it_needs_matches(
    browser, real_run_home, tmp_path
):
    """A report split into files of 200 papers: a common word answers from the newest file,
    the oldest paper's title is found in the last one."""
    site = tmp_path / "split"
    proc = trends(
        real_run_home, "report", "--out", str(site), env={"TRENDS_REPORT_SEARCH_CHUNK": "200"}
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = sorted(
        (site / "assets").glob("search-papers-*.js"), key=lambda f: int(f.stem.split("-")[-1])
    )
    assert len(files) >= 5  # 2,000 papers
    last = files[-1].read_text(encoding="utf-8")
    oldest = json.loads(last[last.index("] = ") + 4 : -2])[-1][0]
    with serve(site) as url:
        page, errors = open_page(browser, f"{url}/index.html")
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.fill("#search", "in")
        page.locator("#search-results li a").nth(39).wait_for(timeout=30_000)
        assert not [u for u in requested if "search-papers-" in u]  # the first file sufficed
        page.fill("#search", oldest)
        page.locator("#search-results li a", has_text=oldest).first.wait_for(timeout=30_000)
        assert any(u.endswith(files[-1].name) for u in requested)  # read to the last file
        assert page.locator(".search-more").count() == 0  # and says nothing is left to read
        assert errors == []
        page.close()


# What a chart's x values must look like in each grain: a year starts on January 1; the months
# of the recent view are distinct first days of months.
def _x_values(page, figure_id: str) -> list[str]:
    return page.evaluate(
        "id => document.querySelector(`[data-figure='${id}']`).data"
        ".flatMap(t => t.x || []).map(String)",
        figure_id,
    )


def test_long_view_draws_years_and_recent_view_months(browser, two_corpora_home):
    site = two_corpora_home / "site"
    with serve(site) as base:
        page, errors = open_page(browser, f"{base}/index.html#long")
        long_view = page.locator('section[data-view="long"][data-grain="year"]')
        recent_view = page.locator('section[data-view="recent"][data-grain="month"]')
        assert long_view.count() == 1 and recent_view.count() == 1
        # both views' charts are drawn (plotly made each one a plot)
        for view in (long_view, recent_view):
            charts = view.locator("[data-figure]:not(.spark)")
            assert charts.count() >= 2
            assert view.locator(".chart .js-plotly-plot, .chart.js-plotly-plot").count() >= 2
        years = _x_values(page, "fig-long-conference-abstracts-year-themes")
        months = _x_values(page, "fig-recent-arxiv-month-themes")
        assert years and all(x[5:10] == "01-01" for x in years)
        # one point a year, from the first year with enough papers to read (a 600-paper sample
        # reads from about 2017; thinner years before it are cut)
        assert len({x[:4] for x in years}) >= 5 and max(years)[:4] == "2025"
        assert months and all(x[8:10] == "01" for x in months)
        assert {x[:4] for x in months} == {"2025"} and len({x[:7] for x in months}) == 8
        long_view.screenshot(path=str(ARTIFACTS / "long-view.png"))
        recent_view.screenshot(path=str(ARTIFACTS / "recent-view.png"))
        # the chart's data downloads as CSV, from the site itself
        with page.expect_download() as download:
            long_view.locator("p.download a").first.click()
        path = download.value.path()
        head = Path(path).read_text().splitlines()[0]
        assert head.startswith("source,period_grain,period_start,theme_id")
        assert errors == []
        page.close()


# -- a reader following topics: areas, a topic by its stable id, themes, the map, what changed --

RERUN_SAMPLE = 800


@pytest.fixture(scope="module")
def rerun_home(two_corpora_home, tmp_path_factory):
    """A copy of the two-corpora store after a second `trends run` with more papers and a refit.

    The refit matches its topics to the first fit (born, continued, merged, split, died) and
    its analyze is the second report edition: the "Since last report" page has news.
    """
    home = tmp_path_factory.mktemp("rerun") / "var"
    shutil.copytree(two_corpora_home, home, symlinks=True)
    args = ["run", "--sample", str(RERUN_SAMPLE), "--backend", "static", "--full"]
    proc = trends(home, *args, str(CONFERENCES), str(ARXIV))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return home


def _current_topics(home: Path) -> list[tuple[str, str, int]]:
    """(stable id, name, size) of every topic of the current fit, largest first."""
    with duckdb.connect(str(home / "trends.duckdb"), read_only=True) as con:
        return con.execute(
            "select stable_id, coalesce(name, label), size from topics where topic_id <> -1"
            " and topic_run_id = (select topic_run_id from mart_builds) order by size desc"
        ).fetchall()


def test_a_reader_follows_areas_a_topic_by_stable_id_the_map_and_what_changed(browser, rerun_home):
    site = rerun_home / "site"
    topics = _current_topics(rerun_home)
    with serve(site) as base:
        # the overview lists areas, each with its topics
        page, errors = open_page(browser, f"{base}/index.html")
        areas = page.locator("section:has(#areas)")
        assert areas.count() == 1 and areas.locator("ul.areas > li").count() >= 2
        linked = areas.locator("ul.areas a").evaluate_all("as => as.map(a => a.textContent)")
        assert sorted(linked) == sorted(n for _, n, _ in topics)  # every topic, by its name
        # theme small multiples: one panel (x axis) per theme on a shared time axis
        multiples = page.locator("[data-figure$='-themes']").first
        n_axes = multiples.evaluate(
            "el => Object.keys(el.layout).filter(k => /^xaxis\\d*$/.test(k)).length"
        )
        assert n_axes >= 2
        # an area chart's data downloads as CSV from the site itself
        with page.expect_download() as download:
            areas.locator("p.download a").first.click()
        rows = Path(download.value.path()).read_text().splitlines()
        assert rows[0].startswith("source,period_grain,period_start") and len(rows) > 1
        assert errors == [], errors
        page.close()

        # a topic page at its stable id: all its papers, 50 a page, with a filter
        stable_id, name, size = topics[0]
        page, errors = open_page(browser, f"{base}/topics/{stable_id}.html")
        assert page.locator("h1").inner_text() == name
        listed = page.locator("ol.paper-page > li")
        assert listed.count() == min(size, 50)
        assert page.locator(".paper-count").inner_text() == f"{size} papers"
        if size > 50:
            page.click(".paper-next")
            assert page.locator("ol.paper-page").evaluate("el => el.start") == 51
            assert listed.count() == min(size - 50, 50)
        title = listed.first.evaluate("li => li.firstChild.textContent")
        word = max(re.findall(r"[A-Za-z]{4,}", title), key=len)
        page.fill(".paper-filter", word)
        matches = listed.all_inner_texts()
        assert matches and all(word.lower() in m.lower() for m in matches)
        assert "match" in page.locator(".paper-count").inner_text()
        page.screenshot(path=str(ARTIFACTS / "topic-papers.png"))
        assert errors == [], errors
        page.close()

        # the map names its clusters
        page, errors = open_page(browser, f"{base}/map.html")
        names = {n[:40] for _, n, _ in topics}
        written = page.locator(".annotation-text").evaluate_all(
            "els => els.map(el => el.textContent)"  # SVG text has no innerText
        )
        assert len([w for w in written if w in names]) >= 3
        assert errors == [], errors
        page.close()

        # since last report, after the second run: topic events and the feed beside them
        page, errors = open_page(browser, f"{base}/changes.html")
        assert page.locator("h1").inner_text() == "Since last report"
        news = page.locator(
            "#born tbody tr, #merged tbody tr, #split tbody tr, #died tbody tr,"
            " #status-changes tbody tr"
        )
        assert news.count() >= 1
        assert "edition 2" in page.locator("p.lede").inner_text()
        feed_href = page.locator('head link[type="application/atom+xml"]').get_attribute("href")
        assert feed_href == "feed.xml" and (site / "feed.xml").exists()
        page.screenshot(path=str(ARTIFACTS / "changes.png"), full_page=True)
        assert errors == [], errors
        page.close()
