"""One million REAL abstracts end to end through the CLI (issue #23, not in CI; ``make million``).

``write``: a Kaggle-format snapshot (``arxiv-metadata-oai-snapshot.json`` layout, JSON Lines) of
``--papers`` records built only from the real rows of ``$TRENDS_DATA_DIR``: the arXiv cs.AI 2025
listing (31,466 rows) and the conference abstracts (87,407 rows, 1987-2025), interleaved in one
cycle of 118,873 rows that repeats (8.4 times for a million). Every record has a new id
(:func:`kaggle_stream.new_id`, 2030 onwards, so never a real one), so nothing is deduplicated.
Dates stay in each row's own period: a conference paper keeps its year (its day spread over the
year deterministically, the source has year precision only), an arXiv paper keeps its month (its
day moved by a week per copy inside the month, never before the listing's 2025-05-10 start).
Texts are real: copy 0 is verbatim; copy c >= 1 leaves out sentence (c - 1) mod n of the
abstract (n sentences, when n >= 3; none when that leaves under the product's 30-character
minimum), so copies differ a little, as near-duplicates do, and no
word is made up. Conference rows get the arXiv category of their area (ML cs.LG, CV cs.CV, NLP
cs.CL, AI cs.AI, Robotics cs.RO, Web cs.IR) and their venue, year and status as ``journal-ref``.

``run``: the product as a user runs it, each stage a CLI call under ``nice -n 5 /usr/bin/time -v``
with ``TRENDS_EMBEDDING_BACKEND=static`` and otherwise default settings: ``trends ingest kaggle``,
``embed``, ``topics --full`` (period-balanced sample of the default fit budget, rest placed),
``analyze``, ``report``, ``publish``. Prints per stage the wall time, peak RSS (``Maximum resident
set size``) and the load average at its start, checks received = stored + quarantined from the
ingest line, and writes the table as Markdown (``--out``).

``onnx``: ``trends embed --backend onnx`` on the first ``--papers`` records (a fresh store), the
rate to extrapolate a million with the real MiniLM model.

    .venv/bin/python benchmarks/million.py write --papers 1000000 --out /tmp/million/snapshot.json
    .venv/bin/python benchmarks/million.py run --snapshot /tmp/million/snapshot.json --home H
    .venv/bin/python benchmarks/million.py onnx --snapshot /tmp/million/snapshot.json --papers 2000
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from kaggle_stream import new_id  # noqa: E402

from pipeline.fields import MIN_ABSTRACT  # noqa: E402

AREA_CATEGORY = {
    "ML": "cs.LG",
    "CV": "cs.CV",
    "NLP": "cs.CL",
    "AI": "cs.AI",
    "Robotics": "cs.RO",
    "Web": "cs.IR",
}
ARXIV_START = date(2025, 5, 10)  # the listing's first day (docs: the first month is partial)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_TS = "%Y-%m-%d %H:%M:%S UTC"

STAGES: tuple[tuple[str, list[str]], ...] = (
    ("ingest", ["ingest", "kaggle", "{snapshot}"]),
    ("embed", ["embed"]),
    ("topics", ["topics", "--full"]),
    ("analyze", ["analyze"]),
    ("report", ["report"]),
    ("publish", ["publish"]),
)


def vary_abstract(abstract: str, copy: int) -> str:
    """Copy 0: the abstract; copy c >= 1: without its sentence (c - 1) mod n (n >= 3).

    A copy that would be shorter than the product's minimum abstract stays whole.
    """
    if copy == 0:
        return abstract
    sentences = _SENTENCE_END.split(abstract.strip())
    if len(sentences) < 3:
        return abstract
    drop = (copy - 1) % len(sentences)
    text = " ".join(s for i, s in enumerate(sentences) if i != drop)
    return text if len(text) >= MIN_ABSTRACT else abstract  # the ingest would quarantine it


def _rfc2822(when: datetime) -> str:
    return f"{when:%a}, {when.day} {when:%b %Y %H:%M:%S} GMT"


def arxiv_day(published: datetime, copy: int) -> datetime:
    """The copy's first-submission time: same month, the day moved a week per copy."""
    first = 10 if (published.year, published.month) == (2025, 5) else 1
    last = calendar.monthrange(published.year, published.month)[1]
    span = last - first + 1
    day = first + (published.day - first + 7 * copy) % span
    return published.replace(day=day)


def conference_day(year: int, row: int, copy: int) -> datetime:
    """A deterministic day (and hour) of the paper's year for this copy."""
    days = 366 if calendar.isleap(year) else 365
    offset = (row * 7_919 + copy * 104_729) % days
    return datetime(year, 1, 1, 9 + (row + copy) % 10) + timedelta(days=offset)


