"""The site renderer on a small hand-built store: structure, escaping, offline, atomic swap."""

import re

import pytest
from conftest import TOY_ROWS as ROWS
from conftest import seed_toy_fit

from pipeline.report.site import figure_json, render_site, swap_in
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
    assert sorted(p.name for p in (out / "topics").iterdir()) == ["-1.html", "0.html", "1.html"]
    assert (out / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    assert summary.pages == 6  # index, about, map, 3 topics


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
