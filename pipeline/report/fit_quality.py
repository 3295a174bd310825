"""How good the fit is, for the About page: its stored NPMI beside plain BERTopic's, and a rule.

NPMI of topic words depends on the corpus as much as on the model: titles of ten words seldom
hold two topic words together, so every model scores lower on titles than on abstracts, and a
larger corpus scores higher. The About page therefore reads the fit's NPMI against references
measured on corpora of the same kind (``reports/quality_reference.toml``, measured by
``benchmarks/about_reference.py``): plain BERTopic and the product on the same papers, where the
fit's sources and length match one; and it warns when the NPMI is below the floor of the
corpus's length class: the lowest NPMI plain BERTopic reached on a measured corpus of that class
(classes by the median words per document, stated in that file).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.config import REPORTS_DIR

REFERENCE_FILE = REPORTS_DIR / "quality_reference.toml"


class QualityReferenceError(ValueError):
    """The reference file cannot be read; the message names it and the reason."""


class LengthClass(BaseModel):
    """Corpora whose median document has at most ``max_median_words`` words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    max_median_words: float = Field(gt=0)
    low_npmi: float = Field(ge=-1, le=1)
    basis: str = ""


class Scores(BaseModel):
    """One model's mean figures on a reference corpus."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    npmi: float
    diversity: float
    outliers: float
    topics: float


class Reference(BaseModel):
    """Plain BERTopic and the product, measured on one kind of corpus."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    corpus: str
    sources: list[str]
    length: str
    model: str
    docs: int
    fits: int
    plain: Scores
    product: Scores
    measured: str


class QualityReference(BaseModel):
    """The reference file: the length rule and the measured references."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    length: list[LengthClass] = Field(min_length=1)
    reference: list[Reference] = Field(default_factory=list)


def load_quality_reference(path: Path | None = None) -> QualityReference:
    """Read and validate the reference file; a broken one is one line naming it."""
    path = path or REFERENCE_FILE
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return QualityReference.model_validate(doc)
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise QualityReferenceError(f"quality reference {path}: {reason}") from None


@dataclass(frozen=True)
class FitQuality:
    """What the About page says about the fit's quality."""

    npmi: float | None
    papers: int
    median_words: float | None
    length: LengthClass | None
    low: bool
    references: list[Reference]
    partial: bool = False  # the references cover some of the fit's sources, not all together

    @property
    def warning(self) -> str:
        """One sentence when the NPMI is low for the corpus's length, else empty."""
        if not self.low or self.length is None or self.npmi is None:
            return ""
        return (
            f"The coherence of this fit (NPMI {self.npmi:.3f}) is below "
            f"{self.length.low_npmi:.3f}, the lowest NPMI plain BERTopic reached on a measured "
            f"corpus of its length ({self.length.name}, median {self.median_words:.0f} words per "
            "paper): its topic words seldom occur together in its papers. Read topic names with "
            "care; a larger corpus or one with abstracts usually scores higher."
        )


def judge_fit(
    npmi: float | None,
    papers: int,
    median_words: float | None,
    sources: list[str],
    reference: QualityReference,
) -> FitQuality:
    """The fit's length class, whether its NPMI is low for it, and the references that match.

    The length class is the first (by ``max_median_words``) that the median document fits; a
    reference matches when it was measured on the same sources and the same length class; when
    none does, those measured on some of the fit's sources are given (``partial``).
    """
    if npmi is not None and npmi != npmi:  # NaN: a fit without topics
        npmi = None
    length = None
    if median_words is not None and median_words == median_words:
        fitting = [c for c in reference.length if median_words <= c.max_median_words]
        length = min(fitting, key=lambda c: c.max_median_words) if fitting else None
    low = bool(length is not None and npmi is not None and npmi < length.low_npmi)
    same_length = [r for r in reference.reference if length is not None and r.length == length.name]
    matches = [r for r in same_length if sorted(r.sources) == sorted(sources)]
    partial = not matches
    if partial:  # a fit over several sources: what is known of each of them alone
        matches = [r for r in same_length if set(r.sources) < set(sources)]
    return FitQuality(npmi, papers, median_words, length, low, matches, partial and bool(matches))


def fit_quality(run: dict, corpus: dict, reference: QualityReference | None = None) -> FitQuality:
    """:func:`judge_fit` of the report's fit (``run_info``) and its documents (``fit_corpus``)."""
    npmi = run.get("npmi")
    sources = corpus.get("sources")
    return judge_fit(
        None if npmi is None else float(npmi),
        int(corpus.get("papers") or 0),
        None if corpus.get("median_words") is None else float(corpus["median_words"]),
        [str(s) for s in (sources if sources is not None else [])],
        reference or load_quality_reference(),
    )