def real_rows(data_dir: Path) -> list[dict]:
    """Both corpora as Kaggle-ready rows, interleaved (one arXiv row, then ~3 conference rows)."""
    import pandas as pd

    arxiv = pd.read_parquet(data_dir / "arxiv_cs_ai_2025.parquet")
    arxiv = arxiv.astype(object).where(arxiv.notna(), None)
    conf = pd.read_parquet(data_dir / "conference_abstracts.parquet")
    conf = conf.astype(object).where(conf.notna(), None)
    a_rows = []
    for r in arxiv.to_dict(orient="records"):
        published = datetime.strptime(r["published_ts"], _TS)
        updated = datetime.strptime(r["updated_ts"], _TS)
        n = int(str(r["arxiv_version"]).lstrip("v") or 1)
        a_rows.append(
            {
                "title": r["title"],
                "abstract": r["abstract"],
                "authors": [a.strip() for a in str(r["authors"] or "").split(";") if a.strip()],
                "categories": " ".join(r["categories"]),
                "comments": r["comment"] or None,
                "journal-ref": None,
                "published": published,
                "later": [updated - published] * (n - 1),  # vN's offset from v1
                "kind": "arxiv",
            }
        )
    c_rows = []
    for r in conf.to_dict(orient="records"):
        status = f" ({r['status']})" if r["status"] else ""
        c_rows.append(
            {
                "title": r["title"],
                "abstract": r["abstract"],
                "authors": [],
                "categories": AREA_CATEGORY.get(r["area"], "cs.LG"),
                "comments": None,
                "journal-ref": f"{r['venue']} {r['year']}{status}",
                "year": int(r["year"]),
                "later": [],
                "kind": "conference",
            }
        )
    out: list[dict] = []
    ratio = len(c_rows) / max(len(a_rows), 1)
    ci = 0
    for i, row in enumerate(a_rows):
        out.append(row)
        upto = round((i + 1) * ratio)
        out.extend(c_rows[ci:upto])
        ci = upto
    out.extend(c_rows[ci:])
    return out


def snapshot_lines(rows: list[dict], papers: int) -> Iterator[str]:
    """The ``papers`` JSON lines: row k % len(rows), copy k // len(rows), id new_id(k)."""
    for k in range(papers):
        i, copy = k % len(rows), k // len(rows)
        row = rows[i]
        if row["kind"] == "arxiv":
            first = arxiv_day(row["published"], copy)
        else:
            first = conference_day(row["year"], i, copy)
        created = [first] + [first + d for d in row["later"]]
        obj = {
            "id": new_id(k),
            "submitter": row["authors"][0] if row["authors"] else None,
            "authors": ", ".join(row["authors"]),
            "title": row["title"],
            "comments": row["comments"],
            "journal-ref": row["journal-ref"],
            "doi": None,
            "report-no": None,
            "categories": row["categories"],
            "license": None,
            "abstract": "  " + vary_abstract(row["abstract"], copy) + "\n",
            "versions": [
                {"version": f"v{j + 1}", "created": _rfc2822(ts)} for j, ts in enumerate(created)
            ],
            "update_date": created[-1].date().isoformat(),
            "authors_parsed": [[a, "", ""] for a in row["authors"]],
        }
        yield json.dumps(obj, ensure_ascii=False) + "\n"


def write_real_snapshot(path: Path, papers: int, data_dir: Path) -> tuple[int, int]:
    """Write the snapshot; return (records, bytes)."""
    rows = real_rows(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for line in snapshot_lines(rows, papers):
            fh.write(line)
            n += 1
    tmp.replace(path)
    return n, path.stat().st_size


# --- running the CLI stages -----------------------------------------------------------------

_WALL = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)")
_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
_INGEST = re.compile(r"received ([\d,]+) = stored ([\d,]+) .* \+ quarantined ([\d,]+)")


def _seconds(clock: str) -> float:
    parts = [float(p) for p in clock.split(":")]
    return sum(p * 60**i for i, p in enumerate(reversed(parts)))


def parse_time_v(stderr: str) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) from ``/usr/bin/time -v``'s report."""
    wall, rss = _WALL.search(stderr), _RSS.search(stderr)
    if not wall or not rss:
        raise ValueError("no /usr/bin/time -v report in the output")
    return _seconds(wall.group(1)), int(rss.group(1)) / 1024


