"""Paper files: Parquet, JSON Lines and CSV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

SUFFIX_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
}


class SourceFormatError(ValueError):
    """A file that cannot be read as the format it claims to be."""


def detect_format(path: Path) -> str:
    """Tell the file format from its suffix."""
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SourceFormatError(
            f"{path}: unknown file type {path.suffix!r}; expected one of {sorted(SUFFIX_FORMATS)}"
        )
    return fmt


def read_paper_file(path: Path) -> tuple[list[dict], list[tuple[int, str, str]]]:
    """Read every record of a paper file.

    Returns the records as dicts, and for lines that could not even be parsed (JSON Lines)
    ``(line number, raw text, reason)`` so the caller can quarantine them.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    fmt = detect_format(path)
    if fmt == "jsonl":
        return _read_jsonl(path)
    try:
        frame = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path, dtype=str)
    except Exception as exc:  # the readers raise many types; name the file and the cause
        raise SourceFormatError(f"{path}: cannot read as {fmt}: {exc}") from exc
    frame = frame.astype(object).where(frame.notna(), None)
    return [_plain(rec) for rec in frame.to_dict(orient="records")], []


def _read_jsonl(path: Path) -> tuple[list[dict], list[tuple[int, str, str]]]:
    records: list[dict] = []
    broken: list[tuple[int, str, str]] = []
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                broken.append((lineno, raw.decode("utf-8", "replace"), f"invalid UTF-8: {exc}"))
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                broken.append((lineno, text, f"broken JSON: {exc.msg} at column {exc.colno}"))
                continue
            except RecursionError:
                broken.append((lineno, text, "broken JSON: nested too deeply"))
                continue
            if not isinstance(obj, dict):
                broken.append((lineno, text, "JSON line is not an object"))
                continue
            records.append(obj)
    return records, broken


def _plain(rec: dict) -> dict:
    """Turn numpy values into plain Python so records serialise as JSON."""
    out = {}
    for key, value in rec.items():
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        out[str(key)] = value
    return out
