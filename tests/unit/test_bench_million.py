"""The million-real-abstracts snapshot (benchmarks/million.py): real texts, new ids, kept periods."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import million

ABSTRACT = (
    "Offline reinforcement learning enables policy optimization from static data. "
    "However, it struggles with inaccurate value estimation. "
    "We present a model-based method that learns from unlabeled video. "
    "It achieves substantial gains (over 100% in some cases) on control tasks."
)


def _rows() -> list[dict]:
    published = datetime(2025, 5, 30, 0, 54, 12)
    return [
        {
            "title": "Video-Enhanced Offline RL",
            "abstract": ABSTRACT,
            "authors": ["Minting Pan", "Yitao Zheng"],
            "categories": "cs.LG cs.AI",
            "comments": None,
            "journal-ref": None,
            "published": published,
            "later": [timedelta(days=7, hours=8)],
            "kind": "arxiv",
        },
        {
            "title": "Flash3D",
            "abstract": "We reconstruct a scene from a single image. It is fast. It generalises.",
            "authors": [],
            "categories": "cs.CV",
            "comments": None,
            "journal-ref": "3dv 2004 (Poster)",
            "year": 2004,
            "later": [],
            "kind": "conference",
        },
    ]


def test_copies_keep_real_sentences_and_differ() -> None:
    sentences = million._SENTENCE_END.split(ABSTRACT)
    assert len(sentences) == 4
    assert million.vary_abstract(ABSTRACT, 0) == ABSTRACT
    copies = [million.vary_abstract(ABSTRACT, c) for c in range(1, 5)]
    assert len(set(copies)) == 4 and ABSTRACT not in copies
    for c, text in enumerate(copies, start=1):
        kept = million._SENTENCE_END.split(text)
        assert kept == [s for i, s in enumerate(sentences) if i != (c - 1) % 4]
    assert million.vary_abstract("One sentence. Two.", 3) == "One sentence. Two."
    short = "We reconstruct a scene from a single image. It is fast. It generalises."
    assert million.vary_abstract(short, 1) == short  # 27 characters left: under the minimum
    assert million.vary_abstract(short, 3) == short.removesuffix(" It generalises.")


def test_dates_stay_in_the_rows_period() -> None:
    may = datetime(2025, 5, 30, 10)
    days = {million.arxiv_day(may, c) for c in range(10)}
    assert all(d.year == 2025 and d.month == 5 and d.day >= 10 for d in days)
    assert len(days) > 1 and million.arxiv_day(may, 0) == may
    conf = {million.conference_day(1988, 17, c) for c in range(10)}
    assert all(d.year == 1988 for d in conf) and len(conf) == 10


def test_snapshot_ingests_whole_with_new_ids(tmp_path) -> None:
    from pipeline.config import load_settings
    from pipeline.harvest import ingest_kaggle
    from pipeline.runner import writer

    lines = list(million.snapshot_lines(_rows(), 7))
    objs = [json.loads(line) for line in lines]
    assert len({o["id"] for o in objs}) == 7
    assert [o["title"] for o in objs[:3]] == ["Video-Enhanced Offline RL", "Flash3D"] * 1 + [
        "Video-Enhanced Offline RL"
    ]
    assert all(" 2004 " in o["versions"][0]["created"] for o in objs[1::2])
    assert objs[0]["abstract"].strip() == ABSTRACT and objs[2]["abstract"].strip() != ABSTRACT
    arxiv_v2 = objs[0]["versions"][1]["created"]
    assert arxiv_v2 == "Fri, 6 Jun 2025 08:54:12 GMT" and objs[0]["update_date"] == "2025-06-06"
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text("".join(lines), encoding="utf-8")
    settings = load_settings(home=tmp_path / "home")
    with writer(settings) as store:
        summary = ingest_kaggle(store, snapshot)
    received, stored, quarantined = million.parse_ingest(summary.line())
    assert (received, stored, quarantined) == (7, 7, 0)


def test_time_v_report_is_read() -> None:
    report = (
        "\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02:03.5\n"
        "\tMaximum resident set size (kbytes): 2097152\n"
    )
    assert million.parse_time_v(report) == (3723.5, 2048.0)
    assert million.parse_time_v(report.replace("1:02:03.5", "4:05.25"))[0] == 245.25
    with pytest.raises(ValueError, match="no /usr/bin/time"):
        million.parse_time_v("Killed")


def test_table_reads_the_stage_logs(tmp_path) -> None:
    logs = million.logs_dir(tmp_path / "home")
    logs.mkdir()
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text("{}\n")
    report = (
        "\tUser time (seconds): 100.5\n\tSystem time (seconds): 20.5\n"
        "\tElapsed (wall clock) time (h:mm:ss or m:ss): 2:01.0\n"
        "\tMaximum resident set size (kbytes): 1048576\n"
    )
    ingest = "ingest arxiv-kaggle: received 10 = stored 9 (new 9, updated 0, unchanged 0) + quarantined 1"
    (logs / "ingest.log").write_text(
        f"# load at start: 7.50 5.25 3.00\n$ nice -n 5 /usr/bin/time -v /x/.venv/bin/trends "
        f"ingest kaggle {snapshot}\n{ingest}\n--- stderr ---\n{report}"
    )
    (logs / "embed.log").write_text(f"$ nice /usr/bin/time -v /x/bin/trends embed\n{report}")
    run_log = tmp_path / "run.log"
    run_log.write_text("   embed:     28.6s  peak RSS     417 MiB  load 10.7/7.6  embed ...\n")
    text = million.table(logs, snapshot, run_log)
    assert (
        f"| ingest | `trends ingest kaggle {snapshot}` | 121 s | 121 s | 1,024 MiB | 7.5 / 5.2 | "
        "received 10 = stored 9 + quarantined 1 |"
    ) in text
    assert "| embed | `trends embed` | 121 s | 121 s | 1,024 MiB | 10.7 / 7.6 |  |" in text
    assert "**242 s (4.0 min)**" in text
    (logs / "ingest.log").write_text(
        (logs / "ingest.log").read_text().replace("stored 9 (", "stored 8 (")
    )
    with pytest.raises(SystemExit, match="lost records"):
        million.table(logs, snapshot, run_log)
