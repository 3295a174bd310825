"""Publish stage: a read-only copy of the working database for readers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.store import Store


@dataclass(frozen=True)
class PublishSummary:
    """What one publish did."""

    path: Path
    bytes: int
    papers: int
    seconds: float

    def line(self) -> str:
        """One-line summary for the CLI and logs."""
        return (
            f"publish: {self.path} ({self.bytes / 1e6:.1f} MB, {self.papers:,} papers), "
            f"{self.seconds:.1f}s"
        )


def publish_database(store: Store, dest: Path) -> PublishSummary:
    """Replace the published database with a consistent copy of the working one."""
    started = time.perf_counter()
    papers = int(store.query_file("ops/count_papers").iloc[0, 0])
    size = store.publish_copy(dest)
    return PublishSummary(Path(dest), size, papers, time.perf_counter() - started)
