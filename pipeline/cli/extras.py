"""`trends themes calibrate` and `trends models build`: the themes' rules and the models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipeline.cli.app import console, ctx, models_app, out, themes_app
from pipeline.cli.guard import guarded
from pipeline.config import EmbeddingBackend


@themes_app.command("calibrate")
@guarded
def themes_calibrate(
    labels: Annotated[Path, typer.Option(help="Labelled sample: theme_id,paper_id,label.")] = Path(
        "themes/labels.csv"
    ),
) -> None:
    """Score each theme's membership rule against a labelled sample (papers in the store).

    The vectors are the current topic fit's (its backend, as analyze scores themes with), unless
    a backend is set explicitly; one that differs from the fit's is refused.
    """
    import numpy as np
    import pandas as pd

    from pipeline.embed import load_embeddings
    from pipeline.embedders import make_embedder, model_name
    from pipeline.runner import fit_settings, read_themes, writer
    from pipeline.themes import calibration_table, theme_vectors

    labelled = pd.read_csv(labels)
    themes = read_themes(ctx.settings.themes_file)
    with writer(ctx.settings) as store:
        s = fit_settings(store, ctx.settings)
        model = model_name(s.embedding_backend)
        vectors = theme_vectors(
            store, themes, model, lambda: make_embedder(s.embedding_backend, s.embed_batch_size)
        )
        ids, matrix = load_embeddings(store, model)
        texts = dict(store.query_file("ops/paper_texts").values)
    embeddings = dict(zip(ids, matrix, strict=True))
    found = labelled["paper_id"].isin(embeddings).sum()
    if found == 0:
        raise ValueError(
            f"none of the {len(labelled)} labelled papers is embedded with {model} in "
            f"{s.work_db}; run `trends run --sample 2000` (or more) first"
        )
    table = calibration_table(themes, labelled, embeddings, texts, vectors)
    grid = Table()
    for col in table.columns:
        grid.add_column(col)
    for row in table.itertuples(index=False):
        grid.add_row(*(f"{v:.2f}" if isinstance(v, float | np.floating) else str(v) for v in row))
    out.print(grid)
    out.print(
        f"themes calibrate: {found:,} of {len(labelled):,} labelled rows in the store; "
        f"mean F1 {table['f1'].mean():.3f} at the file's thresholds, "
        f"{table['best_f1'].mean():.3f} at the best ones"
    )


@models_app.command("build")
@guarded
def models_build(
    backend: Annotated[
        list[EmbeddingBackend] | None,
        typer.Option("--backend", help="Build only this backend's model (onnx, static)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if valid.")] = False,
    models_dir: Annotated[
        Path | None, typer.Option(help="Where the models go (env TRENDS_MODELS_DIR).")
    ] = None,
) -> None:
    """Build the onnx and static models from the packaged MiniLM, offline; skips valid ones."""
    from pipeline.models import ARTIFACTS, build_models

    wanted = [b for b in backend or ARTIFACTS if b in ARTIFACTS]
    if backend and not wanted:
        raise ValueError("minilm needs no build: it is the packaged model itself")
    target = models_dir or ctx.settings.models_dir
    with console.status("building embedding models (minutes on first run)"):
        for summary in build_models(target, wanted, force=force):
            out.print(summary.line())
