"""papers.decision from ingest to the marts, and its backfill by migration 012."""

import pandas as pd
from conftest import DATA

from pipeline.ingest import ingest_file
from pipeline.records import decision_of
from pipeline.store.sqlfiles import load_sql, split_statements

CONFERENCE = DATA / "conference_abstracts.parquet"


def conference_slice(tmp_path, statuses=("Poster", "Oral", "Reject", "Withdraw")):
    """Two real conference papers of each status, as a Parquet file."""
    frame = pd.read_parquet(CONFERENCE)
    part = frame[frame["status"].isin(statuses)].groupby("status").head(2).reset_index(drop=True)
    path = tmp_path / "conference_abstracts.parquet"
    part.to_parquet(path)
    return part, path


def decisions(store) -> dict[str, str | None]:
    return dict(store.query("select paper_id, decision from papers").values)


def test_ingest_maps_status_to_decision_and_a_new_status_updates_it(store, tmp_path):
    part, path = conference_slice(tmp_path)
    ingest_file(store, path)
    expected = {r.id: decision_of(r.status) for r in part.itertuples()}
    assert decisions(store) == expected
    assert set(expected.values()) == {"accepted", "rejected"}
    # the outcome changes (a rejected paper re-sent as accepted): the paper is updated
    changed = part.assign(status="Poster")
    changed.to_parquet(path)
    summary = ingest_file(store, path)
    assert summary.updated == sum(v == "rejected" for v in expected.values())
    assert set(decisions(store).values()) == {"accepted"}


def test_migration_backfills_decisions_from_raw_payloads(store, tmp_path):
    part, path = conference_slice(tmp_path)
    ingest_file(store, path)
    before = decisions(store)
    store.execute("update papers set decision = null")  # a store from before migration 012
    for stmt in split_statements(load_sql("schema/012_paper_decision")):
        store.execute(stmt)
    assert decisions(store) == before
