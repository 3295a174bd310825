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
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            help="Store the best thresholds of each backend calibrated here in the calibration "
            "file (themes.calibration.toml next to the themes file).",
        ),
    ] = False,
    sample: Annotated[
        int, typer.Option(min=100, help="Store papers that set the strong floor and shares.")
    ] = 20_000,
) -> None:
    """Score each backend's theme thresholds against a labelled sample (papers in the store).

    Every backend whose vectors of the labelled papers are in the store is reported (only the
    one set with --backend, when set): per theme, the calibration file's thresholds and the
    best ones with their precision, recall and F1 on the labelled rows, and the share of the
    store's papers each makes members. `trends --backend static embed` embeds papers for one.
    """
    from datetime import UTC, datetime

    import pandas as pd

    from pipeline.embedders import make_embedder, model_name
    from pipeline.runner import read_themes, writer
    from pipeline.theme_rules import calibration_toml
    from pipeline.themes import calibrate_models

    settings = ctx.settings
    chosen = (
        [settings.embedding_backend]
        if "embedding_backend" in settings.model_fields_set
        else list(EmbeddingBackend)
    )
    themes = read_themes(settings.themes_file)
    try:
        labelled = pd.read_csv(labels, usecols=["theme_id", "paper_id", "label"])
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"labelled sample {labels}: {str(exc).splitlines()[0]}") from None
    with writer(settings) as store:
        result = calibrate_models(
            store,
            themes,
            labelled,
            {b.value: model_name(b) for b in chosen},
            lambda b: make_embedder(EmbeddingBackend(b), settings.embed_batch_size),
            sample=sample,
            today=datetime.now(UTC).date().isoformat(),
        )
    grid = Table()
    for col in result.table.columns:
        grid.add_column(HEADERS.get(col, col))
    for row in result.table.itertuples(index=False):
        grid.add_row(*(_cell(k, v) for k, v in zip(result.table.columns, row, strict=True)))
    out.print(grid)
    for line in result.lines:
        out.print(line)
    if write:
        path = result.calibration.path
        path.write_text(calibration_toml(result.calibration), encoding="utf-8")
        out.print(
            f"themes calibrate: wrote the best thresholds of "
            f"{', '.join(result.table['backend'].unique())} to {path}"
        )


# Short column names: the table has 17 columns and must fit a terminal.
HEADERS = {
    "theme_id": "theme",
    "positives": "pos",
    "threshold": "thr",
    "threshold_strong": "strong",
    "precision": "P",
    "recall": "R",
    "f1": "F1",
    "strong_floor": "floor",
    "best_threshold": "best thr",
    "best_threshold_strong": "best strong",
    "best_precision": "best P",
    "best_recall": "best R",
    "best_f1": "best F1",
    "best_share": "best share",
}


def _cell(column: str, value: object) -> str:
    if isinstance(value, float) and value != value:
        return "-"  # NaN: the calibration file has no thresholds for this backend
    if isinstance(value, float):
        return f"{value:.1%}" if column.endswith("share") else f"{value:.2f}"
    return str(value)


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
