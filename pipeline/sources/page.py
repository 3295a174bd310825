"""A pasted "trending papers" page: a title line, a blank line, an abstract paragraph, repeated.

Such a page starts with site chrome (``Subscribe``, a date without a year, ...) and gives no
dates and no identifiers. A paper is a one-line paragraph followed by a paragraph long enough
to be an abstract; paragraphs before the first paper are chrome and are skipped. After the
first paper, a paragraph that does not pair up is still handed on as a record (a title with no
abstract, or the reverse), so validation quarantines it rather than it vanishing. Papers get
a stable id from their title (``page:<hash>``) and an unknown date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.normalize import title_key
from pipeline.sources.files import SourceFormatError

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")
MIN_ABSTRACT_WORDS = 25  # site chrome is a few words; the shortest real abstract is far longer
MAX_TITLE_WORDS = 60


@dataclass
class ParsedPage:
    """The records of a page, their texts as pasted, and the chrome that was skipped."""

    records: list[dict] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)
    chrome: list[str] = field(default_factory=list)


def page_paper_id(title: str) -> str:
    """Stable id of a paper known only by its title."""
    return f"page:{title_key(title)}"


def _is_title(paragraph: str) -> bool:
    return "\n" not in paragraph and len(paragraph.split()) <= MAX_TITLE_WORDS


def _is_abstract(paragraph: str) -> bool:
    return len(paragraph.split()) >= MIN_ABSTRACT_WORDS


def _record(title: str | None, abstract: str | None) -> dict:
    return {
        "id": page_paper_id(title or abstract or ""),
        "title": title,
        "abstract": abstract,
        "published": None,
        "date_precision": "unknown",
    }


def parse_trending_page(text: str) -> ParsedPage:
    """Split a pasted page into paper records (title + abstract, no date)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    page = ParsedPage()
    i, started = 0, False
    while i < len(paragraphs):
        para = paragraphs[i]
        following = paragraphs[i + 1] if i + 1 < len(paragraphs) else None
        if _is_title(para) and following is not None and _is_abstract(following):
            page.records.append(_record(para, following))
            page.payloads.append(f"{para}\n\n{following}")
            started = True
            i += 2
            continue
        if not started:
            page.chrome.append(para)
        elif _is_abstract(para):  # an abstract whose title is missing
            page.records.append(_record(None, para))
            page.payloads.append(para)
        else:  # a title whose abstract is missing
            page.records.append(_record(para, None))
            page.payloads.append(para)
        i += 1
    return page


def read_trending_page(path: Path) -> ParsedPage:
    """Read and parse a pasted page (UTF-8 text)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceFormatError(f"{path}: not UTF-8 text ({exc})") from None
    return parse_trending_page(text)
