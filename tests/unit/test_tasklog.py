"""Task logs: progress of long stages every few percent, and summaries the log viewer shows whole."""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import EmbeddingBackend
from pipeline.embed import embed_shard
from pipeline.tasklog import LOG_WIDTH, ProgressLog, log_summary, summary_lines


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_logged_every_step_with_rate_and_eta(caplog):
    clock = Clock()
    progress = ProgressLog("embed: papers", logging.getLogger("test.progress"), clock=clock)
    with caplog.at_level(logging.INFO, logger="test.progress"):
        for done in range(100, 10_001, 100):  # 100 papers a second
            clock.now += 1.0
            progress(done, 10_000)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 20  # every 5%, not every call
    assert lines[0] == "embed: papers 500 / 10,000 (5%), 100.0/s, ETA 1m 35s"
    assert lines[9] == "embed: papers 5,000 / 10,000 (50%), 100.0/s, ETA 50s"
    assert lines[-1] == "embed: papers 10,000 / 10,000 (100%), 100.0/s, ETA done"


def test_big_jumps_log_once_and_the_end_always_logs(caplog):
    clock = Clock()
    progress = ProgressLog("x", logging.getLogger("test.jumps"), clock=clock)
    with caplog.at_level(logging.INFO, logger="test.jumps"):
        clock.now = 2.0
        progress(512, 700)  # 73%: one line, not fourteen
        clock.now = 3.0
        progress(700, 700)
    assert [r.getMessage()[:18] for r in caplog.records] == [
        "x 512 / 700 (73%),",
        "x 700 / 700 (100%)",
    ]


class CountingEmbedder:
    dim = 4
    chunk_size = 3

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, texts):
        self.calls.append(len(texts))
        return np.array([[len(t), 1, 2, 3] for t in texts], dtype=np.float32)


def test_a_shard_embeds_in_chunks_and_logs_its_progress(tmp_path, caplog):
    todo = tmp_path / "todo-000.parquet"
    texts = [f"paper text {'x' * i}" for i in range(10)]
    frame = pd.DataFrame(
        {"paper_id": [f"p{i}" for i in range(10)], "content_hash": "h", "text": texts}
    )
    pq.write_table(pa.Table.from_pandas(frame), todo)
    embedder = CountingEmbedder()
    with caplog.at_level(logging.INFO, logger="pipeline.embed"):
        summary = embed_shard(todo, EmbeddingBackend.minilm, embedder=embedder)
    assert embedder.calls == [3, 3, 3, 1]
    vectors = pq.read_table(summary.path).column("embedding").to_pylist()
    assert [v[0] for v in vectors] == [float(len(t)) for t in texts]  # order kept
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4 and "todo-000.parquet: papers 10 / 10 (100%)" in lines[-1]


def test_summaries_are_split_at_parts_and_wrapped_to_the_viewer():
    line = (
        "themes: 12 themes scored over 31,245 papers (3 with members below the floor); "
        "marts: 4,512 topic shares, 1,204 growth rows over 14 periods (2 partial), "
        "37 emerging and 12 declining topics, as of 2025-12-31, 12.4s; " + "word " * 40
    )
    lines = summary_lines(line)
    assert all(len(x) <= LOG_WIDTH for x in lines)
    assert lines[0].startswith("themes: 12 themes") and lines[1].startswith("  marts: 4,512")
    assert (
        re.sub(r"\s+", " ", " ".join(lines)) == re.sub(r"\s+", " ", line.replace(";", "")).strip()
    )


def test_log_summary_prints_every_part_and_returns_the_line():
    said: list[str] = []
    assert log_summary("a: 1; b: 2", said.append) == "a: 1; b: 2"
    assert said == ["a: 1", "  b: 2"]
