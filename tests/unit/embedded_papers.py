"""Papers with embeddings loaded straight into a store, for topic tests that need no model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa


def load_embedded_papers(
    store, ids: Sequence[str], docs: Sequence[str], X: np.ndarray, model: str = "syn"
) -> None:
    """Store each doc as a paper of source ``syn`` and its row of ``X`` as its embedding.

    The doc is the paper's title and abstract, its id the content hash; ``model`` names the
    embedding model.
    """
    store.register(
        "p",
        pd.DataFrame({"paper_id": ids, "title": docs, "abstract": docs, "content_hash": ids}),
    )
    store.execute(
        "insert into papers (paper_id, source, title, abstract, date_precision, content_hash,"
        " first_run_id, last_run_id, ingested_at, updated_at) select paper_id, 'syn', title,"
        " abstract, 'unknown', content_hash, 'r', 'r', now(), now() from p"
    )
    table = pa.table(
        {
            "paper_id": ids,
            "model": [model] * len(ids),
            "content_hash": ids,
            "embedding": pa.array(X.tolist(), pa.list_(pa.float32())),
        }
    )
    store.register_arrow("e", table)
    store.execute("insert into paper_embeddings select *, now() from e")
