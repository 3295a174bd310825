"""The corpora of ``benchmarks/quality.py`` that the BERTopic paper did not use.

Built from ``../shared/data`` (never copied into the repository): titles only, and titles with
abstracts, of the conference corpus and of the arXiv cs.AI 2025 corpus. The fit was tuned on
20 Newsgroups and BBC News; these four show how it does on corpora it never saw, of very
different lengths (a title keeps about 5 words after the OCTIS preprocessing, an abstract 60).

Each is a deterministic sample of ``SAMPLE_ROWS`` papers (``DataFrame.sample`` with
``random_state=0`` over the rows in file order, so the titles and the titles-with-abstracts
corpora of one source hold the same papers), about the size of BBC News (2,225) so that the
paper's 15 fits of plain BERTopic and of the product stay affordable on two cores. The OCTIS
preprocessing then drops documents of fewer than 5 words, which removes most titles: the
run prints how many documents each corpus kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLE_ROWS = 5000
SAMPLE_SEED = 0


@dataclass(frozen=True)
class SampledCorpus:
    """Where a sampled corpus comes from and which text fields make a document."""

    name: str
    file: str
    fields: tuple[str, ...]
    description: str


SAMPLED = {
    c.name: c
    for c in (
        SampledCorpus(
            "conf-titles",
            "conference_abstracts.parquet",
            ("title",),
            "conference paper titles",
        ),
        SampledCorpus(
            "conf-abstracts",
            "conference_abstracts.parquet",
            ("title", "abstract"),
            "conference paper titles with abstracts",
        ),
        SampledCorpus(
            "arxiv-titles",
            "arxiv_cs_ai_2025.parquet",
            ("title",),
            "arXiv cs.AI 2025 titles",
        ),
        SampledCorpus(
            "arxiv-abstracts",
            "arxiv_cs_ai_2025.parquet",
            ("title", "abstract"),
            "arXiv cs.AI 2025 titles with abstracts",
        ),
    )
}


def sampled_texts(name: str, data_dir: Path = DATA_DIR, rows: int = SAMPLE_ROWS):
    """(ids, raw texts) of the sampled corpus ``name``: its fields joined by a full stop.

    Raises:
        ValueError: ``name`` is not a sampled corpus.
        FileNotFoundError: the source file is not in ``data_dir``, named in the message.

    """
    import pandas as pd

    spec = SAMPLED.get(name)
    if spec is None:
        raise ValueError(f"unknown sampled corpus {name!r}; known: {', '.join(SAMPLED)}")
    path = data_dir / spec.file
    if not path.exists():
        raise FileNotFoundError(f"corpus {name}: {path} does not exist (../shared/data)")
    frame = pd.read_parquet(path, columns=["id", *spec.fields])
    frame = frame.sample(n=min(rows, len(frame)), random_state=SAMPLE_SEED)
    parts = [frame[f].fillna("").astype(str).str.strip() for f in spec.fields]
    texts = parts[0]
    for part in parts[1:]:
        texts = texts + ". " + part
    return frame["id"].tolist(), texts.tolist()
