"""Unit tests for pipeline.normalize: text cleaning, arXiv ids, versions, dates, hashes."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.normalize import (
    clean_text,
    content_hash,
    paper_key,
    parse_arxiv_id,
    parse_date,
    parse_version,
)

# --------------------------------------------------------------------------------------------
# clean_text
# --------------------------------------------------------------------------------------------


def test_clean_text_unwraps_hard_wrapped_lines():
    # An OAI-PMH style title: wrapped with a newline and an indented continuation line.
    raw = "Dynamics of the  Early Universe:\n  a Numerical\r\nStudy\tof Inflation\n"
    assert clean_text(raw) == "Dynamics of the Early Universe: a Numerical Study of Inflation"


def test_clean_text_removes_cid_debris_and_soft_hyphens():
    raw = "a computer simulation of piri(cid:173) form (olfactory) cortex"
    assert clean_text(raw) == "a computer simulation of piri form (olfactory) cortex"
    assert clean_text("(cid:2)(cid:13)learning") == "learning"
    assert clean_text("repre\u00adsen\u00adtation") == "representation"
    assert "cid" not in clean_text("x (cid:0) y (cid:123456) z")


def test_clean_text_applies_nfc():
    decomposed = "Erd\u006f\u0308s and Cafe\u0301"  # o + combining diaeresis, e + acute
    out = clean_text(decomposed)
    assert out == "Erd\u00f6s and Caf\u00e9"
    assert unicodedata.is_normalized("NFC", out)


@pytest.mark.parametrize(
    "latex",
    [
        "$x^2$",
        "\\emph{a}",
        "$\\mathcal{O}(n \\log n)$",
        "\\textbf{bold} and $\\alpha_{i,j}$",
        "$a_1 + b_{2}$",
    ],
)
def test_clean_text_keeps_latex_intact(latex):
    assert clean_text(f"We show {latex} holds.") == f"We show {latex} holds."


def test_clean_text_keeps_latex_across_a_wrapped_line():
    assert clean_text("the bound $x^2\n+ y^2$ holds") == "the bound $x^2 + y^2$ holds"


def test_clean_text_keeps_the_hyphen_at_a_hyphenated_line_break():
    # In the real OAI-PMH pages ~19 of 21 breaks after a hyphen are compounds ("long-\nterm"),
    # so the hyphen stays and only the break goes; a rare split word keeps a stray hyphen.
    assert clean_text("long-\nterm memory") == "long-term memory"
    assert clean_text("the Cau-\nchy problem") == "the Cau-chy problem"


def test_clean_text_keeps_hyphen_without_line_break():
    assert clean_text("state-of-the-art self-supervised") == "state-of-the-art self-supervised"


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        # arXiv OAI-PMH listrecords_page_4.xml: a redshift range wrapped after its dash.
        ("observations of 11 moderately high-redshift (z~0.7-\n1.0) clusters", "0.7-"),
        # arXiv OAI-PMH listrecords_page_3.xml: a minus sign in LaTeX wrapped after the sign.
        ("the particular toric problem $Z^c-\nX_1^{a_1}$ is", "Z^c-"),
    ],
)
def test_clean_text_hyphen_join_does_not_corrupt_numbers_or_latex(raw, kept):
    # Joining across "-\n" is only right for a word the wrapper split; a dash or minus between
    # numbers / math symbols must survive, or "0.7-1.0" silently becomes "0.71.0".
    assert kept in clean_text(raw)


def test_clean_text_empty_and_whitespace_only():
    assert clean_text("") == ""
    assert clean_text(" \n\t \r\n ") == ""
    assert clean_text("(cid:173)") == ""


# Fragments that exercise every rule of clean_text, mixed with arbitrary text.
_FRAGMENTS = st.sampled_from(
    [
        "a",
        "e",
        "Z",
        "7",
        " ",
        "  ",
        "\n",
        "\r\n",
        "\t",
        "\u2028",
        "\x0b",
        "-",
        "-\n",
        "(cid:173)",
        "(cid:",
        "1)",
        "\u00ad",
        "\u0301",
        "\u0308",
        "$x^2$",
        "\\emph{a}",
        "{",
        "}",
        "\u00e9",
        "\u00a0",
        "word",
        "hyper-\nparameter",
    ]
)
_TEXTS = st.one_of(st.text(max_size=80), st.lists(_FRAGMENTS, max_size=25).map("".join))


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
@example("hyper-\nparameter  (cid:173) tuning\t$x^2$ ")
@example("e\u00ad\u0301")  # debris between a letter and its combining accent
@example("(cid:(cid:173)173)")  # debris removal must not leave new debris behind
def test_clean_text_is_idempotent(text):
    once = clean_text(text)
    assert clean_text(once) == once


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_clean_text_output_shape(text):
    out = clean_text(text)
    assert "\n" not in out and "\r" not in out and "\t" not in out
    assert len(out.splitlines()) <= 1  # no line separator of any kind survives
    assert "  " not in out
    assert out == out.strip()


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
@example("Cafe\u0301")
@example("Cafe\u00ad\u0301")  # a soft hyphen between "e" and its accent
@example("Cafe(cid:173)\u0301")
def test_clean_text_output_is_nfc(text):
    assert unicodedata.is_normalized("NFC", clean_text(text))


# --------------------------------------------------------------------------------------------
# arXiv ids and paper keys
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2505.06482v2", ("2505.06482", 2)),
        ("2505.06482", ("2505.06482", None)),
        ("arXiv:2505.06482", ("2505.06482", None)),
        ("ARXIV:2505.06482v11", ("2505.06482", 11)),
        ("  arXiv:2505.06482v1 ", ("2505.06482", 1)),
        ("http://arxiv.org/abs/2505.06482v2", ("2505.06482", 2)),
        ("https://arxiv.org/abs/2505.06482", ("2505.06482", None)),
        ("https://arxiv.org/pdf/2505.06482v3.pdf", ("2505.06482", 3)),
        ("0704.0001", ("0704.0001", None)),  # 4-digit sequence (before 2015)
        ("hep-ph/0307015v3", ("hep-ph/0307015", 3)),
        ("hep-ph/0307015", ("hep-ph/0307015", None)),
        ("math.GT/0309136", ("math.GT/0309136", None)),
        ("arXiv:math.GT/0309136v2", ("math.GT/0309136", 2)),
        ("http://arxiv.org/abs/cond-mat/9901001v1", ("cond-mat/9901001", 1)),
    ],
)
def test_parse_arxiv_id_accepts_arxiv_forms(raw, expected):
    assert parse_arxiv_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "nips2019:abc123",
        "3dv2025:05T81ScPFb",
        "10.1145/3292500.3330701",
        "2505.064",  # too few digits
        "2505.06482v",  # dangling version marker
        "hep-ph/030701",  # old style needs 7 digits
        "",
        "arXiv:",
    ],
)
def test_parse_arxiv_id_rejects_other_ids(raw):
    assert parse_arxiv_id(raw) is None


def test_paper_key_for_arxiv_ids_is_versionless_and_prefixed():
    assert paper_key("2505.06482v2") == ("arxiv:2505.06482", 2)
    assert paper_key("arXiv:2505.06482") == ("arxiv:2505.06482", None)
    assert paper_key("http://arxiv.org/abs/2505.06482v5") == ("arxiv:2505.06482", 5)
    assert paper_key("hep-ph/0307015v3") == ("arxiv:hep-ph/0307015", 3)
    assert paper_key("math.GT/0309136") == ("arxiv:math.GT/0309136", None)
    # every form of the same paper gets the same key
    forms = ["2505.06482v1", "arXiv:2505.06482v2", "https://arxiv.org/abs/2505.06482"]
    assert {paper_key(f)[0] for f in forms} == {"arxiv:2505.06482"}


def test_paper_key_passes_non_arxiv_ids_through():
    assert paper_key("nips2019:abc123") == ("nips2019:abc123", None)
    assert paper_key("  3dv2025:05T81ScPFb  ") == ("3dv2025:05T81ScPFb", None)
    assert paper_key("10.1145/3292500.3330701") == ("10.1145/3292500.3330701", None)


# --------------------------------------------------------------------------------------------
# versions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("v3", 3),
        ("V12", 12),
        (3, 3),
        ("3", 3),
        (" v1 ", 1),
        ("v0", 0),
        (None, None),
        (float("nan"), None),
        ("", None),
        ("vx", None),
        ("3a", None),
        ("v-1", None),
        ("version 2", None),
    ],
)
def test_parse_version(raw, expected):
    assert parse_version(raw) == expected


# --------------------------------------------------------------------------------------------
# dates
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-05-10", (date(2025, 5, 10), "day")),
        ("2019", (date(2019, 1, 1), "year")),
        (2019, (date(2019, 1, 1), "year")),
        ("2019-07", (date(2019, 7, 1), "month")),
        ("2025-05-10T12:34:56Z", (date(2025, 5, 10), "day")),
        ("2025-05-10T23:59:59.123456+00:00", (date(2025, 5, 10), "day")),
        ("2025-05-10 00:54:12 UTC", (date(2025, 5, 10), "day")),  # published_ts format
        (" 2025-05-10 ", (date(2025, 5, 10), "day")),
        (date(2020, 2, 29), (date(2020, 2, 29), "day")),
        (datetime(2021, 3, 4, 5, 6, tzinfo=UTC), (date(2021, 3, 4), "day")),
        (pd.Timestamp("2022-01-31 10:00"), (date(2022, 1, 31), "day")),
        ("1900-01-01", (date(1900, 1, 1), "day")),
        ("2100-12-31", (date(2100, 12, 31), "day")),
    ],
)
def test_parse_date_reads_formats_with_precision(raw, expected):
    assert parse_date(raw) == expected


def test_parse_date_precision_hint_overrides_found_precision():
    # Conference rows carry YYYY-01-01 dates that are only year-precise.
    assert parse_date("2019-01-01", "year") == (date(2019, 1, 1), "year")
    assert parse_date("2019-07-01", "month") == (date(2019, 7, 1), "month")
    assert parse_date("2019", "day") == (date(2019, 1, 1), "day")
    # an unknown hint is ignored
    assert parse_date("2019-07-01", "decade") == (date(2019, 7, 1), "day")
    assert parse_date("2019-07-01", None) == (date(2019, 7, 1), "day")


@pytest.mark.parametrize("raw", [None, "", "   ", float("nan")])
def test_parse_date_absent_is_unknown(raw):
    assert parse_date(raw) == (None, "unknown")
    assert parse_date(raw, "year") == (None, "unknown")


def test_parse_date_nat_is_absent():
    # pandas' missing datetime must read as an absent date, not as an out-of-range one.
    assert parse_date(pd.NaT) == (None, "unknown")


@pytest.mark.parametrize(
    "raw",
    [
        "garbage",
        "yesterday",
        "Mon, 2 Apr 2007 19:18:42 GMT",
        "2025-13-01",
        "2025-02-30",
        "2025-13",
        "20250510x",
        "3000",
        "3000-01-01",
        "1899-12-31",
        "0000",
        "2101-01-01",
    ],
)
def test_parse_date_rejects_unreadable_or_out_of_range(raw):
    with pytest.raises(ValueError):
        parse_date(raw)


def test_parse_date_rejects_out_of_range_date_objects():
    with pytest.raises(ValueError):
        parse_date(date(3000, 1, 1))


# --------------------------------------------------------------------------------------------
# content_hash
# --------------------------------------------------------------------------------------------


def test_content_hash_is_stable_and_sensitive():
    h = content_hash("A title", "An abstract of the paper.")
    assert h == content_hash("A title", "An abstract of the paper.")
    assert len(h) == 32 and int(h, 16) >= 0
    assert h != content_hash("A title.", "An abstract of the paper.")
    assert h != content_hash("A title", "An abstract of the paper")
    assert h != content_hash("An abstract of the paper.", "A title")


def test_content_hash_separates_title_from_abstract():
    assert content_hash("ab", "c") != content_hash("a", "bc")
    assert content_hash("", "abc") != content_hash("abc", "")


def test_content_hash_known_value():
    # Pinned: a change of the hash function would mark every stored paper as updated.
    assert content_hash("t", "a") == "46a89c784598ea89a5b85ee9f391ce9c"
