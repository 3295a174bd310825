"""``feed.xml``: an Atom 1.0 feed of the "Since last report" changes, one entry per edition.

Each of the latest editions (analyze builds) that changed something (a topic born, merged,
split or ended, or a status change) is an entry; an edition that changed nothing has none. Ids
are ``urn:uuid:`` names derived from what they stand for (the store's first edition, an
edition's fit and build time), so a rerendered report repeats the same ids and a feed reader
shows no entry twice. Times are the editions' own, so rerendering the same store gives the same
feed. Every text comes through the template's escaping, with characters XML 1.0 forbids removed.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import pandas as pd
from jinja2 import Environment

from pipeline.report.changes import EditionLog

FEED_NAMESPACE = uuid.UUID("5b0f6f2e-8d1c-4a51-9a43-2f6c0d7f1e90")
# Characters an XML 1.0 document may not hold, even escaped (C0 controls but tab, CR, LF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_clean(value: object) -> object:
    """``value`` with characters XML 1.0 forbids removed, through lists, tuples and dicts."""
    if isinstance(value, str):
        return _NOT_XML.sub("", value)
    if isinstance(value, dict):
        return {k: xml_clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(xml_clean(v) for v in value)
    return value


def atom_time(value: object) -> str:
    """An RFC 3339 UTC time (``2025-06-01T12:00:00Z``) of a naive UTC timestamp or date."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def feed_id(first_edition: dict | None, topic_run_id: str) -> str:
    """The feed's id: named by the store's first edition (its fit and recorded time)."""
    key = (
        f"{first_edition['topic_run_id']}|{atom_time(first_edition['recorded_at'])}"
        if first_edition
        else topic_run_id
    )
    return f"urn:uuid:{uuid.uuid5(FEED_NAMESPACE, 'feed|' + key)}"


def entry_id(feed: str, edition: dict) -> str:
    """An edition's entry id: the same in every report rendered from the store."""
    key = f"{feed}|{edition['topic_run_id']}|{atom_time(edition['built_at'])}|{edition['edition']}"
    return f"urn:uuid:{uuid.uuid5(FEED_NAMESPACE, 'entry|' + key)}"


def entry_title(changes: dict) -> str:
    """A one-line title counting what changed: '2 new topics, 1 ended, 3 status changes'."""
    counts = {kind: len(rows) for kind, rows in changes["groups"]}
    parts = []
    for kind, one, many in (
        ("born", "new topic", "new topics"),
        ("merged", "merge", "merges"),
        ("split", "split", "splits"),
        ("died", "topic ended", "topics ended"),
    ):
        if counts.get(kind):
            parts.append(f"{counts[kind]} {one if counts[kind] == 1 else many}")
    n_status = len(changes["status_changes"])
    if n_status:
        parts.append(f"{n_status} status change{'' if n_status == 1 else 's'}")
    return ", ".join(parts) if parts else "no change"


def feed_entries(feed: str, editions: list[dict]) -> list[dict]:
    """The entries (newest first) of the editions that changed something.

    ``editions``: :func:`pipeline.report.changes.edition_changes` of each edition, newest first.
    """
    entries = []
    for changes in editions:
        if not changes["n_changes"]:
            continue
        edition = changes["edition"]
        number = edition["edition"]
        entries.append(
            {
                "id": entry_id(feed, edition),
                "title": (f"Edition {number}: " if number else "") + entry_title(changes),
                "updated": atom_time(edition["recorded_at"]),
                "changes": changes,
            }
        )
    return entries


def feed_updated(editions: list[dict]) -> str:
    """The feed's updated time: the newest edition's, else the epoch (a store with none)."""
    times = [e["edition"]["recorded_at"] for e in editions if e["edition"].get("recorded_at")]
    return (
        atom_time(max(pd.Timestamp(t) for t in times)) if times else atom_time(datetime(1970, 1, 1))
    )


def render_feed(env: Environment, log: EditionLog, changes: list[dict], topic_run_id: str) -> str:
    """The text of ``feed.xml``: ``changes`` are the editions' changes, newest first."""
    changes = [xml_clean(c) for c in changes]
    fid = feed_id(xml_clean(log.first), topic_run_id)
    entries = feed_entries(fid, changes)
    content = env.get_template("feed_entry.html.j2")
    for entry in entries:
        # a plain str: the feed template escapes it into the <content type="html"> element
        entry["html"] = str(content.render(c=entry["changes"], root=""))
        entry["summary"] = entry_summary(entry["changes"])
    return env.get_template("feed.xml.j2").render(
        feed_id=fid, updated=feed_updated(changes), entries=entries
    )


def entry_summary(changes: dict) -> str:
    """A plain-text line of an entry: the names of the topics born and ended, and the title."""
    named = []
    for kind, verb in (("born", "new"), ("died", "ended")):
        rows = dict(changes["groups"]).get(kind, [])
        labels = [r["label"] if r.get("label") else r.get("previous_label") for r in rows]
        if labels:
            named.append(f"{verb}: " + "; ".join(str(x) for x in labels[:10]))
    return ". ".join([entry_title(changes), *named])
