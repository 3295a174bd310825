"""Themes file, membership rule, calibration per model and storage (no model: a fake embedder)."""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.config import REPO_ROOT, EmbeddingBackend
from pipeline.embedders import MODEL_NAMES
from pipeline.failures import FailureKind, classify
from pipeline.theme_rules import calibration_path, calibration_toml, load_calibration
from pipeline.themes import (
    Theme,
    ThemeCalibrationError,
    ThemeFileError,
    assign_themes,
    calibrate_models,
    calibrate_rule,
    calibration_table,
    for_model,
    join_parts,
    load_themes,
    score_papers,
    score_rule,
    strong_floor,
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


@pytest.mark.parametrize("model", sorted(MODEL_NAMES.values()))
def test_every_backend_ships_a_calibration_of_every_theme(model):
    themes = load_themes(REPO_ROOT / "themes" / "themes.toml")
    calibration = load_calibration(calibration_path(REPO_ROOT / "themes" / "themes.toml"))
    assert set(calibration.models[model].themes) == {t.id for t in themes}
    for t in for_model(themes, model):
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


def test_thresholds_in_the_themes_file_are_refused_with_where_they_live(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[[theme]]\nid = "x"\nname = "X"\nseeds = ["a"]\nthreshold = 0.3\n')
    with pytest.raises(ThemeFileError, match=r"theme x: threshold: .* mine\.calibration\.toml"):
        load_themes(path)
    path.write_text(
        '[defaults]\nthreshold_strong = 0.5\n[[theme]]\nid = "x"\nname = "X"\nseeds = ["a"]\n'
    )
    with pytest.raises(ThemeFileError, match="theme x: threshold_strong"):
        load_themes(path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[model."m"]\ndefault = { threshold = 0.6, threshold_strong = 0.5 }\n',
            "model m: default: .*above",
        ),
        ('[model."m"]\nbackend = "b"\n', "model m: default: Field required"),
        (
            '[model."m"]\ndefault = { threshold = 0.3, threshold_strong = 0.5 }\nthemes = { x = { threshold = 2, threshold_strong = 2 } }\n',
            "model m: themes.x.threshold",
        ),
        ("[model\n", "not valid TOML"),
        ("model = 3\n", "expected \\[model"),
    ],
)
def test_bad_calibration_files_name_the_file_and_the_model(tmp_path, body, message):
    (tmp_path / "themes.toml").write_text('[[theme]]\nid = "x"\nname = "X"\nseeds = ["a"]\n')
    (tmp_path / "themes.calibration.toml").write_text(body)
    with pytest.raises(ThemeFileError, match=message) as caught:
        load_themes(tmp_path / "themes.toml")
    assert "themes.calibration.toml" in str(caught.value) and "\n" not in str(caught.value)


def _calibrated_file(tmp_path: Path) -> Path:
    """Two themes; model "wide" calibrates both, model "narrow" one (the other: its default)."""
    path = tmp_path / "themes.toml"
    path.write_text(
        '[[theme]]\nid = "pruning"\nname = "Pruning"\nseeds = ["pruning sparse networks"]\n'
        'keywords = ["pruning"]\n'
        '[[theme]]\nid = "diffusion"\nname = "Diffusion"\nseeds = ["denoising diffusion"]\n'
        'keywords = ["diffusion"]\n'
    )
    calibration_path(path).write_text(
        '[model."wide"]\nbackend = "w"\ndefault = { threshold = 0.5, threshold_strong = 0.9 }\n'
        '[model."wide".themes]\n'
        "pruning = { threshold = 0.10, threshold_strong = 0.30 }\n"
        "diffusion = { threshold = 0.10, threshold_strong = 0.30 }\n"
        '[model."narrow"]\ndefault = { threshold = 0.95, threshold_strong = 0.99 }\n'
        '[model."narrow".themes]\n'
        "pruning = { threshold = 0.95, threshold_strong = 0.99 }\n"
    )
    return path


def test_each_model_gets_its_own_thresholds_and_others_are_refused(tmp_path):
    themes = load_themes(_calibrated_file(tmp_path))
    wide = for_model(themes, "wide")
    assert [(t.threshold, t.threshold_strong) for t in wide] == [(0.10, 0.30), (0.10, 0.30)]
    narrow = for_model(themes, "narrow")  # diffusion is not listed: the model's default
    assert [(t.threshold, t.threshold_strong) for t in narrow] == [(0.95, 0.99), (0.95, 0.99)]
    with pytest.raises(ThemeCalibrationError) as caught:
        for_model(themes, "static-ish")
    line = str(caught.value)
    assert "\n" not in line and "static-ish" in line
    assert "calibrates wide (w), narrow" in line and "trends --backend" in line
    # the DAGs fail it at once as bad input, in one line
    failure = classify(caught.value)
    assert failure.kind is FailureKind.input and failure.line.startswith("ThemeCalibrationError")
    # without a calibration file no model is calibrated
    calibration_path(tmp_path / "themes.toml").unlink()
    with pytest.raises(ThemeCalibrationError, match=r"no .*themes\.calibration\.toml"):
        for_model(load_themes(tmp_path / "themes.toml"), "wide")
    # a theme built in code keeps the thresholds it was given, for any model
    coded = Theme(id="t", name="T", seeds=["s"], threshold=0.2, threshold_strong=0.4)
    assert for_model([coded], "anything") == [coded]


