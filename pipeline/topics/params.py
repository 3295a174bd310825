"""Typed parameters and results of the topics stage (no I/O, no heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.config import TopicRepresentation

REPRESENTATIONS = tuple(r.value for r in TopicRepresentation)


@dataclass(frozen=True)
class TopicParams:
    """Hyper-parameters of a fit; stored with it."""

    n_neighbors: int = 15
    n_components: int = 5
    min_dist: float = 0.0
    min_cluster_size: int = 10
    min_samples: int = 5
    # "leaf": the finest clusters of at least min_cluster_size papers. "eom" (HDBSCAN's default)
    # chooses between a cluster and its children by comparing their summed stabilities, a
    # choice that flips with the UMAP seed: on the 2025 corpus it split or merged whole topics
    # from seed to seed (79% of papers kept their topic, seeds 7 vs 42; leaf: 82%).
    cluster_selection_method: str = "leaf"
    # Leaf clusters are tighter cores, so the 3rd rather than the 5th percentile of members'
    # similarity keeps the outlier share where eom's 5th left it (about 3%).
    outlier_quantile: float = 0.03
    top_n_words: int = 10
    map_sample: int = 4000
    # The report's 2-D map only: UMAP's own count for large data. Below 10,000 points UMAP runs
    # 500, which buys the 5-d fit its seed stability (5,000 arXiv papers, seeds 42/7/1: ARI 0.74
    # at 500 epochs, 0.67 at 200) but only costs time on a picture (3 s of a 5,000-paper fit).
    map_epochs: int = 200
    # How the top_n_words are chosen (pipeline.config.TopicRepresentation): "ctfidf" keeps the
    # c-TF-IDF ranking; "mmr" picks them from the mmr_candidates best by maximal marginal
    # relevance (select_by_mmr), trading weight for novelty at mmr_diversity.
    representation: str = "ctfidf"
    mmr_diversity: float = 0.2
    mmr_candidates: int = 30
    # With "ctfidf", how much the top words also weigh co-occurring with each other
    # (pipeline.topics.words.coherent_terms re-ranks the mmr_candidates best; 0: the ranking).
    # BM25 c-TF-IDF lifts words rare in the corpus; in short texts such a word seldom shares a
    # document with the topic's other words, which costs NPMI. 0.5 beat plain BERTopic on NPMI
    # and diversity on every bench-quality corpus measured (docs/benchmarks.md); against the
    # ranking it gains NPMI everywhere and gives up 0.01-0.04 of diversity (docs/topics.md).
    term_coherence: float = 0.5
    # Every fit clusters a second time with seed + 1 (UMAP, HDBSCAN, outlier reduction; no
    # words), in a child process on the core the seeded, single-threaded UMAP leaves idle, and
    # stores the share of papers that keep their topic (seed_check_agreement).
    seed_check: bool = True

    def __post_init__(self) -> None:
        if self.representation not in REPRESENTATIONS:
            known = ", ".join(REPRESENTATIONS)
            raise ValueError(f"representation {self.representation!r} is not one of {known}")
        if not 0.0 <= self.mmr_diversity <= 1.0:
            raise ValueError(f"mmr_diversity {self.mmr_diversity} is not between 0 and 1")
        if not 0.0 <= self.term_coherence <= 1.0:
            raise ValueError(f"term_coherence {self.term_coherence} is not between 0 and 1")

    @property
    def candidate_words(self) -> int:
        """How many c-TF-IDF terms per topic the representation chooses from."""
        if self.representation == "mmr" or self.term_coherence > 0:
            return max(self.mmr_candidates, self.top_n_words)
        return self.top_n_words

    @classmethod
    def for_corpus(cls, n_docs: int, **overrides: object) -> TopicParams:
        """Settings scaled to corpus size: bigger corpora get bigger minimum topics.

        The minimum topic is 1/250 of the corpus, and at least half the square root of its
        size: with 10 papers, 2,500 arXiv abstracts split into 81 topics of ~30 papers whose
        top words rarely co-occur (NPMI -0.22); with 25, 30-40 topics (NPMI 0.07-0.15).
        Above 15,625 papers the 1/250 term rules, as before.
        """
        mcs = max(10, n_docs // 250, round(0.5 * n_docs**0.5))
        return cls(
            min_cluster_size=mcs,
            min_samples=max(3, mcs // 5),
            **overrides,  # type: ignore[arg-type]
        )


@dataclass
class TopicFit:
    """Result of a fit: one row per topic and one per paper."""

    topics: (
        pd.DataFrame
    )  # topic_id, label, terms, term_weights, size, npmi, centroid, representative_ids
    assignments: pd.DataFrame  # paper_id, topic_id, similarity, method
    outlier_share: float
    outlier_share_before: float
    npmi: float
    diversity: float
    assign_threshold: float
    map_coords: pd.DataFrame | None = None  # paper_id, x, y for a sample of papers
    # share of papers that keep their topic when the fit is clustered again with seed + 1
    seed_check_agreement: float | None = None


@dataclass(frozen=True)
class TopicSummary:
    """What one full fit did (updates report an :class:`~pipeline.topics.update.UpdateSummary`)."""

    topic_run_id: str
    mode: str
    n_docs: int
    n_topics: int
    outlier_share: float
    npmi: float | None
    diversity: float | None
    seconds: float
    lineage_counts: dict[str, int] | None = None
    agreement: float | None = None
    seed_agreement: float | None = None
    n_clustered: int | None = None  # papers clustered, when a balanced sample of n_docs

    def line(self) -> str:
        """One-line summary for the CLI and logs."""
        quality = ""
        if self.npmi is not None:
            quality = f", NPMI {self.npmi:.3f}, diversity {self.diversity:.2f}"
        if self.seed_agreement is not None and np.isfinite(self.seed_agreement):
            quality += f", seed stability {self.seed_agreement:.0%}"
        lineage = ""
        if self.lineage_counts:
            events = ", ".join(f"{n} {e}" for e, n in sorted(self.lineage_counts.items()))
            kept = (
                ""
                if self.agreement is None
                else f"; {self.agreement:.0%} of papers kept their topic"
            )
            lineage = f" ({events}{kept})"
        if self.n_clustered is not None and self.n_clustered < self.n_docs:
            quality += f", clustered a period-balanced {self.n_clustered:,}"
        return (
            f"topics {self.mode}: {self.topic_run_id} placed {self.n_docs:,} papers in "
            f"{self.n_topics} topics{lineage}, outliers {self.outlier_share:.1%}{quality}, "
            f"{self.seconds:.1f}s"
        )


@dataclass(frozen=True)
class PreviousFit:
    """What a new fit is matched against: the previous fit's topics and papers."""

    topics: pd.DataFrame  # topic_id, stable_id, centroid (outliers and unnamed topics excluded)
    assignments: pd.Series  # paper_id -> topic_id
