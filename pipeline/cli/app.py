"""The typer apps, the settings every command reads, and the options several commands share."""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pipeline.config import EmbeddingBackend, Settings, TopicRepresentation, load_settings

app = typer.Typer(
    help="Research Trends: topics and trends of research abstracts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
ingest_app = typer.Typer(help="Ingest papers from a source.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
themes_app = typer.Typer(
    help="Themes the report follows (themes/themes.toml).", no_args_is_help=True
)
app.add_typer(themes_app, name="themes")
models_app = typer.Typer(
    help="Embedding models built offline from the packaged MiniLM (onnx, static).",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")
# Printed text holds data (titles, paths, source names): no console markup or emoji codes in it.
console = Console(stderr=True, markup=False, emoji=False)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200, markup=False, emoji=False)

HomeOpt = Annotated[Path | None, typer.Option("--home", help="State folder (env TRENDS_HOME).")]
BackendOpt = Annotated[
    EmbeddingBackend | None,
    typer.Option("--backend", help="Embedding backend (env TRENDS_EMBEDDING_BACKEND)."),
]
WordsOpt = Annotated[
    TopicRepresentation | None,
    typer.Option(
        "--words",
        help="How a refit picks topic words: ctfidf or mmr (env TRENDS_TOPIC_REPRESENTATION).",
    ),
]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="Keep papers published on or after (YYYY-MM-DD).")
]
ToOpt = Annotated[
    str | None, typer.Option("--to", help="Keep papers published on or before (YYYY-MM-DD).")
]
PerPeriodOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Deterministic sample of N papers per period of each input (a year for "
        "year-precision sources, a month for daily ones).",
    ),
]


class _Ctx:
    settings: Settings


ctx = _Ctx()


@app.callback()
def main(
    home: HomeOpt = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Input data folder (env TRENDS_DATA_DIR).")
    ] = None,
    backend: Annotated[
        EmbeddingBackend | None, typer.Option("--backend", help="Embedding backend.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed of topic fits (env TRENDS_SEED).")
    ] = None,
) -> None:
    """Settings come from the environment (TRENDS_*); these options override them."""
    from pipeline.cli.guard import guarded  # here: guard imports this module's console

    # a bad TRENDS_* value is one error line naming the setting, like any failed command
    ctx.settings = guarded(load_settings)(
        home=home, data_dir=data_dir, embedding_backend=backend, seed=seed
    )


def with_backend(
    settings: Settings,
    backend: EmbeddingBackend | None,
    words: TopicRepresentation | None = None,
) -> Settings:
    """The settings with a command's --backend and --words applied.

    Topics then use that backend's vectors, and a refit picks its words that way.
    """
    update = {"embedding_backend": backend, "topic_representation": words}
    return settings.model_copy(update={k: v for k, v in update.items() if v is not None})


def parse_date(value: str | None) -> date | None:
    """A YYYY-MM-DD option as a date; a usage error (exit 2) otherwise."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def progress_bar() -> Progress:
    """A transient progress bar on stderr (none when stderr is not a terminal)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def embed_callback(progress: Progress):
    """Progress callback ``(done, total)`` of the embed stage, in documents per second."""
    state: dict = {}

    def update(done: int, total: int) -> None:
        if "task" not in state:
            state["task"] = progress.add_task("embedding", total=total, rate="")
            state["t0"] = time.perf_counter()
        rate = done / max(time.perf_counter() - state["t0"], 1e-9)
        progress.update(state["task"], completed=done, rate=f"{rate:,.0f} docs/s")

    return update
