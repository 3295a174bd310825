"""The report's topic map (pure): 2-D UMAP coordinates of a seeded sample of papers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.topics.clustering import quiet_umap, umap_model
from pipeline.topics.params import TopicParams


def project_map(
    paper_ids: list[str], embeddings: np.ndarray, params: TopicParams, seed: int
) -> pd.DataFrame:
    """2-D UMAP coordinates of a seeded sample of papers, for the report's topic map."""
    n = len(paper_ids)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(n, size=min(n, params.map_sample), replace=False))
    if len(idx) < 5:
        return pd.DataFrame({"paper_id": [], "x": [], "y": []})
    sample = embeddings[idx]
    with quiet_umap():
        reducer = umap_model(sample, 2, 0.1, 15, seed).set_params(n_epochs=params.map_epochs)
        coords = reducer.fit_transform(sample)
    return pd.DataFrame(
        {"paper_id": [paper_ids[i] for i in idx], "x": coords[:, 0], "y": coords[:, 1]}
    )
