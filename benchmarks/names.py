"""Benchmark: name-to-topic accuracy of the latest fit's topic names against its three-word labels.

Reads the latest full fit of a store (read only; by default the working database of
``TRENDS_HOME``) and embeds, with the fit's own model (``topic_runs.model``), each topic's name
(``topics.name``, pipeline/topics/naming.py) and its three-word c-TF-IDF label
(``topics.label``). A text is right when the topic centroid nearest to it (cosine) is its own
topic's; accuracy is the share of the fit's topics (outliers excluded) whose text is right. A
topic without a name counts as wrong for the names. Both are measured on the same fit, model
and centroids, so the two figures compare directly (issue 20, done-when 1).

``--rename`` also names the fit's topics again with the naming code of this checkout (from the
fit's clustered papers, as ``trends topics --full`` does, nothing written) and measures those
names too: a naming change can be measured on a stored fit without refitting.

It prints a table (accuracy, topics, fit) and the largest topics' name beside their label, with
the topic each one's embedding is nearest to; ``--json PATH`` writes the same figures. Not a
test: run it by hand on a store whose latest fit covers the corpus to measure.

    TRENDS_HOME=/tmp/s8/b/home .venv/bin/python benchmarks/names.py [--db PATH]
        [--examples 10] [--rename] [--json names.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.topics.naming import Encode, name_topics, nearest_topics  # noqa: E402

NAMES_MIGRATION = 16  # sql/schema/016_topic_names.sql added topics.name


@dataclass(frozen=True)
class StoredFit:
    """What the benchmark reads of a fit: its topics and, for ``--rename``, its papers."""

    run_id: str
    model: str
    topics: pd.DataFrame  # topic_id, stable_id, size, name, label (outliers excluded)
    centroids: dict[int, np.ndarray]
    docs: list[str]  # texts of the papers the fit clustered (empty without --rename)
    labels: np.ndarray  # their topic ids


@dataclass(frozen=True)
class Example:
    """One topic's name and label, and the topic each one's embedding lies nearest to."""

    topic_id: int
    stable_id: str | None
    size: int
    name: str
    label: str
    name_nearest: int | None
    label_nearest: int | None
    renamed: str | None = None


def read_fit(db: Path, rename: bool) -> StoredFit:
    """The latest fit of the store at ``db``: topics, centroids and (``rename``) its papers."""
    from pipeline.store import open_reader
    from pipeline.topics import persistence

    with open_reader(db) as store:
        if store.schema_version() < NAMES_MIGRATION:
            raise SystemExit(
                f"{db}: schema version {store.schema_version()} predates topic names"
                f" (migration {NAMES_MIGRATION:03d}); run `trends init` and `trends topics --full`"
            )
        run_id = persistence.current_topic_run(store)
        if run_id is None:
            raise SystemExit(f"{db}: no topic fit yet; run `trends topics --full` first")
        model = persistence.fit_model(store, run_id) or ""
        table = store.query_file("report/topic_table", {"topic_run_id": run_id})
        named = store.query_file("topics/named_topics", {"topic_run_id": run_id})
        centroids = persistence.topic_centroids(store, run_id)
        docs: list[str] = []
        labels = np.zeros(0, dtype=int)
        if rename:
            # the papers the fit clustered, in paper id order, as the fit named them
            assigned = persistence.fit_assignments(store, run_id)
            clustered = assigned[assigned["method"] != "placed"].sort_values("paper_id")
            docs = persistence.paper_texts(store, clustered["paper_id"].tolist())
            labels = clustered["topic_id"].to_numpy(dtype=int)
    real = table[table["topic_id"] != -1].set_index("topic_id")
    stored = named.set_index("topic_id")["name"].reindex(real.index)
    topics = pd.DataFrame(
        {
            "topic_id": real.index.astype(int),
            "stable_id": real["stable_id"].to_numpy(),
            "size": real["size"].astype(int).to_numpy(),
            "label": real["terms_label"].astype(str).to_numpy(),
            "name": [n if isinstance(n, str) else "" for n in stored],
        }
    )
    return StoredFit(run_id, model, topics, centroids, docs, labels)


def fit_encoder(model: str) -> Encode:
    """The encode function of the embedding backend that makes ``model``'s vectors."""
    from pipeline.embedders import MODEL_NAMES, make_embedder

    backend = next((b for b, name in MODEL_NAMES.items() if name == model), None)
    if backend is None:
        raise SystemExit(f"the fit was made with {model!r}, which no embedding backend makes")
    return make_embedder(backend).encode