def test_the_calibration_file_round_trips(tmp_path):
    path = _calibrated_file(tmp_path)
    calibration = load_calibration(calibration_path(path))
    again = tmp_path / "again.toml"
    again.write_text(calibration_toml(calibration))
    assert load_calibration(again).models == calibration.models


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


def _papers(store, rows, models=("fake",)):
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

    for model in models:
        store.register_arrow(
            "te",
            pa.table(
                {
                    "paper_id": [r[0] for r in rows],
                    "model": [model] * len(rows),
                    "content_hash": [r[0] for r in rows],
                    "embedding": pa.array(vecs.tolist(), pa.list_(pa.float32())),
                }
            ),
        )
        store.execute("insert into paper_embeddings select *, now() from te")
        store.unregister("te")


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


PAPERS = [
    ("p1", "pruning sparse networks", "magnitude pruning of weights"),
    ("p2", "diffusion models", "denoising diffusion for images"),
    ("p3", "graph theory", "cliques in random graphs"),
    ("p4", "pruning", "graph pruning heuristics for search"),
]


def test_assign_themes_scores_with_the_fits_models_thresholds_and_refuses_others(store, tmp_path):
    _papers(store, PAPERS, models=("wide", "narrow", "static-ish"))
    themes = load_themes(_calibrated_file(tmp_path))
    fake = FakeEmbedder()
    wide = assign_themes(store, themes, "wide", lambda: fake)
    narrow = assign_themes(store, themes, "narrow", lambda: fake)
    # same vectors, same rule: only the model's thresholds differ
    assert wide.members["pruning"] >= 2 and wide.members["diffusion"] >= 1
    assert narrow.members == {"pruning": 0, "diffusion": 0}
    stored = store.query("select theme_id, threshold, threshold_strong from themes order by 1")
    assert stored.values.tolist() == [["diffusion", 0.95, 0.99], ["pruning", 0.95, 0.99]]
    before = store.query("select * from paper_themes order by all")
    calls = fake.calls
    with pytest.raises(ThemeCalibrationError, match="model static-ish"):
        assign_themes(store, themes, "static-ish", lambda: fake)
    assert fake.calls == calls  # refused before any work: no model loaded, tables as they were
    pd.testing.assert_frame_equal(store.query("select * from paper_themes order by all"), before)


def test_calibration_keeps_the_strong_threshold_above_the_stores_floor():
    sims = np.array([0.9, 0.85, 0.5, 0.45, 0.3, 0.2])
    evidence = np.array([False, False, False, True, True, False])
    labels = np.array([True, True, False, True, False, False])
    free = calibrate_rule(sims, evidence, labels)
    assert free.f1 == 1.0 and free.threshold_strong <= 0.85  # similarity alone admits p1, p2
    held = calibrate_rule(sims, evidence, labels, strong_floor=0.88)
    assert held.threshold_strong >= 0.88 and held.recall < 1.0
    # the floor: the lowest 0.01 step that at most 1% of the store's papers reach
    store_sims = np.linspace(0.0, 0.99, 1000)
    floor = strong_floor(store_sims)
    assert (store_sims >= floor).mean() <= 0.01 and (store_sims >= floor - 0.01).mean() > 0.01
    assert strong_floor(np.array([])) == -1.0


def test_calibration_table_scores_an_uncalibrated_model_only_at_its_best(tmp_path):
    themes = load_themes(_calibrated_file(tmp_path))
    fake = FakeEmbedder()
    texts = {p: f"{t} {a}" for p, t, a in PAPERS}
    embeddings = dict(zip(texts, fake.encode(list(texts.values())), strict=True))
    vectors = np.stack([fake.encode([" ".join(t.seeds)])[0] for t in themes])
    labelled = pd.DataFrame(
        {
            "theme_id": ["pruning"] * 4 + ["diffusion"] * 4,
            "paper_id": ["p1", "p2", "p3", "p4"] * 2,
            "label": [1, 0, 0, 1, 0, 1, 0, 0],
        }
    )
    sample = (np.stack(list(embeddings.values())), list(texts.values()))
    known = calibration_table(themes, "wide", labelled, embeddings, texts, vectors, sample)
    assert known["threshold"].tolist() == [0.10, 0.10] and known["f1"].notna().all()
    assert known["share"].between(0, 1).all()
    unknown = calibration_table(themes, "other", labelled, embeddings, texts, vectors, sample)
    assert unknown["threshold"].isna().all() and unknown["f1"].isna().all()
    assert (unknown["best_f1"] == 1.0).all()