def parse_ingest(text: str) -> tuple[int, int, int]:
    """(received, stored, quarantined) from the ingest summary line."""
    m = _INGEST.search(text)
    if not m:
        raise ValueError("no 'received N = stored N ... + quarantined N' line")
    received, stored, quarantined = (int(g.replace(",", "")) for g in m.groups())
    return received, stored, quarantined


_CPU = re.compile(r"(User|System) time \(seconds\): ([\d.]+)")
_LOAD = re.compile(r"^# load at start: ([\d.]+) ([\d.]+) ([\d.]+)$", re.M)
_PRINTED_LOAD = re.compile(r"^\s*(\w+): .* load ([\d.]+)/([\d.]+)", re.M)


def run_stage(argv: list[str], env: dict, log: Path) -> tuple[float, float, str]:
    """One CLI call under ``nice -n 5 /usr/bin/time -v``; (seconds, MiB, its output).

    The log gets the load average at the start, the command, its output and time's report.
    """
    cmd = ["nice", "-n", "5", "/usr/bin/time", "-v", str(REPO / ".venv" / "bin" / "trends"), *argv]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
    log.write_text(
        f"# load at start: {load}\n$ {' '.join(cmd)}\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )
    if proc.returncode:
        tail = proc.stderr.strip().splitlines()[-25:]
        failed = f"stage {' '.join(argv)} failed ({proc.returncode}); log {log}"
        raise SystemExit(failed + "\n" + "\n".join(tail))
    seconds, mib = parse_time_v(proc.stderr)
    return seconds, mib, proc.stdout + proc.stderr


def stage_figures(name: str, log: Path, loads: dict[str, tuple[float, float]]) -> dict:
    """A finished stage's figures from its log (``loads``: start loads printed elsewhere)."""
    text = log.read_text()
    seconds, mib = parse_time_v(text)
    cpu = sum(float(m.group(2)) for m in _CPU.finditer(text))
    header = _LOAD.search(text)
    load = (float(header.group(1)), float(header.group(2))) if header else loads.get(name)
    command = text.split("\n", 2)[1 if header else 0].split("/bin/trends ", 1)[-1]
    note = ""
    if name == "ingest":
        received, stored, quarantined = parse_ingest(text)
        if received != stored + quarantined:
            raise SystemExit(f"ingest lost records: {received:,} != {stored:,} + {quarantined:,}")
        note = f"received {received:,} = stored {stored:,} + quarantined {quarantined:,}"
    return {"stage": name, "command": command, "seconds": seconds, "cpu": cpu, "mib": mib,
            "load": load, "note": note}  # fmt: skip


def table(logs: Path, snapshot: Path, run_log: Path | None = None) -> str:
    """The Markdown table of the stages whose logs are in ``logs``."""
    loads = {}
    if run_log and run_log.is_file():
        for m in _PRINTED_LOAD.finditer(run_log.read_text()):
            loads[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    rows = [
        stage_figures(name, logs / f"{name}.log", loads)
        for name, _ in STAGES
        if (logs / f"{name}.log").is_file()
    ]
    out = [
        f"{datetime.now():%Y-%m-%d %H:%M}, commit {_commit()}, {snapshot.name} "
        f"({snapshot.stat().st_size / 1e9:.2f} GB), TRENDS_EMBEDDING_BACKEND=static",
        "",
        "| stage | command | wall | CPU (user+sys) | peak RSS | load at start (1/5 min) | check |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        load = f"{r['load'][0]:.1f} / {r['load'][1]:.1f}" if r["load"] else "?"
        out.append(
            f"| {r['stage']} | `trends {r['command']}` | {r['seconds']:,.0f} s | "
            f"{r['cpu']:,.0f} s | {r['mib']:,.0f} MiB | {load} | {r['note']} |"
        )
    if rows:
        wall, cpu = sum(r["seconds"] for r in rows), sum(r["cpu"] for r in rows)
        out.append(
            f"| **total** | | **{wall:,.0f} s ({wall / 60:.1f} min)** | {cpu:,.0f} s | "
            f"**{max(r['mib'] for r in rows):,.0f} MiB** max | | |"
        )
    return "\n".join(out) + "\n"


def _commit() -> str:
    proc = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    )
    return proc.stdout.strip() or "?"


def logs_dir(home: Path) -> Path:
    """Where ``run`` keeps one log per stage (beside the store's home)."""
    return home.parent / f"{home.name}-logs"


def run(snapshot: Path, home: Path, out: Path | None, from_stage: str) -> None:
    """Every stage in order (from ``from_stage``), the table printed and written."""
    names = [name for name, _ in STAGES]
    logs = logs_dir(home)
    if from_stage == names[0]:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    logs.mkdir(exist_ok=True)
    env = dict(os.environ, TRENDS_HOME=str(home), TRENDS_EMBEDDING_BACKEND="static")
    env.setdefault("PYTHONPATH", str(REPO))
    for name, argv in STAGES[names.index(from_stage) :]:
        argv = [a.format(snapshot=snapshot) for a in argv]
        _, _, text = run_stage(argv, env, logs / f"{name}.log")
        r = stage_figures(name, logs / f"{name}.log", {})
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("\t")]
        print(
            f"{name:>8}: {r['seconds']:8.1f}s (CPU {r['cpu']:.0f}s)  peak RSS {r['mib']:7,.0f} MiB"
            f"  load {r['load'][0]:.1f}/{r['load'][1]:.1f}"
            f"  {r['note'] or (lines[-1][:100] if lines else '')}",
            flush=True,
        )
    text = table(logs, snapshot)
    print(text)
    if out:
        out.write_text(text)
        print(f"table: {out}")


def onnx_slice(snapshot: Path, papers: int, home: Path) -> None:
    """``trends embed --backend onnx`` on the snapshot's first ``papers`` records."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    head = home / f"head-{papers}.json"
    with snapshot.open("rb") as src, head.open("wb") as dest:
        for _, line in zip(range(papers), src, strict=False):
            dest.write(line)
    env = dict(os.environ, TRENDS_HOME=str(home / "home"))
    env.setdefault("PYTHONPATH", str(REPO))
    run_stage(["ingest", "kaggle", str(head)], env, home / "ingest.log")
    seconds, mib, _ = run_stage(["embed", "--backend", "onnx"], env, home / "embed.log")
    cpu = stage_figures("embed", home / "embed.log", {})["cpu"]
    rate = papers / seconds
    per_core = cpu / papers  # CPU seconds a paper: the figure a loaded machine distorts least
    print(
        f"onnx embed: {papers:,} papers in {seconds:.1f}s = {rate:.1f} papers/s (load "
        f"{os.getloadavg()[0]:.1f}), CPU {cpu:.1f}s = {per_core * 1e3:.1f} ms a paper, peak RSS "
        f"{mib:,.0f} MiB; a million: {1e6 / rate / 3600:.1f} h at this wall rate, "
        f"{1e6 * per_core / 2 / 3600:.1f} h of two busy cores at this CPU cost"
    )


def main() -> None:
    """Dispatch ``write``, ``run`` or ``onnx``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="Build the real-text Kaggle snapshot.")
    w.add_argument("--papers", type=int, default=1_000_000)
    w.add_argument("--out", type=Path, required=True)
    w.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    r = sub.add_parser("run", help="Run every CLI stage on it, timed.")
    r.add_argument("--snapshot", type=Path, required=True)
    r.add_argument("--home", type=Path, required=True)
    r.add_argument("--out", type=Path, help="Write the table (Markdown) here.")
    r.add_argument("--from-stage", choices=[n for n, _ in STAGES], default=STAGES[0][0])
    t = sub.add_parser("table", help="The table again, from a run's stage logs.")
    t.add_argument("--snapshot", type=Path, required=True)
    t.add_argument("--home", type=Path, required=True)
    t.add_argument("--run-log", type=Path, help="run's printed output (loads of older logs)")
    t.add_argument("--out", type=Path)
    o = sub.add_parser("onnx", help="Time trends embed --backend onnx on a slice.")
    o.add_argument("--snapshot", type=Path, required=True)
    o.add_argument("--papers", type=int, default=2_000)
    o.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()
    if args.cmd == "write":
        if args.out.resolve().is_relative_to(REPO):
            raise SystemExit(f"write the snapshot outside the repo, not {args.out}")
        t0 = time.perf_counter()
        n, size = write_real_snapshot(args.out, args.papers, args.data_dir)
        took = time.perf_counter() - t0
        print(f"wrote {args.out}: {n:,} records, {size / 1e9:.2f} GB, {took:.0f}s")
    elif args.cmd == "run":
        if not args.snapshot.is_file():
            raise SystemExit(f"no snapshot at {args.snapshot} (run: million.py write)")
        run(args.snapshot, args.home, args.out, args.from_stage)
    elif args.cmd == "table":
        text = table(logs_dir(args.home), args.snapshot, args.run_log)
        print(text)
        if args.out:
            args.out.write_text(text)
    else:
        if not args.snapshot.is_file():
            raise SystemExit(f"no snapshot at {args.snapshot} (run: million.py write)")
        onnx_slice(args.snapshot, args.papers, args.home)


if __name__ == "__main__":
    main()
