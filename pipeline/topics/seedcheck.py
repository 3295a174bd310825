"""Seed stability: the fit's clustering again with another seed, in a child process beside it.

Run as ``python -m pipeline.topics.seedcheck seed-check FOLDER SEED PARAMS`` by :class:`SeedCheck`.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from pipeline.topics.clustering import hdbscan_model, quiet_umap, umap_model
from pipeline.topics.lineage import match_topics, seed_agreement
from pipeline.topics.outliers import OutlierReducingClusterer
from pipeline.topics.params import TopicParams
from pipeline.topics.vectors import centroids_of

log = logging.getLogger(__name__)


def second_seed_labels(
    embeddings: np.ndarray, knn: tuple[np.ndarray, np.ndarray], params: TopicParams, seed: int
) -> np.ndarray:
    """The fit's topics of every paper (-1: outlier) with ``seed``, without topic words.

    The same UMAP (on the same neighbours), HDBSCAN and outlier reduction as ``fit_topics``.
    """
    reducer = umap_model(
        embeddings, params.n_components, params.min_dist, params.n_neighbors, seed, knn
    )
    clusterer = OutlierReducingClusterer(hdbscan_model(params), embeddings, params.outlier_quantile)
    with quiet_umap():
        reduced = reducer.fit_transform(embeddings)
    return np.asarray(clusterer.fit(reduced).labels_)


def _seed_check_main(folder: str, seed: str, params_json: str) -> None:
    """Child process of :class:`SeedCheck` (``python -m pipeline.topics.seedcheck seed-check``).

    Maps the parent's arrays, removes their folder (nothing is left behind if the parent is
    killed), clusters, and writes the labels to stdout as ``.npy``. It dies with its parent.
    """
    try:  # Linux: a SIGTERM when the parent dies, so an orphan does not go on computing
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    root = Path(folder)
    embeddings = np.load(root / "embeddings.npy", mmap_mode="r")
    knn = (np.load(root / "knn_indices.npy"), np.load(root / "knn_distances.npy"))
    shutil.rmtree(root, ignore_errors=True)
    params = TopicParams(**json.loads(params_json))
    labels = second_seed_labels(np.asarray(embeddings), knn, params, int(seed))
    np.save(sys.stdout.buffer, labels.astype(np.int64))
    sys.stdout.flush()


class SeedCheck:
    """The fit's clustering with a second seed, run beside the fit in a child process.

    A seeded UMAP runs on one core, so on a machine with two or more the check costs little
    wall time. Below ``CHILD_MIN`` papers, where starting a child (about 3 s of imports) costs
    more than the clustering, on one core, or when the child fails, it runs in this process
    when asked for.
    """

    CHILD_MIN = 2000

    def __init__(
        self,
        embeddings: np.ndarray,
        knn: tuple[np.ndarray, np.ndarray],
        params: TopicParams,
        seed: int,
    ) -> None:
        self.embeddings, self.knn, self.params, self.seed = embeddings, knn, params, seed
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._errors: IO[bytes] | None = None

    @property
    def in_child(self) -> bool:
        """Whether a child process computes the check."""
        return self._child is not None

    def __enter__(self) -> SeedCheck:
        if len(self.embeddings) < self.CHILD_MIN or (os.cpu_count() or 1) < 2:
            return self
        self._folder = tempfile.TemporaryDirectory(
            prefix="trends-seed-check-", ignore_cleanup_errors=True
        )
        root = Path(self._folder.name)
        np.save(root / "embeddings.npy", np.asarray(self.embeddings, dtype=np.float32))
        np.save(root / "knn_indices.npy", self.knn[0])
        np.save(root / "knn_distances.npy", self.knn[1])
        self._errors = tempfile.TemporaryFile()
        command = [sys.executable, "-m", "pipeline.topics.seedcheck", "seed-check", str(root)]
        self._child = subprocess.Popen(
            [*command, str(self.seed), json.dumps(asdict(self.params))],
            stdout=subprocess.PIPE,
            stderr=self._errors,
            cwd=Path(__file__).resolve().parents[2],
        )
        return self

    def labels(self) -> np.ndarray:
        """The second seed's labels: the child's result, or computed here."""
        if self._child is not None:
            out, _ = self._child.communicate()
            if self._child.returncode == 0:
                return np.load(io.BytesIO(out))
            assert self._errors is not None
            self._errors.seek(0)
            tail = self._errors.read().decode(errors="replace").strip().splitlines()[-3:]
            log.warning(
                "seed check child exited with %s (%s); computing it in this process",
                self._child.returncode,
                " | ".join(tail),
            )
        return second_seed_labels(self.embeddings, self.knn, self.params, self.seed)

    def __exit__(self, *exc: object) -> None:
        if self._child is not None:
            if self._child.poll() is None:
                self._child.kill()  # the fit failed before it asked for the labels
            self._child.wait()
            if self._child.stdout is not None:
                self._child.stdout.close()
        if self._errors is not None:
            self._errors.close()
        if self._folder is not None:
            self._folder.cleanup()


def labels_agreement(embeddings: np.ndarray, labels_a: np.ndarray, labels_b: np.ndarray) -> float:
    """Share of papers, in topics both clusterings found, that keep their topic from a to b.

    Topics of b are matched to topics of a as a refit's are to the previous fit's
    (:func:`pipeline.topics.lineage.match_topics`), so this is the figure a refit with the other
    seed would report as kept.
    """
    index = pd.RangeIndex(len(labels_a))
    assign_a, assign_b = pd.Series(labels_a, index=index), pd.Series(labels_b, index=index)
    cents_a, cents_b = centroids_of(embeddings, labels_a), centroids_of(embeddings, labels_b)
    if not cents_a or not cents_b:
        return float("nan")
    names = {t: f"a{t}" for t in cents_a}
    topics_a = pd.DataFrame(
        {
            "topic_id": list(cents_a),
            "stable_id": list(names.values()),
            "centroid": list(cents_a.values()),
        }
    )
    topics_b = pd.DataFrame({"topic_id": list(cents_b), "centroid": list(cents_b.values())})
    lineage = match_topics(topics_a, topics_b, assign_a, assign_b, next_number=0)
    return seed_agreement(lineage, assign_a, assign_b, names)


if __name__ == "__main__" and sys.argv[1:2] == ["seed-check"]:
    _seed_check_main(*sys.argv[2:5])
