"""Fits over long horizons: a period-balanced sample, the other papers placed into its topics."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipeline.topics.sampling import SampleRule, balanced_sample, water_level
from pipeline.topics.stage import fit_and_store, place_new_papers
from pipeline.trends import build_marts

DIM = 48
# theme: (words, papers per year by year range)
THEMES = {
    "robots": ("robot manipulation grasping gripper arm trajectory", {(2000, 2009): 8, (2010, 2024): 60}),
    "speech": ("speech audio recognition acoustic speaker waveform", {(2000, 2005): 3}),
    "graphs": ("graph neural network node message passing", {(2010, 2024): 80}),
    "proteins": ("protein folding molecule drug binding chemistry", {(2021, 2024): 40}),
}  # fmt: skip


def test_water_level_caps_the_large_groups_alike():
    assert water_level(np.array([5, 10, 100]), 200) is None  # everything fits
    cap = water_level(np.array([5, 10, 100, 300]), 100)
    assert cap == 42  # 5 + 10 + 42 + 42 = 99 <= 100; 43 would give 101
    assert 5 + 10 + 2 * (cap + 1) > 100
    assert water_level(np.array([50, 50, 50]), 2) == 1  # every group keeps one paper


def test_sample_keeps_small_periods_whole_and_is_deterministic():
    periods = pd.DataFrame(
        {
            "paper_id": [f"p{i:04d}" for i in range(1100)],
            "source": ["conf"] * 1000 + ["arxiv"] * 100,
            "period": ["1990-01-01"] * 20 + ["2024-01-01"] * 980 + [None] * 100,
        }
    )
    chosen = balanced_sample(periods, SampleRule(budget=200), seed=1)
    groups = chosen.groups.set_index("source")
    assert chosen.balanced and chosen.cap == 90  # 20 + 90 + 90 <= 200
    conf = chosen.groups[chosen.groups["source"] == "conf"].set_index("period")["clustered"]
    assert conf[pd.Timestamp("1990-01-01")] == 20 and conf[pd.Timestamp("2024-01-01")] == 90
    assert groups.loc["arxiv", "clustered"] == 90  # undated papers form their own group
    assert (balanced_sample(periods, SampleRule(budget=200), seed=1).rows == chosen.rows).all()
    assert not (balanced_sample(periods, SampleRule(budget=200), seed=2).rows == chosen.rows).all()
    record = chosen.record()
    assert record["rule"] == "period_balanced" and record["clustered"] == len(chosen.rows) == 200
    whole = balanced_sample(periods, SampleRule(budget=5000), seed=1)
    assert not whole.balanced and len(whole.rows) == 1100 and whole.record()["rule"] == "all"


def synthetic_decades(seed=0):
    """Papers of four themes over 2000-2024, one orthogonal direction per theme."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(DIM, DIM)))
    rows = []
    for number, (theme, (words, spans)) in enumerate(THEMES.items()):
        for (first, last), per_year in spans.items():
            for year in range(first, last + 1):
                for i in range(per_year):
                    vector = q[number] * 3.0 + rng.normal(size=DIM) * 0.45
                    text = " ".join(rng.choice(words.split(), size=10))
                    rows.append((f"{theme}-{year}-{i:02d}", theme, year, text, vector))
    frame = pd.DataFrame(rows, columns=["paper_id", "theme", "year", "text", "vector"])
    vectors = np.stack(frame["vector"].to_numpy())
    frame["vector"] = list(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    return frame


def load(store, frame):
    papers = frame.assign(published=pd.to_datetime(frame["year"].astype(str) + "-01-01").dt.date)
    store.register("p", papers[["paper_id", "text", "published"]])
    store.execute(
        "insert into papers (paper_id, source, title, abstract, published, date_precision,"
        " content_hash, first_run_id, last_run_id, ingested_at, updated_at)"
        " select paper_id, 'conf', text, text, published, 'year', paper_id, 'r', 'r', now(), now()"
        " from p"
    )
    store.unregister("p")
    table = pa.table(
        {
            "paper_id": frame["paper_id"].tolist(),
            "model": ["syn"] * len(frame),
            "content_hash": frame["paper_id"].tolist(),
            "embedding": pa.array([v.tolist() for v in frame["vector"]], pa.list_(pa.float32())),
        }
    )
    store.register_arrow("e", table)
    store.execute("insert into paper_embeddings select *, now() from e")
    store.unregister("e")


@pytest.fixture(scope="module")
def decades():
    return synthetic_decades()


def test_a_topic_born_in_2021_shows_as_born_then_and_early_topics_survive(store, decades):
    load(store, decades)
    # 2,358 papers, a budget of 500: each year keeps at most 26 papers, 2000-2009 all of theirs
    summary = fit_and_store(store, "syn", seed=3, sample=SampleRule(budget=500))
    assert summary.n_docs == len(decades) and summary.n_clustered < 500
    assert "period-balanced" in summary.line()
    run = store.query("select n_docs, n_clustered, sampling from topic_runs").iloc[0]
    sampling = json.loads(run["sampling"])
    assert sampling["rule"] == "period_balanced" and sampling["clustered"] == run["n_clustered"]
    early = [g for g in sampling["groups"] if g["period"] < "2010"]
    assert all(g["clustered"] == g["papers"] for g in early)

    placed = store.query("select paper_id, topic_id, method from paper_topics")
    assert len(placed) == len(decades)  # every paper has a row, clustered or placed
    assert set(placed["method"]) <= {"fit", "outlier_reduction", "placed"}
    assert (placed["method"] == "placed").sum() == len(decades) - run["n_clustered"]
    topics = placed.merge(decades[["paper_id", "theme", "year"]], on="paper_id")
    real = topics[topics["topic_id"] != -1]

    def topic_of(theme):
        """The topic most of a theme's papers are in, and the share of its papers in it."""
        mine = real[real["theme"] == theme]
        best = mine["topic_id"].value_counts().idxmax()
        purity = (real[real["topic_id"] == best]["theme"] == theme).mean()
        return int(best), purity

    # the 18 speech papers of 2000-2005 keep a topic of their own (a fit on all 2,358 papers
    # needs 24 for a topic and leaves them outliers)
    speech, purity = topic_of("speech")
    assert purity > 0.9 and (real["theme"] == "speech").sum() >= 15
    proteins, purity = topic_of("proteins")
    assert purity > 0.9

    build_marts(store)
    first = store.query(
        "select topic_id, min(year(period_start)) as born, max(year(period_start)) as last"
        " from topic_shares where papers > 0 group by topic_id"
    ).set_index("topic_id")
    assert first.loc[proteins, "born"] == 2021
    assert first.loc[speech, "born"] == 2000 and first.loc[speech, "last"] == 2005

    # the papers placed beside the sample are not new to the fit: an update has nothing to do
    assert place_new_papers(store, "syn").mode == "current"


def test_migration_013_keeps_every_paper_topic_and_allows_placed(tmp_path, monkeypatch):
    from pipeline.store import db, open_writer
    from pipeline.store.sqlfiles import schema_migrations

    before = [m for m in schema_migrations() if m[0] < 13]
    monkeypatch.setattr(db, "schema_migrations", lambda: before)
    path = tmp_path / "old.duckdb"
    with open_writer(path) as old:
        old.execute(
            "insert into paper_topics values ('fit-1', 'p1', 0, 0.9, 'fit', now()),"
            " ('fit-1', 'p2', -1, 0.1, 'outlier_reduction', now())"
        )
        with pytest.raises(Exception, match="CHECK"):
            old.execute("insert into paper_topics values ('fit-1', 'p3', 0, 0.5, 'placed', now())")
    monkeypatch.undo()
    with open_writer(path) as new:
        rows = new.query("select paper_id, method from paper_topics order by paper_id")
        assert rows.values.tolist() == [["p1", "fit"], ["p2", "outlier_reduction"]]
        new.execute("insert into paper_topics values ('fit-1', 'p3', 0, 0.5, 'placed', now())")
        with pytest.raises(Exception, match=r"(?i)duplicate|primary key"):
            new.execute("insert into paper_topics values ('fit-1', 'p3', 0, 0.5, 'fit', now())")
        assert new.table_exists("paper_topics") and not new.table_exists("paper_topics_rebuilt")
