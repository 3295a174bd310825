"""Topic pages at stable ids; a topic that ended keeps a page saying into what."""

from datetime import datetime

import pandas as pd
from conftest import TOY_ROWS, seed_toy_fit

from pipeline.report.site import render_site
from pipeline.report.topic_pages import retired_topics, topic_page_names
from pipeline.trends import build_marts


def two_fits(store) -> None:
    """fit-a (earlier): T0001 'robot grasping', T0002 'speech recognition'. fit-b (current):
    topic 0 continues T0001 (renamed), topic 1 is T0003, born, merging in T0002's papers."""
    seed_toy_fit(store, TOY_ROWS, run_id="fit-b")
    store.execute(
        "update topics set stable_id = case topic_id when 0 then 'T0001' when 1 then 'T0003'"
        " end, name = case topic_id when 0 then 'robot grasping policies'"
        " when 1 then 'speech and audio models' end where topic_run_id = 'fit-b'"
    )
    store.execute(
        "insert into topic_runs (topic_run_id, kind, model, seed, params, n_docs, n_topics,"
        " outlier_share, created_at) values ('fit-a', 'full', 'toy', 1, '{}', 10, 2, 0.1, ?)",
        [datetime(2024, 6, 1)],
    )
    store.execute(
        "insert into topics (topic_run_id, topic_id, label, terms, term_weights, size,"
        " stable_id, name) values"
        " ('fit-a', 0, 'robot, grasp, arm', ['robot'], [1.0], 5, 'T0001', 'robot grasping'),"
        " ('fit-a', 1, 'speech, audio, asr', ['speech'], [1.0], 5, 'T0002', 'speech recognition')"
    )
    store.execute(
        "insert into topic_lineage (topic_run_id, previous_run_id, event, stable_id, topic_id,"
        " previous_topic_id, score) values"
        " ('fit-b', 'fit-a', 'continued', 'T0001', 0, 0, 0.9),"
        " ('fit-b', 'fit-a', 'born', 'T0003', 1, null, null),"
        " ('fit-b', 'fit-a', 'died', 'T0002', null, 1, null),"
        " ('fit-b', 'fit-a', 'merged', 'T0003', 1, 1, 0.6)"
    )
    build_marts(store)


def test_pages_live_at_stable_ids_and_an_ended_topic_says_into_what(store, tmp_path):
    two_fits(store)
    out = render_site(store, tmp_path / "site").out_dir
    topics = out / "topics"
    assert sorted(p.name for p in topics.glob("*.html")) == [
        "T0001.html",
        "T0002.html",
        "T0003.html",
        "outliers.html",
    ]
    assert "robot grasping policies" in (topics / "T0001.html").read_text()
    index = (out / "index.html").read_text()
    assert 'href="topics/T0001.html"' in index and 'href="topics/0.html"' not in index
    ended = (topics / "T0002.html").read_text()
    assert "speech recognition" in ended and 'href="../topics/T0003.html"' in ended
    assert "speech and audio models" in ended and "60%" in ended
    search = (out / "assets" / "search-index.js").read_text()
    assert '"page":"T0003"' in search


def test_a_topic_that_died_says_so():
    rows = pd.DataFrame(
        {
            "stable_id": ["T0009", "T0001"],
            "label": ["old", "kept"],
            "last_run_id": ["fit-a", "fit-b"],
            "last_seen_at": [datetime(2024, 1, 1)] * 2,
            "ended_in_run_id": ["fit-b", None],
            "event": ["died", "died"],
            "into_stable_id": [None, None],
            "into_label": [None, None],
            "share": [None, None],
        }
    )
    (ended,) = retired_topics(rows, {"T0001"})
    assert ended["stable_id"] == "T0009" and ended["into"] == []


def test_page_names_fall_back_to_the_fit_number_without_stable_ids():
    topics = pd.DataFrame({"topic_id": [-1, 0, 4], "stable_id": [None, "T0002", None]})
    assert topic_page_names(topics) == {-1: "outliers", 0: "T0002", 4: "4"}


