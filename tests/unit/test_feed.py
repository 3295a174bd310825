"""Report editions, the "Since last report" page and feed.xml, read back by a real feed parser.

The store grows as a reader would see it: a first analyze as of the end of June (edition 1),
then one over every date, with topic 1 surging from July (edition 2).
"""

from datetime import date

import feedparser
import pytest
from conftest import seed_toy_fit

from pipeline.report.site import render_site
from pipeline.trends import build_marts

MONTHS = range(1, 10)  # January to September 2025
PER_MONTH = 40


def surge_rows() -> list[tuple[str, str, str, int]]:
    """40 papers a month; topic 1 holds half of them until June and nine in ten after it."""
    rows = []
    for month in MONTHS:
        for i in range(PER_MONTH):
            in_one = i % 10 < (9 if month >= 7 else 5)
            day = 1 + i * 27 // PER_MONTH
            rows.append((f"p{month}-{i:02d}", "arxiv", f"2025-{month:02d}-{day:02d}", int(in_one)))
    return rows


def two_editions(store, name: str = "speech <b>&amp; audio") -> None:
    """Edition 1 as of June 30th, edition 2 over every date; topics T0001 and T0002 (``name``)."""
    seed_toy_fit(store, surge_rows(), run_id="fit-s")
    store.execute(
        "update topics set stable_id = case topic_id when 0 then 'T0001' when 1 then 'T0002'"
        " end, name = case topic_id when 0 then 'robot grasping' else ? end"
        " where topic_run_id = 'fit-s'",
        [name],
    )
    build_marts(store, as_of=date(2025, 6, 30))
    build_marts(store)


def statuses(store, edition: int) -> dict[tuple[str, str], str]:
    rows = store.query(
        "select series_key, period_grain, status from edition_statuses where edition = ?",
        [edition],
    )
    return {(r.series_key, r.period_grain): r.status for r in rows.itertuples()}


def test_each_analyze_is_an_edition_and_an_as_of_rebuild_replaces_it(store):
    seed_toy_fit(store, surge_rows(), run_id="fit-s")
    build_marts(store, as_of=date(2025, 6, 30))
    first = statuses(store, 1)
    build_marts(store, as_of=date(2025, 6, 30))  # the same inputs: the same edition
    assert store.scalar("select count(*) from report_editions") == 1
    assert statuses(store, 1) == first and first
    build_marts(store)
    assert store.query("select edition from report_editions order by 1")["edition"].tolist() == [
        1,
        2,
    ]
    # a topic of a fit without stable ids is keyed by its fit and number
    assert {k for k, _ in first} == {"fit:fit-s:0", "fit:fit-s:1"}


def test_since_last_report_lists_the_status_changes_of_the_report_views(store, tmp_path):
    two_editions(store)
    before, after = statuses(store, 1), statuses(store, 2)
    changed = {
        key
        for key in before.keys() & after.keys()
        if before[key] != after[key] and key[1] == "month"
    }
    assert ("T0002", "month") in changed  # the surge changed topic 1's monthly status
    out = render_site(store, tmp_path / "site").out_dir
    page = (out / "changes.html").read_text()
    section = page[page.index('id="status-changes"') :].split("</section>")[0]
    assert section.count("<tr>") == len(changed) + 1  # the header row and one per change
    row = section[section.index('href="topics/T0002.html"') :].split("</tr>")[0]
    assert f"<td>{before['T0002', 'month']}</td>" in row.replace(
        "too little evidence", "insufficient"
    )
    assert "speech &lt;b&gt;&amp;amp; audio" in row  # a name is text, never markup
    assert "edition 2" in page and "edition 1" in page
    # no lineage event between two builds of one fit
    born = page[page.index('id="born"') :].split("</section>")[0]
    assert "None." in born


def test_a_rerun_of_analyze_is_the_same_edition_and_keeps_its_news(store, tmp_path):
    two_editions(store)
    before = (render_site(store, tmp_path / "a").out_dir / "changes.html").read_text()
    recorded = store.query("select * from report_editions order by edition")
    build_marts(store)  # the same inputs as edition 2 (a rerun after a crash, a second click)
    assert store.query("select * from report_editions order by edition").equals(recorded)
    after = (render_site(store, tmp_path / "b").out_dir / "changes.html").read_text()
    section = after[after.index('id="status-changes"') :].split("</section>")[0]
    assert "every topic and theme kept its status" not in section  # edition 2's news stays
    assert after == before


