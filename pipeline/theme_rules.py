"""The themes file and its calibration: read the TOML, validate, refuse what cannot be used.

A theme names seed phrases (its embedding) and keywords (its evidence in a paper's text). The
thresholds of the membership rule depend on the embedding model (a static model's cosines run
0.2-0.4 higher than MiniLM's), so they live per model in the calibration file next to the themes
file (``themes.toml`` -> ``themes.calibration.toml``); :func:`for_model` gives the themes with
one model's thresholds and refuses a model the file does not calibrate. :mod:`pipeline.themes`
scores papers with them.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ThemeFileError(ValueError):
    """The themes file cannot be used; the message names the theme and the field."""


class ThemeCalibrationError(ValueError):
    """Themes cannot be scored with an embedding model their calibration file does not cover."""


class Thresholds(BaseModel):
    """The two thresholds of the membership rule for one theme and one embedding model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(ge=-1, le=1)
    threshold_strong: float = Field(ge=-1, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.threshold > self.threshold_strong:
            raise ValueError(
                f"threshold {self.threshold} is above threshold_strong {self.threshold_strong}"
            )
        return self


class ModelCalibration(BaseModel):
    """One embedding model's thresholds: per theme, and a default for themes it does not list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = ""
    calibrated: str = ""  # when and how, for the reader
    default: Thresholds
    themes: dict[str, Thresholds] = Field(default_factory=dict)

    def thresholds(self, theme_id: str) -> Thresholds:
        """The theme's own thresholds, or the model's default for a theme added since."""
        return self.themes.get(theme_id, self.default)


class Calibration(BaseModel):
    """The calibration file: thresholds per embedding model name."""

    model_config = ConfigDict(frozen=True)

    path: Path
    models: dict[str, ModelCalibration] = Field(default_factory=dict)


class Theme(BaseModel):
    """One theme of the themes file."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    name: str = Field(min_length=1, max_length=120)
    description: str = ""
    seeds: list[str] = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    require: list[str] = Field(default_factory=list)
    # The thresholds in use. A theme built in code keeps the ones it is given for any model; one
    # read from a themes file carries its calibration and gets a model's with for_model().
    threshold: float = Field(0.30, ge=-1, le=1)
    threshold_strong: float = Field(0.55, ge=-1, le=1)
    calibration: Calibration | None = Field(None, exclude=True, repr=False)

    @field_validator("keywords", "require")
    @classmethod
    def _keywords_compile(cls, value: list[str]) -> list[str]:
        for kw in value:
            try:
                re.compile(kw)
            except re.error as exc:
                raise ValueError(
                    f"keyword {kw!r} is not a valid regular expression: {exc}"
                ) from None
            _check_re2(kw, f"keyword {kw!r}")
        if len(value) > 1:
            _check_re2(_any_of(value).pattern, "the keywords together")  # size limits
        return value

    @property
    def seeds_hash(self) -> str:
        """Changes when the seed phrases change (so cached vectors are recomputed)."""
        return hashlib.sha256("\x1f".join(self.seeds).encode()).hexdigest()[:16]

    def keyword_pattern(self) -> re.Pattern[str] | None:
        """One case-insensitive pattern matching any keyword on word boundaries."""
        return _any_of(self.keywords)

    def evidence(self, texts: Sequence[str] | pa.Array) -> np.ndarray:
        """Which texts name the theme: a keyword, and also a `require` term if any."""
        texts = texts if isinstance(texts, pa.Array) else pa.array(texts, pa.string())
        found = _matches(self.keyword_pattern(), texts)
        if self.require:
            found &= _matches(_any_of(self.require), texts)
        return found

    def has_evidence(self, text: str) -> bool:
        """:meth:`evidence` of one text."""
        return bool(self.evidence([text])[0])


def _any_of(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile(r"\b(?:" + "|".join(f"(?:{p})" for p in patterns) + r")\b", re.I)


def _check_re2(pattern: str, what: str) -> None:
    """Refuse a pattern Arrow's RE2 cannot compile, with RE2's reason.

    RE2 matches in time linear in the text, whatever the pattern. Python's ``re`` does not:
    a keyword such as ``(a+)+b(?=c)`` backtracks exponentially on a long run of ``a``, and
    one hostile abstract would stall the themes stage. So a keyword must be RE2 syntax (no
    look-arounds, no back-references, repetition counts up to 1,000), checked here when the
    themes file loads rather than found out mid-run.
    """
    try:
        pc.match_substring_regex(_EMPTY, pattern, ignore_case=True)
    except pa.ArrowInvalid as exc:
        reason = str(exc).removeprefix("Invalid regular expression: ")
        raise ValueError(
            f"{what} cannot be matched by RE2 ({reason}); keywords are RE2 syntax, matched in "
            "linear time: no look-arounds or back-references (a hostile text could make "
            "them backtrack without end)"
        ) from None


_EMPTY = pa.array([""], pa.string())


def _matches(pattern: re.Pattern[str] | None, texts: pa.Array) -> np.ndarray:
    """Which texts the pattern matches somewhere, case-insensitively.

    Arrow's RE2 matches the whole array in C++, ~18x faster than Python's ``re`` over 5,000
    arXiv abstracts with identical verdicts, and in linear time: every keyword was checked
    to compile in RE2 when the themes file loaded (:func:`_check_re2`).
    """
    if pattern is None:
        return np.zeros(len(texts), bool)
    hits = pc.match_substring_regex(texts, pattern.pattern, ignore_case=True)
    return pc.fill_null(hits, False).to_numpy(zero_copy_only=False)


def _reason(exc: ValidationError | TypeError) -> str:
    """A validation failure as one line: ``field: reason; ...`` (pydantic's text spans lines)."""
    if isinstance(exc, TypeError):
        return str(exc)
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


THRESHOLD_KEYS = ("threshold", "threshold_strong")


def calibration_path(themes_path: Path) -> Path:
    """Where a themes file's calibration lives: ``themes.toml`` -> ``themes.calibration.toml``."""
    themes_path = Path(themes_path)
    return themes_path.with_name(f"{themes_path.stem}.calibration.toml")


def _read_toml(path: Path, what: str) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ThemeFileError(f"{what} {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ThemeFileError(f"{what} {path} is nested too deeply to read as TOML") from None


def load_calibration(path: Path) -> Calibration:
    """Read the calibration file (``[model."<name>"]`` blocks); a missing file calibrates none."""
    path = Path(path)
    if not path.exists():
        return Calibration(path=path)
    if path.is_dir():
        raise ThemeFileError(f"calibration file {path} is a folder, not a TOML file")
    doc = _read_toml(path, "calibration file")
    raw = doc.get("model", {})
    if not isinstance(raw, dict):
        raise ThemeFileError(f'{path}: expected [model."<embedding model name>"] tables')
    models = {}
    for name, body in raw.items():
        try:
            models[name] = ModelCalibration.model_validate(body)
        except ValidationError as exc:
            raise ThemeFileError(f"{path}: model {name}: {_reason(exc)}") from None
    return Calibration(path=path, models=models)


def load_themes(path: Path, calibration: Path | None = None) -> list[Theme]:
    """Read and validate the themes file (TOML with ``[defaults]`` and ``[[theme]]`` blocks).

    Each theme carries the calibration file's thresholds (``calibration``, by default the one
    next to the themes file); a missing calibration file is noticed when themes are scored
    (:func:`for_model`), so the file itself can be checked without one.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ThemeFileError(f"no themes file at {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path}: not valid TOML: {exc}") from None
    cal = load_calibration(calibration or calibration_path(path))
    defaults = doc.get("defaults", {})
    themes: list[Theme] = []
    for i, raw in enumerate(doc.get("theme", []), start=1):
        name = raw.get("id", f"#{i}") if isinstance(raw, dict) else f"#{i}"
        block = {**defaults, **raw} if isinstance(raw, dict) and isinstance(defaults, dict) else raw
        if isinstance(block, dict) and (keys := [k for k in THRESHOLD_KEYS if k in block]):
            raise ThemeFileError(
                f"{path}: theme {name}: {keys[0]}: thresholds depend on the embedding model and "
                f"live in {cal.path.name} next to the themes file, per model (themes/README.md)"
            )
        try:
            themes.append(Theme(**block, calibration=cal))
        except (ValidationError, TypeError) as exc:
            raise ThemeFileError(f"{path}: theme {name}: {_reason(exc)}") from None
    ids = [t.id for t in themes]
    if len(set(ids)) != len(ids):
        raise ThemeFileError(
            f"{path}: duplicate theme ids: {sorted({i for i in ids if ids.count(i) > 1})}"
        )
    return themes


def for_model(themes: Sequence[Theme], model: str) -> list[Theme]:
    """The themes with ``model``'s thresholds; refused when their calibration lacks the model.

    A theme built in code (no calibration) keeps its own thresholds. A theme that the model's
    calibration does not list (added since) gets the model's default thresholds.
    """
    out = []
    for theme in themes:
        cal = theme.calibration
        if cal is None:
            out.append(theme)
            continue
        found = cal.models.get(model)
        if found is None:
            known = ", ".join(
                f"{name} ({m.backend})" if m.backend else name for name, m in cal.models.items()
            )
            where = f"{cal.path} calibrates {known}" if known else f"no {cal.path}"
            raise ThemeCalibrationError(
                f"themes are not calibrated for embedding model {model} ({where}): its "
                "similarities need their own thresholds: run `trends --backend <it> themes "
                "calibrate --write` on a store where the labelled papers are embedded with it, "
                "or refit with a calibrated backend"
            )
        chosen = found.thresholds(theme.id)
        out.append(theme.model_copy(update=chosen.model_dump()))
    return out


CALIBRATION_HEADER = """\
# Membership thresholds of each theme, per embedding model (cosines differ by model: a static
# model's run 0.2-0.4 higher than MiniLM's, so MiniLM's thresholds put nearly every paper into
# a theme). Themes are scored only with a model listed here; any other is refused with one line.
#
# [model."<model name as stored in paper_embeddings.model>"]
# backend    = the `--backend` that makes it
# calibrated = when and how the thresholds were chosen
# default    = thresholds of a theme this block does not list (a theme added since calibration)
# [model."<name>".themes] = per theme: { threshold = T, threshold_strong = S }
#
# `trends themes calibrate` prints precision and recall of every model's thresholds on
# themes/labels.csv; `--write` replaces the blocks of the backends it calibrated with the best
# thresholds it found (comments in this file are not kept). See themes/README.md.
"""


def calibration_toml(calibration: Calibration) -> str:
    """The calibration file's text (the inverse of :func:`load_calibration`)."""

    def pair(t: Thresholds) -> str:
        return f"{{ threshold = {t.threshold:.2f}, threshold_strong = {t.threshold_strong:.2f} }}"

    lines = [CALIBRATION_HEADER]
    for name, m in calibration.models.items():
        lines.append(f"[model.{json.dumps(name)}]")
        lines.append(f"backend = {json.dumps(m.backend)}")
        lines.append(f"calibrated = {json.dumps(m.calibrated)}")
        lines.append(f"default = {pair(m.default)}")
        lines.append("")
        lines.append(f"[model.{json.dumps(name)}.themes]")
        lines.extend(f"{theme_id} = {pair(t)}" for theme_id, t in m.themes.items())
        lines.append("")
    return "\n".join(lines)