def accuracy(nearest: dict[int, int], topics: list[int]) -> float:
    """Share of ``topics`` whose text lies nearest to their own centroid (unnamed: wrong)."""
    return float(np.mean([nearest.get(t) == t for t in topics])) if topics else float("nan")


def commit() -> str:
    """The checkout's commit (``git describe --always --dirty``)."""
    git = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    return git.stdout.strip() or "unknown"


def measure(fit: StoredFit, encode: Encode, examples: int, rename: bool) -> dict[str, object]:
    """Accuracy of names and labels (and of renamed topics), and the largest topics' texts."""
    topics = sorted(fit.centroids)
    frame = fit.topics.set_index("topic_id")
    names = {t: str(frame.at[t, "name"]) for t in topics if t in frame.index}
    labels = {t: str(frame.at[t, "label"]) for t in topics if t in frame.index}
    by_name = nearest_topics(names, fit.centroids, encode)
    by_label = nearest_topics(labels, fit.centroids, encode)
    result: dict[str, object] = {
        "accuracy_names": accuracy(by_name, topics),
        "accuracy_labels": accuracy(by_label, topics),
        "topics": len(topics),
        "named": sum(1 for t in topics if names.get(t)),
    }
    renamed: dict[int, str] = {}
    if rename:
        started = time.perf_counter()
        renamed = name_topics(fit.docs, fit.labels, fit.centroids, encode)
        result["rename_seconds"] = round(time.perf_counter() - started, 1)
        result["accuracy_renamed"] = accuracy(
            nearest_topics(renamed, fit.centroids, encode), topics
        )
        result["renamed_differ"] = sum(1 for t in topics if renamed.get(t) != names.get(t))
    largest = fit.topics.sort_values(["size", "topic_id"], ascending=[False, True])
    result["examples"] = [
        asdict(
            Example(
                int(row.topic_id),
                None if pd.isna(row.stable_id) else str(row.stable_id),
                int(row.size),
                str(row.name),
                str(row.label),
                by_name.get(int(row.topic_id)),
                by_label.get(int(row.topic_id)),
                renamed.get(int(row.topic_id)) if rename else None,
            )
        )
        for row in largest.head(examples).itertuples()
    ]
    return result


def print_table(report: dict[str, object]) -> None:
    """The figures and the examples as Markdown tables."""
    print(f"fit {report['run_id']} ({report['model']}), {report['db']}, commit {report['commit']}")
    print("| texts | name-to-topic accuracy | topics |")
    print("|---|---|---|")
    n = report["topics"]
    print(f"| names (stored) | {report['accuracy_names']:.1%} | {report['named']} named of {n} |")
    print(f"| three-word labels | {report['accuracy_labels']:.1%} | {n} |")
    if "accuracy_renamed" in report:
        print(
            f"| names (this checkout) | {report['accuracy_renamed']:.1%} |"
            f" {report['renamed_differ']} differ from stored, {report['rename_seconds']} s |"
        )
    print()
    print("| papers | name | old label | nearest: name / label |")
    print("|---|---|---|---|")
    for ex in report["examples"]:  # type: ignore[union-attr]
        mark = "own" if ex["name_nearest"] == ex["topic_id"] else f"topic {ex['name_nearest']}"
        mark_label = (
            "own" if ex["label_nearest"] == ex["topic_id"] else f"topic {ex['label_nearest']}"
        )
        renamed = ex.get("renamed")
        name = ex["name"] + (f" (now: {renamed})" if renamed and renamed != ex["name"] else "")
        print(f"| {ex['size']:,} | {name} | {ex['label']} | {mark} / {mark_label} |")


def main(argv: list[str] | None = None) -> None:
    """Read the fit, embed its names and labels, print (and optionally write) the figures."""
    from pipeline.config import load_settings
    from pipeline.store import StoreLockedError

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db", type=Path, help="a DuckDB store (default: TRENDS_HOME's working database)"
    )
    parser.add_argument("--examples", type=int, default=10, help="largest topics to show")
    parser.add_argument(
        "--rename", action="store_true", help="also name the fit again with this checkout's code"
    )
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)

    db = args.db or load_settings().work_db
    try:
        fit = read_fit(db, args.rename)
    except (FileNotFoundError, StoreLockedError) as exc:  # one line, no traceback
        raise SystemExit(str(exc)) from None
    if not fit.centroids:
        raise SystemExit(f"{db}: fit {fit.run_id} has no topics")
    encode = fit_encoder(fit.model)
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "db": str(db),
        "run_id": fit.run_id,
        "model": fit.model,
        **measure(fit, encode, args.examples, args.rename),
    }
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