def parsed_feed(out):
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def test_the_feed_is_valid_atom_with_one_entry_per_edition_that_changed_something(store, tmp_path):
    two_editions(store)
    out = render_site(store, tmp_path / "site").out_dir
    feed = parsed_feed(out)
    assert feed.feed.id.startswith("urn:uuid:") and feed.feed.title
    assert feed.feed.updated_parsed is not None
    # edition 1 changed nothing (first fit, nothing before it); edition 2 changed statuses
    (entry,) = feed.entries
    assert entry.title.startswith("Edition 2:") and "status change" in entry.title
    assert entry.id.startswith("urn:uuid:") and entry.updated_parsed is not None
    html = entry.content[0].value
    assert "speech <b>&amp; audio" not in html  # the name stayed text through both escapes
    assert "speech &lt;b&gt;&amp;amp; audio" in html
    assert 'href="topics/T0002.html"' in html
    # every page links to the feed from its head
    for page in ("index.html", "changes.html", "topics/T0001.html", "map.html"):
        head = (out / page).read_text().split("</head>")[0]
        assert 'rel="alternate" type="application/atom+xml"' in head, page
        assert "feed.xml" in head


def test_entry_ids_last_across_reports_so_readers_see_no_duplicates(store, tmp_path):
    two_editions(store)
    first = parsed_feed(render_site(store, tmp_path / "one").out_dir)
    build_marts(store)  # another edition that changes nothing
    second = parsed_feed(render_site(store, tmp_path / "two").out_dir)
    assert second.feed.id == first.feed.id
    assert [e.id for e in second.entries] == [e.id for e in first.entries]
    assert [e.updated for e in second.entries] == [e.updated for e in first.entries]


def test_a_topic_born_in_an_update_is_news_only_in_the_edition_after_its_update(store, tmp_path):
    two_editions(store)  # editions 1 and 2, before any update
    store.execute(
        "insert into topics (topic_run_id, topic_id, label, terms, term_weights, size,"
        " stable_id, name) values ('fit-s', 2, 'x, y, z', ['x'], [1.0], 3, 'T0003',"
        " 'graph networks for weather')"
    )
    store.execute(
        "insert into topic_updates values ('upd-20250901T000000000000', 'fit-s', 'toy', 3, 0,"
        " 3, 0, 1, 3, '{}', 1.0, '2025-09-01')"
    )
    store.execute(
        "insert into topic_lineage (topic_run_id, previous_run_id, event, stable_id, topic_id,"
        " update_run_id) values ('fit-s', null, 'born', 'T0003', 2, 'upd-20250901T000000000000')"
    )
    build_marts(store)  # edition 3: the first after the update
    page = (render_site(store, tmp_path / "site").out_dir / "changes.html").read_text()
    born = page[page.index('id="born"') :].split("</section>")[0]
    assert 'href="topics/T0003.html">graph networks for weather' in born
    entries = parsed_feed(tmp_path / "site").entries
    assert entries[0].title.startswith("Edition 3: 1 new topic")
    build_marts(store)  # the same inputs: still edition 3, and its news stays
    assert store.scalar("select max(edition) from report_editions") == 3
    page = (render_site(store, tmp_path / "site").out_dir / "changes.html").read_text()
    assert "graph networks for weather" in page[page.index('id="born"') :].split("</section>")[0]
    assert [e.title[:10] for e in parsed_feed(tmp_path / "site").entries] == [
        "Edition 3:",
        "Edition 2:",
    ]


@pytest.mark.parametrize("bad", ["\x00", "\x08", "\x1f", "\ufffe"])
def test_characters_xml_forbids_never_reach_the_feed(store, tmp_path, bad):
    two_editions(store, name=f"speech{bad} models")
    feed = parsed_feed(render_site(store, tmp_path / "site").out_dir)
    assert "speech models" in feed.entries[0].content[0].value


def test_biggest_movers_need_a_status_papers_a_tenth_of_a_move_and_a_shown_view():
    import pandas as pd

    from pipeline.report.changes import biggest_movers

    def row(key, before, now, status="stable", papers=100, grain="month"):
        return {
            "kind": "topic", "source": "arxiv", "period_grain": grain, "series_key": key,
            "series_id": key, "label": key, "status": status, "previous_status": "stable",
            "papers": papers, "previous_papers": papers, "recent_share": now,
            "previous_recent_share": before,
        }  # fmt: skip

    series = pd.DataFrame(
        [
            row("doubled", 0.1, 0.2),
            row("halved", 0.2, 0.1),
            row("a little", 0.10, 0.105),
            row("too little evidence", 0.1, 0.4, status="insufficient"),
            row("few papers", 0.1, 0.4, papers=5),
            row("a view not shown", 0.1, 0.4, grain="quarter"),
        ]
    )
    rose, fell = biggest_movers(series, {("arxiv", "month")})
    assert [r["series_key"] for r in rose] == ["doubled"] and rose[0]["ratio"] == 2.0
    assert [r["series_key"] for r in fell] == ["halved"]
