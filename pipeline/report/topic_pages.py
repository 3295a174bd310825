"""Topic page addresses that last across refits, and pages for topics that ended.

A topic's page is ``topics/<stable id>.html`` (``T0007``): a refit that keeps the topic keeps
its stable id (:mod:`pipeline.topics.lineage`), so a bookmark still opens it. The outliers have
``topics/outliers.html``; a topic of a fit made before stable ids keeps its fit-local number
(``topics/3.html``), its address before stable pages. A stable topic no longer in the current
fit keeps its page, which says whether it died or into which topics its papers went
(``sql/report/retired_topics.sql``).

Each topic page lists all its papers: they travel as JSON in a ``<script
type="application/json">`` element and ``assets/papers.js`` shows them a page of 50 at a time,
with a filter over titles and authors (offline, no request).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd
from markupsafe import Markup

from pipeline.report.assets import script_safe
from pipeline.report.data import records


def topic_page_names(topics: pd.DataFrame) -> dict[int, str]:
    """Page name (without ``.html``) of each topic of the current fit, by fit topic id."""
    names = {}
    for topic_id, stable_id in zip(topics["topic_id"], topics["stable_id"], strict=True):
        tid = int(topic_id)
        if tid == -1:
            names[tid] = "outliers"
        elif isinstance(stable_id, str) and stable_id:
            names[tid] = stable_id
        else:
            names[tid] = str(tid)
    return names


def topic_page_of(names: dict[int, str]) -> Callable[[object], str]:
    """A template helper: the page name of a fit topic id (an int, or its text)."""

    def page(topic_id: object) -> str:
        tid = int(float(str(topic_id)))
        return names.get(tid, str(tid))

    return page


def retired_topics(rows: pd.DataFrame, current: set[str]) -> list[dict]:
    """One entry per ended stable topic: its last name and what became of it.

    ``rows``: ``sql/report/retired_topics.sql``; ``current``: page names of the current fit (a
    target of a split or merge that has since ended too still has its own page).
    """
    out = []
    for stable_id, group in rows.groupby("stable_id", sort=True):
        if stable_id in current:
            continue
        first = group.iloc[0]
        into = [
            {
                "stable_id": r.into_stable_id,
                "label": r.into_label,
                "share": r.share,
                "event": r.event,
            }
            for r in group.itertuples()
            if isinstance(r.into_stable_id, str)
        ]
        out.append(
            {
                "stable_id": str(stable_id),
                "label": first["label"],
                "last_run_id": first["last_run_id"],
                "last_seen_at": first["last_seen_at"],
                "ended_in_run_id": first["ended_in_run_id"]
                if isinstance(first["ended_in_run_id"], str)
                else None,
                "into": into,
            }
        )
    return out


def area_overview(areas: pd.DataFrame, topics: pd.DataFrame) -> list[dict]:
    """Each area (largest first) with its topics, largest first: what the overview lists.

    ``areas``: area_id, name, n_topics; ``topics``: the report's topic table (with area_id).
    Empty for a fit made before areas.
    """
    if areas.empty or "area_id" not in topics:
        return []
    real = topics[(topics["topic_id"] != -1) & topics["area_id"].notna()]
    out = []
    for area in areas.itertuples():
        members = real[real["area_id"] == area.area_id].sort_values("size", ascending=False)
        out.append(
            {
                "area_id": int(area.area_id),
                "name": area.name,
                "papers": int(members["size"].sum()),
                "topics": [
                    {"topic_id": int(t.topic_id), "label": t.label, "size": int(t.size)}
                    for t in members.itertuples()
                ],
            }
        )
    return out


def paper_lists(papers: pd.DataFrame) -> dict[int, Markup]:
    """Each topic's papers as JSON rows ``[title, date, url, authors]`` for its page, by topic id.

    ``papers``: ``sql/report/topic_papers.sql``. A missing date, author list or link is null
    (a link that is not http(s) too); the text is safe inside a script element, and the page's
    script puts every field in as text, never as markup.
    """
    out: dict[int, Markup] = {}
    for topic_id, group in papers.groupby("topic_id", sort=False):
        rows = [
            [
                p["title"] or "",
                p["published"],
                p["url"]
                if isinstance(p["url"], str) and p["url"].startswith(("https://", "http://"))
                else None,
                p["authors"],
            ]
            for p in records(group)
        ]
        text = script_safe(json.dumps(rows, ensure_ascii=False, separators=(",", ":")))
        out[int(topic_id)] = Markup(text)  # noqa: S704 - script_safe escaped every < > &
    return out