def test_calibrate_models_reports_each_model_and_calibrates_the_missing_one(store, tmp_path):
    _papers(store, PAPERS, models=("wide", "static-ish"))
    themes = load_themes(_calibrated_file(tmp_path))
    labelled = pd.DataFrame(
        {"theme_id": ["pruning"] * 3, "paper_id": ["p1", "p4", "p2"], "label": [1, 1, 0]}
    )
    fake = FakeEmbedder()
    models = {"w": "wide", "s": "static-ish", "none": "never-embedded"}
    report = calibrate_models(store, themes, labelled, models, lambda b: fake, today="2026-12-04")
    assert sorted(report.table["backend"].unique()) == ["s", "w"]
    lines = "\n".join(report.lines)
    assert "none (never-embedded): none of the 3 labelled rows" in lines
    assert "s (static-ish): 3 of 3 labelled rows in the store; not calibrated" in lines
    assert "w (wide): 3 of 3 labelled rows in the store; mean F1 " in lines
    written = report.calibration
    assert set(written.models) == {"wide", "narrow", "static-ish"}
    static = written.models["static-ish"]
    assert static.backend == "s" and static.calibrated.startswith("2026-12-04")
    # written and read back, static-ish is calibrated: analyze would score with it now
    path = calibration_path(tmp_path / "themes.toml")
    path.write_text(calibration_toml(written))
    [pruning, _] = for_model(load_themes(tmp_path / "themes.toml"), "static-ish")
    assert pruning.threshold == static.themes["pruning"].threshold
    with pytest.raises(ValueError, match="none of the 3 labelled papers is embedded"):
        calibrate_models(store, themes, labelled, {"none": "never-embedded"}, lambda b: fake)


@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    """A home whose store holds the toy papers embedded as `static` makes them, a static fit,
    and a themes file whose calibration covers `onnx` only; no model is ever loaded."""
    from conftest import seed_toy_fit

    import pipeline.embedders
    from pipeline.store import open_writer

    static = MODEL_NAMES[EmbeddingBackend.static]
    onnx = MODEL_NAMES[EmbeddingBackend.onnx]
    home = tmp_path / "home"
    with open_writer(home / "work" / "trends.duckdb") as store:
        _papers(store, PAPERS, models=(static, onnx))
        seed_toy_fit(store, [(f"q{i}", "arxiv", "2025-01-01", 0) for i in range(3)])
        store.execute("update topic_runs set model = ?", [static])
    themes = _calibrated_file(tmp_path)
    body = calibration_path(themes).read_text().replace('"wide"', f'"{onnx}"')
    calibration_path(themes).write_text(body)
    monkeypatch.setenv("TRENDS_THEMES_FILE", str(themes))
    monkeypatch.delenv("TRENDS_EMBEDDING_BACKEND", raising=False)
    monkeypatch.setattr(pipeline.embedders, "make_embedder", lambda *a, **k: FakeEmbedder())
    labels = tmp_path / "labels.csv"
    labels.write_text("theme_id,paper_id,label\npruning,p1,1\npruning,p4,1\npruning,p2,0\n")
    return home, themes, labels


def test_cli_calibrate_reports_each_backend_and_writes_the_missing_one(cli_home):
    from typer.testing import CliRunner

    from pipeline.cli import app

    home, themes, labels = cli_home
    args = ["--home", str(home), "themes", "calibrate", "--labels", str(labels)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [r for r in result.output.splitlines() if r.startswith("│") and "pruning" in r]
    assert [r.split("│")[1].strip() for r in rows] == ["onnx", "static"]
    assert "minilm (all-MiniLM-L6-v2): none of the 3 labelled rows" in result.output
    assert "static (all-MiniLM-L6-v2-m2v256-v1): 3 of 3 labelled rows in the store; not" in (
        result.output
    )
    written = CliRunner().invoke(
        app, ["--home", str(home), "--backend", "static", *args[2:], "--write"]
    )
    assert written.exit_code == 0, written.output
    assert "wrote the best thresholds of static to" in written.output
    models = load_calibration(calibration_path(themes)).models
    static, onnx = MODEL_NAMES[EmbeddingBackend.static], MODEL_NAMES[EmbeddingBackend.onnx]
    assert set(models) == {onnx, "narrow", static}  # the others kept as they were
    assert models[onnx].themes["pruning"].threshold == 0.10


def test_cli_analyze_with_an_uncalibrated_backend_is_one_line(cli_home):
    from typer.testing import CliRunner

    from pipeline.cli import app

    home, themes, _ = cli_home
    result = CliRunner().invoke(app, ["--home", str(home), "analyze"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert f"not calibrated for embedding model {MODEL_NAMES[EmbeddingBackend.static]}" in lines[0]
    assert str(calibration_path(themes)) in lines[0]
