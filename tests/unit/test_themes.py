"""Themes file, membership rule, calibration and storage (no model: a fake embedder)."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from pipeline.config import REPO_ROOT
from pipeline.themes import (
    Theme,
    ThemeFileError,
    assign_themes,
    calibrate_rule,
    join_parts,
    load_themes,
    score_papers,
    score_rule,
)


class FakeEmbedder:
    """Deterministic bag-of-words vectors: texts sharing words are similar."""

    name = "fake"
    dim = 64

    def __init__(self):
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                h = int(hashlib.md5(word.encode(), usedforsecurity=False).hexdigest(), 16)
                out[i, h % self.dim] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_default_themes_file_is_valid_and_has_the_named_themes():
    themes = load_themes(REPO_ROOT / "themes" / "themes.toml")
    ids = {t.id for t in themes}
    assert {"rl-finance", "network-pruning", "diffusion-models"} <= ids
    assert len(themes) >= 8
    for t in themes:
        assert t.seeds and t.keyword_pattern() is not None
        assert t.threshold <= t.threshold_strong


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[theme]]\nid = "x"\nname = "X"\nseeds = []\n', "theme x"),
        (
            '[[theme]]\nid = "x"\nname = "X"\nseeds = ["a"]\nkeywords = ["(unclosed"]\n',
            "not a valid regular",
        ),
        ('[[theme]]\nid = "Bad Id!"\nname = "X"\nseeds = ["a"]\n', "theme Bad Id!"),
        (
            '[[theme]]\nid = "x"\nname = "X"\nseeds = ["a"]\n[[theme]]\nid = "x"\nname = "Y"\nseeds = ["b"]\n',
            "duplicate",
        ),
        ("[[theme]\n", "not valid TOML"),
        (  # RE2 rejects look-behind: refused, never run by Python's backtracking `re`
            '[[theme]]\nid = "x"\nname = "X"\nseeds = ["a"]\nkeywords = ["(?<!non-)convex"]\n',
            "keywords: keyword '.*non-.convex' cannot be matched by RE2",
        ),
    ],
)
def test_bad_themes_files_name_the_theme_and_the_reason(tmp_path, body, message):
    path = tmp_path / "themes.toml"
    path.write_text(body)
    with pytest.raises(ThemeFileError, match=message.replace("(", r"\(")):
        load_themes(path)


def test_missing_themes_file(tmp_path):
    with pytest.raises(ThemeFileError, match="no themes file"):
        load_themes(tmp_path / "nope.toml")


def test_evidence_needs_a_keyword_and_a_required_term():
    theme = Theme(
        id="rl-finance",
        name="RL finance",
        seeds=["rl trading"],
        keywords=["trading", "portfolios?"],
        require=["reinforcement learning", "rl"],
    )
    assert theme.has_evidence("Deep reinforcement learning for portfolio management")
    assert not theme.has_evidence("Portfolio optimisation with convex programs")
    assert not theme.has_evidence("Reinforcement learning for robot control")
    assert not theme.has_evidence("Tradings of the RL kind")  # word boundaries


def test_score_papers_applies_both_thresholds():
    theme = Theme(
        id="t", name="T", seeds=["s"], keywords=["pruning"], threshold=0.3, threshold_strong=0.8
    )
    vectors = np.array([[1.0, 0.0]], dtype=np.float32)
    emb = np.array([[0.9, 0.436], [0.5, 0.866], [0.5, 0.866], [0.1, 0.995]], dtype=np.float32)
    texts = ["no keyword", "about pruning", "nothing", "pruning again"]
    scores = score_papers(["a", "b", "c", "d"], texts, emb, [theme], vectors)
    assert scores["is_member"].tolist() == [True, True, False, False]
    assert scores["keyword_hit"].tolist() == [False, True, False, True]


def test_score_papers_uses_the_same_evidence_as_calibration():
    # `require` used to be checked by calibration only: scoring took any keyword as evidence
    theme = Theme(
        id="rl-finance", name="RL finance", seeds=["s"], keywords=["trading"],
        require=["reinforcement learning"], threshold=0.3, threshold_strong=0.9,
    )  # fmt: skip
    texts = ["Reinforcement learning for trading", "Trading with linear models"]
    emb = np.array([[0.5, 0.866], [0.5, 0.866]], dtype=np.float32)
    scores = score_papers(["a", "b"], texts, emb, [theme], np.array([[1.0, 0.0]], np.float32))
    assert scores["keyword_hit"].tolist() == [True, False]
    assert scores["is_member"].tolist() == [True, False]


@pytest.mark.parametrize(
    ("keywords", "text", "expected"),
    [
        (["prun\\w*"], "Structured PRUNING of LLMs", True),
        (["prun\\w*"], "unpruned networks", False),  # word boundary before the keyword
        (["lottery tickets?"], "the lottery ticket hypothesis", True),
        (["diffusion"], "Diffusion-based sampling", True),
        (["diffusion"], "diffusions", False),
        (["denois\\w*"], "", False),
    ],
)
def test_evidence_matches_pythons_re(keywords, text, expected):
    theme = Theme(id="t", name="T", seeds=["s"], keywords=keywords)
    assert theme.has_evidence(text) is expected
    assert bool(theme.keyword_pattern().search(text)) is expected
    many = theme.evidence([text, "nothing here", text])
    assert many.tolist() == [expected, False, expected]


def test_the_join_is_split_so_each_part_fits_the_memory_limit():
    assert join_parts(2_500, 19 * 1024**3) == 1
    assert join_parts(1_000_000, 256 * 1000**2) == 32
    assert join_parts(0, 64 * 1024**2) == 1
    assert join_parts(10, 1) == 10  # never less than one paper per part


def test_score_rule_and_calibration():
    sims = np.array([0.9, 0.6, 0.5, 0.45, 0.3, 0.2])
    evidence = np.array([True, True, False, True, True, False])
    labels = np.array([True, True, False, True, False, False])
    s = score_rule(sims, evidence, labels, 0.4, 0.8)
    assert (s.precision, s.recall, s.f1) == (1.0, 1.0, 1.0)
    loose = score_rule(sims, evidence, labels, 0.2, 0.8)
    assert loose.precision == pytest.approx(3 / 4) and loose.recall == 1.0
    best = calibrate_rule(sims, evidence, labels)
    assert best.f1 == 1.0 and 0.3 < best.threshold <= 0.45


def _papers(store, rows):
    frame = pd.DataFrame(rows, columns=["paper_id", "title", "abstract"])
    store.register("tp", frame)
    store.execute(
        "insert into papers (paper_id, source, title, abstract, date_precision, content_hash,"
        " first_run_id, last_run_id, ingested_at, updated_at)"
        " select paper_id, 'x', title, abstract, 'unknown', paper_id, 'r', 'r', now(), now() from tp"
    )
    fake = FakeEmbedder()
    vecs = fake.encode([f"{t} {a}" for _, t, a in rows])
    import pyarrow as pa

    store.register_arrow(
        "te",
        pa.table(
            {
                "paper_id": [r[0] for r in rows],
                "model": ["fake"] * len(rows),
                "content_hash": [r[0] for r in rows],
                "embedding": pa.array(vecs.tolist(), pa.list_(pa.float32())),
            }
        ),
    )
    store.execute("insert into paper_embeddings select *, now() from te")


def test_assign_themes_stores_every_pair_and_caches_vectors(store, monkeypatch):
    _papers(
        store,
        [
            ("p1", "pruning sparse networks", "magnitude pruning of weights"),
            ("p2", "diffusion models", "denoising diffusion for images"),
            ("p3", "graph theory", "cliques in random graphs"),
        ],
    )
    themes = [
        Theme(
            id="pruning",
            name="Pruning",
            seeds=["pruning sparse networks weights"],
            keywords=["pruning"],
        ),
        Theme(
            id="diffusion",
            name="Diffusion",
            seeds=["denoising diffusion models"],
            keywords=["diffusion"],
        ),
    ]
    fake = FakeEmbedder()
    summary = assign_themes(store, themes, "fake", lambda: fake)
    assert summary.members == {"pruning": 1, "diffusion": 1}
    rows = store.query("select theme_id, paper_id, is_member from paper_themes order by all")
    assert len(rows) == 6
    assert set(rows[rows.is_member].paper_id) == {"p1", "p2"}
    calls = fake.calls
    assign_themes(store, themes, "fake", lambda: fake)  # cached vectors: no model needed
    assert fake.calls == calls
    assert store.scalar("select count(*) from paper_themes") == 6  # replaced, not appended
    # editing a theme's seeds recomputes only that theme's vector
    themes[0] = Theme(id="pruning", name="Pruning", seeds=["sparse pruning"], keywords=["pruning"])
    assign_themes(store, themes, "fake", lambda: fake)
    assert fake.calls == calls + 1
    # scoring from a join split in parts gives the same rows
    before = store.query("select * from paper_themes order by all")
    monkeypatch.setattr("pipeline.themes.JOIN_BYTES_PER_PAPER", store.memory_limit_bytes())
    assign_themes(store, themes, "fake", lambda: fake)
    pd.testing.assert_frame_equal(store.query("select * from paper_themes order by all"), before)
    # removing a theme removes its rows
    assign_themes(store, themes[:1], "fake", lambda: fake)
    assert store.query("select distinct theme_id from paper_themes")["theme_id"].tolist() == [
        "pruning"
    ]