def test_the_overview_lists_areas_with_their_topics_and_charts_their_shares(store, tmp_path):
    two_fits(store)
    store.execute("update topics set area_id = 1 where topic_run_id = 'fit-b' and topic_id >= 0")
    store.execute("insert into topic_areas values ('fit-b', 1, 'machines that sense and act', 2)")
    out = render_site(store, tmp_path / "site").out_dir
    index = (out / "index.html").read_text()
    areas = index[index.index('id="areas"') : index.index('id="all-topics"')]
    assert "machines that sense and act" in areas
    assert areas.index("topics/T0001.html") < areas.index("fig-")  # the list, then the chart
    assert 'href="topics/T0003.html">speech and audio models' in areas
    rows = pd.read_csv(next((out / "data").glob("*-areas.csv")))
    per_period = rows.groupby(["source", "period_start"])
    # one area holding every topic: its share is the share of papers in any topic
    assert (per_period["papers"].sum() <= per_period["denominator"].first()).all()
    assert set(rows["label"]) == {"machines that sense and act"}


def test_an_overview_without_areas_has_no_area_section(store, tmp_path):
    two_fits(store)
    out = render_site(store, tmp_path / "site").out_dir
    assert 'id="areas"' not in (out / "index.html").read_text()


def test_since_the_last_fit_lists_what_was_born_merged_and_ended(store, tmp_path):
    two_fits(store)
    out = render_site(store, tmp_path / "site").out_dir
    page = (out / "changes.html").read_text()
    sections = {
        kind: page[page.index(f'id="{kind}"') :].split("</section>")[0]
        for kind in ("born", "merged", "split", "died", "continued")
    }
    assert 'href="topics/T0003.html">speech and audio models' in sections["born"]
    assert "T0002" in sections["merged"] and "60%" in sections["merged"]
    assert 'href="topics/T0002.html">speech recognition' in sections["died"]
    assert "T0001" in sections["continued"] and "T0001" not in sections["born"]
    assert "None." in sections["split"]
    assert 'href="changes.html"' in (out / "index.html").read_text()


def test_a_first_fit_has_nothing_to_compare(store, tmp_path):
    seed_toy_fit(store, TOY_ROWS)
    build_marts(store)
    page = (render_site(store, tmp_path / "site").out_dir / "changes.html").read_text()
    assert "nothing to compare with yet" in page


def test_a_refit_that_keeps_a_topic_keeps_its_page_address_and_name(store, tmp_path):
    """Two fits of the same papers (seeds 3 and 4): every topic continues, so each page stays
    at its address with its name, and "Since last report" lists them as continuing."""
    from conftest import WordEmbedder
    from embedded_papers import load_embedded_papers
    from test_topic_naming import PLANTED, planted_corpus

    from pipeline.topics.params import TopicParams
    from pipeline.topics.stage import fit_and_store

    embedder = WordEmbedder(dim=32)
    docs, _ = planted_corpus(n_per=45)
    ids = [f"p{i:03d}" for i in range(len(docs))]
    load_embedded_papers(store, ids, docs, embedder.encode(docs))
    store.execute(  # dated papers, so the marts and the report have periods to show
        "update papers set published = date '2025-01-01' + (hash(paper_id) % 180)::integer,"
        " date_precision = 'day'"
    )
    params = TopicParams(min_cluster_size=20, n_neighbors=10, seed_check=False)

    def fit_and_render(seed: int, name: str) -> dict[str, str]:
        fit_and_store(store, "syn", seed=seed, params=params, embedder=lambda: embedder)
        build_marts(store)
        out = render_site(store, tmp_path / name).out_dir
        return {
            page.name: page.read_text().split("<h1>")[1].split("</h1>")[0]
            for page in (out / "topics").glob("T*.html")
        }

    before = fit_and_render(3, "one")
    assert len(before) == len(PLANTED)
    after = fit_and_render(4, "two")
    assert after == before  # the same addresses, each with the same name
    changes = (tmp_path / "two" / "changes.html").read_text()
    continued = changes[changes.index('id="continued"') :].split("</section>")[0]
    assert all(f'href="topics/{page}"' in continued for page in before)
