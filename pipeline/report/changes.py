"""What changed since the last report: topic events, status changes and movers per edition.

Every analyze build is an edition of the report (``report_editions``, migration 020), and keeps
the status of each series (``edition_statuses``) under a key that lasts across refits (a
topic's stable id, a theme's id). The "Since last report" page compares the current edition
with the one before it; ``feed.xml`` (:mod:`pipeline.report.feed`) holds the same comparison
for each of the latest editions, so a reader who subscribes sees every edition's changes once.

:func:`load_edition_log` is the only function here that reads the store; the rest is pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from pipeline.report.data import records
from pipeline.store import Store

# Editions the feed looks back over (each compared with the one before it).
FEED_EDITIONS = 20
MOVERS = 5
# A status or share change is read in a view the report shows; a share changes only with this
# much weight behind it (papers in the window, both editions), so one paper is never a mover.
MIN_MOVER_PAPERS = 20
# ... and by at least a tenth of itself (x1.1 or /1.1): a smaller move is no news.
MIN_MOVE = 1.1

CHANGE_HEADINGS = {
    "born": "New topics",
    "merged": "Topics that merged",
    "split": "Topics that split",
    "died": "Topics that ended",
    "continued": "Topics that continue",
}


@dataclass(frozen=True)
class EditionFrames:
    """One edition as read from the store: itself, the edition before it, and the differences.

    ``edition``/``previous``: rows of ``sql/report/editions.sql`` (``previous`` None for the
    first edition); ``events``: ``sql/report/edition_events.sql``; ``series``:
    ``sql/report/edition_series.sql`` (empty without a previous edition).
    """

    edition: dict
    previous: dict | None
    events: pd.DataFrame
    series: pd.DataFrame


@dataclass(frozen=True)
class EditionLog:
    """The latest editions (newest first) and the store's first (which names the feed)."""

    editions: list[EditionFrames]
    first: dict | None


def load_edition_log(store: Store, topic_run_id: str, limit: int = FEED_EDITIONS) -> EditionLog:
    """The latest editions, newest first, each with what changed since the one before it.

    A store whose marts were built before editions were recorded (or whose latest edition is
    of another fit) gets one edition standing for the current marts (their ``mart_builds``
    row), compared with no earlier one.
    """
    recorded = store.table_exists("report_editions")
    editions = (
        records(store.query_file("report/editions", {"limit": limit + 1})) if recorded else []
    )
    first = records(store.query_file("report/first_edition")) if recorded else []
    if not editions or editions[0]["topic_run_id"] != topic_run_id:
        current = records(store.query_file("report/current_edition"))[0]
        editions = [current]
    out = []
    for i, edition in enumerate(editions[:limit]):
        previous = editions[i + 1] if i + 1 < len(editions) else None
        events = store.query_file(
            "report/edition_events",
            {
                "topic_run_id": edition["topic_run_id"],
                "previous_fit": previous["topic_run_id"] if previous else None,
                "previous_update": previous["last_update_run_id"] if previous else None,
                "last_update": edition["last_update_run_id"],
            },
        )
        series = (
            store.query_file(
                "report/edition_series",
                {"edition": edition["edition"], "previous_edition": previous["edition"]},
            )
            if previous is not None and edition["edition"] is not None
            else pd.DataFrame()
        )
        out.append(EditionFrames(edition, previous, events, series))
    return EditionLog(out, first[0] if first else None)


def _in_views(series: pd.DataFrame, views: set[tuple[str, str]]) -> pd.DataFrame:
    if series.empty:
        return series
    keys = list(zip(series["source"], series["period_grain"], strict=True))
    return series[[k in views for k in keys]]


def status_changes(series: pd.DataFrame, views: set[tuple[str, str]]) -> list[dict]:
    """Series of the report's views (source, grain) whose status differs between the editions."""
    rows = _in_views(series, views)
    if rows.empty:
        return []
    changed = rows[rows["status"].fillna("") != rows["previous_status"].fillna("")]
    return records(changed)


def biggest_movers(series: pd.DataFrame, views: set[tuple[str, str]]) -> tuple[list, list]:
    """Series whose recent share rose or fell most between the editions (at most ``MOVERS`` each).

    Read in the report's views, among series with a trend status in both editions (not
    ``insufficient``) and at least ``MIN_MOVER_PAPERS`` papers in both, whose recent share
    moved by a factor of ``MIN_MOVE`` or more; ranked by the ratio of the recent shares.
    """
    rows = _in_views(series, views)
    if rows.empty:
        return [], []
    ok = rows[
        rows["recent_share"].notna()
        & rows["previous_recent_share"].notna()
        & (rows["previous_recent_share"] > 0)
        & (rows["recent_share"] > 0)
        & ~rows["status"].isin(["insufficient"])
        & ~rows["previous_status"].isin(["insufficient"])
        & (rows["papers"].fillna(0) >= MIN_MOVER_PAPERS)
        & (rows["previous_papers"].fillna(0) >= MIN_MOVER_PAPERS)
    ]
    if ok.empty:
        return [], []
    ok = ok.assign(
        ratio=(ok["recent_share"] / ok["previous_recent_share"]).astype(float),
    )
    ok = ok.assign(log_ratio=ok["ratio"].map(math.log))
    least = math.log(MIN_MOVE)
    rose = ok[ok["log_ratio"] >= least].nlargest(MOVERS, "log_ratio")
    fell = ok[ok["log_ratio"] <= -least].nsmallest(MOVERS, "log_ratio")
    return records(rose), records(fell)


def series_page(row: dict) -> str | None:
    """A series row's page from the site root: a theme's, or a topic's by its stable id.

    A topic of a fit made before stable ids has no page that lasts (None).
    """
    if row["kind"] == "theme":
        return f"themes/{row['series_id']}.html"
    key = str(row["series_key"])
    return None if key.startswith("fit:") else f"topics/{key}.html"


def edition_changes(frames: EditionFrames, views: set[tuple[str, str]]) -> dict[str, object]:
    """What one edition changed, in reading order: the page's (and a feed entry's) content.

    Topic events grouped by kind (a kind without events keeps its empty group, so the page
    says "None"), status changes and the biggest movers in the report's ``views``; each
    series row carries its ``page``.
    """
    rows = records(frames.events)
    groups = [(kind, [r for r in rows if r["event"] == kind]) for kind in CHANGE_HEADINGS]
    rose, fell = biggest_movers(frames.series, views)
    previous_fit = next((r["previous_run_id"] for r in rows if r.get("previous_run_id")), None)
    changes = status_changes(frames.series, views)
    for row in [*changes, *rose, *fell]:
        row["page"] = series_page(row)
    return {
        "edition": frames.edition,
        "previous": frames.previous,
        "previous_run_id": previous_fit,
        "groups": groups,
        "headings": CHANGE_HEADINGS,
        "status_changes": changes,
        "rose": rose,
        "fell": fell,
        "compared": frames.previous is not None,
        "n_changes": sum(len(g) for k, g in groups if k != "continued") + len(changes),
    }
