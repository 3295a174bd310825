"""The About page's quality statement: the length rule, the references, the warning (issue 24)."""

import pytest
from conftest import TOY_ROWS, seed_toy_fit

import pipeline.report.fit_quality as fq
from pipeline.failures import FailureKind, classify
from pipeline.report.fit_quality import (
    QualityReference,
    judge_fit,
    load_quality_reference,
)
from pipeline.report.site import render_site
from pipeline.trends import build_marts

SCORES = {"npmi": 0.05, "diversity": 0.9, "outliers": 0.3, "topics": 40}
REFERENCE = QualityReference.model_validate(
    {
        "length": [
            {"name": "abstracts", "max_median_words": 10_000, "low_npmi": 0.10},
            {"name": "titles", "max_median_words": 30, "low_npmi": -0.10},
        ],
        "reference": [
            {
                "corpus": "arXiv titles",
                "sources": ["arxiv"],
                "length": "titles",
                "model": "m",
                "docs": 2000,
                "fits": 1,
                "plain": SCORES,
                "product": {**SCORES, "npmi": 0.07},
                "measured": "today",
            }
        ],
    }
)


@pytest.mark.parametrize(
    ("npmi", "words", "length", "low"),
    [
        (-0.05, 10, "titles", False),  # titles score lower: -0.05 is fine for titles
        (-0.05, 150, "abstracts", True),  # ... and low for abstracts
        (-0.15, 10, "titles", True),
        (0.12, 150, "abstracts", False),
        (None, 150, "abstracts", False),  # no NPMI (a fit without topics): nothing to judge
        (float("nan"), 10, "titles", False),
    ],
)
def test_the_floor_depends_on_the_corpus_length(npmi, words, length, low):
    judged = judge_fit(npmi, 2000, words, ["arxiv"], REFERENCE)
    assert judged.length.name == length
    assert judged.low is low
    assert bool(judged.warning) is low
    if low:
        assert f"{judged.length.low_npmi:.3f}" in judged.warning and length in judged.warning


def test_references_match_the_same_sources_and_length_only():
    assert [r.corpus for r in judge_fit(0.1, 9, 10, ["arxiv"], REFERENCE).references] == [
        "arXiv titles"
    ]
    assert judge_fit(0.1, 9, 150, ["arxiv"], REFERENCE).references == []  # abstracts
    mixed = judge_fit(0.1, 9, 10, ["arxiv", "conf"], REFERENCE)  # known: arxiv alone
    assert mixed.partial and [r.corpus for r in mixed.references] == ["arXiv titles"]
    assert judge_fit(0.1, 9, 10, ["conf"], REFERENCE).references == []
    assert not judge_fit(0.1, 9, 10, ["arxiv"], REFERENCE).partial
    assert judge_fit(0.1, 9, None, ["arxiv"], REFERENCE).length is None


def test_the_shipped_reference_states_a_floor_per_length_and_titles_lowest():
    shipped = load_quality_reference()
    by_words = sorted(shipped.length, key=lambda c: c.max_median_words)
    assert len(by_words) >= 2 and by_words[0].max_median_words < 50
    assert by_words[0].low_npmi < by_words[-1].low_npmi  # titles score lower
    for length in shipped.length:  # the rule: the lowest plain BERTopic reached on that length
        measured = [r.plain.npmi for r in shipped.reference if r.length == length.name]
        assert measured and length.low_npmi == pytest.approx(min(measured), abs=1e-9)


def test_a_broken_reference_file_is_one_line(tmp_path):
    path = tmp_path / "q.toml"
    path.write_text("[[length]]\nname = 'x'\n")
    with pytest.raises(ValueError, match=r"quality reference .*q\.toml") as caught:
        load_quality_reference(path)
    assert "\n" not in str(caught.value)
    # a DAG's report task fails it at once as bad input, not as a code error
    assert classify(caught.value).kind is FailureKind.input
    with pytest.raises(ValueError, match="No such file"):
        load_quality_reference(tmp_path / "missing.toml")


def _about(store, tmp_path, name: str) -> str:
    render_site(store, tmp_path / name)
    return (tmp_path / name / "about.html").read_text()


def test_about_page_warns_when_npmi_is_low_and_shows_the_reference(store, tmp_path, monkeypatch):
    reference = tmp_path / "reference.toml"
    reference.write_text(
        "[[length]]\nname = 'titles'\nmax_median_words = 30\nlow_npmi = -0.1\n"
        "[[reference]]\ncorpus = '<b>toy</b> titles'\nsources = ['arxiv', 'conf']\n"
        "length = 'titles'\nmodel = 'm'\ndocs = 2000\nfits = 3\nmeasured = 'today'\n"
        "plain = { npmi = -0.02, diversity = 0.8, outliers = 0.35, topics = 30 }\n"
        "product = { npmi = 0.01, diversity = 0.9, outliers = 0.04, topics = 25 }\n"
    )
    monkeypatch.setattr(fq, "REFERENCE_FILE", reference)
    seed_toy_fit(store, TOY_ROWS)  # "Paper p01 Abstract of p01.": 5 words a paper
    store.execute("update topic_runs set npmi = -0.25, diversity = 0.7")
    build_marts(store)
    low = _about(store, tmp_path, "low")
    assert "Low coherence for this corpus" in low and "NPMI -0.250) is below -0.100" in low
    assert "median of 5 words (<i>titles</i>: a fit below NPMI -0.100 is low" in low
    assert low.count("Measured today") == 1
    assert "Plain BERTopic, &lt;b&gt;toy&lt;/b&gt; titles (2,000 papers)</th><td>-0.020" in low
    assert "<b>toy</b>" not in low  # escaped like every other text
    assert "This product, same 2,000 papers</th><td>0.010</td><td>0.900</td><td>4.0%" in low
    assert "each of them alone" not in low
    store.execute("update topic_runs set npmi = 0.05")
    fine = _about(store, tmp_path, "fine")
    assert "Low coherence" not in fine and "<th>This fit (15 papers)</th><td>0.050" in fine
    store.execute("update papers set source = 'arxiv' where source = 'conf'")
    part = _about(store, tmp_path, "part")  # arxiv alone: the reference measured both together
    assert "No measurement of plain BERTopic" in part and "Plain BERTopic" not in part
    store.execute("update papers set source = 'other' where paper_id like 'c%'")
    unknown = _about(store, tmp_path, "unknown")
    assert "No measurement of plain BERTopic on a corpus like this one" in unknown
