"""Settings of the pipeline: one typed object read from the environment.

Every setting has an environment variable (prefix ``TRENDS_``) and a documented default;
``.env.example`` lists them. CLI flags override them per command.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = REPO_ROOT / "sql"
REPORTS_DIR = REPO_ROOT / "reports"


class EmbeddingBackend(StrEnum):
    """Sentence-embedding backends (all from the packaged all-MiniLM-L6-v2, offline).

    ``minilm``: the model in torch fp32. ``onnx`` (the default): the same model in ONNX Runtime,
    int8, each text run alone (about 3x faster than ``minilm`` on 2 cores, cosine 0.995 to it).
    ``static``: a model2vec static model distilled from it. The last two are built by
    ``trends models build`` into ``models_dir`` (or on first use).
    """

    minilm = "minilm"
    onnx = "onnx"
    static = "static"


class EmbedDevice(StrEnum):
    """Where the transformer backends run (``TRENDS_EMBED_DEVICE``); see :mod:`pipeline.embedders`.

    ``cpu`` (the default): always the CPU. ``cuda``: torch's CUDA device (``minilm``) or ONNX
    Runtime's CUDA provider (``onnx``), and one error line when there is none. ``auto``: CUDA
    when present, else the CPU. ``static`` is a table lookup and always runs on the CPU.
    """

    cpu = "cpu"
    cuda = "cuda"
    auto = "auto"


class TopicRepresentation(StrEnum):
    """How each topic's ten words are chosen from its c-TF-IDF ranking.

    ``ctfidf`` (the default): the BM25 c-TF-IDF ranking as it is. ``mmr``: maximal marginal
    relevance over the 30 best c-TF-IDF terms, trading a term's weight against its embedding
    similarity to the terms already chosen, so near-synonyms ("graph", "graphs") give way to
    other words. It embeds the candidate words with the fit's backend; on arXiv and BBC News it
    lowers NPMI (docs/benchmarks.md), hence not the default.
    """

    ctfidf = "ctfidf"
    mmr = "mmr"


class ReportGrain(StrEnum):
    """Grain of the report's recent view: the period of day-precision sources' charts.

    Year-precision sources are always shown by year, in the long view.
    """

    month = "month"
    quarter = "quarter"
    year = "year"


class Decisions(StrEnum):
    """Which papers the marts count, by review outcome (``papers.decision``).

    ``accepted`` (the default): accepted papers and papers with no review outcome (arXiv);
    rejected and withdrawn submissions are left out. ``all``: every paper.
    """

    accepted = "accepted"
    all = "all"


def default_models_dir() -> Path:
    """Where built models go: ``$XDG_CACHE_HOME/research-trends/models`` (``~/.cache/...``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "research-trends" / "models"


class Settings(BaseSettings):
    """Where the pipeline keeps its state and which defaults it runs with."""

    model_config = SettingsConfigDict(env_prefix="TRENDS_", env_file=".env", extra="ignore")

    home: Path = Field(Path("var"), description="Working DB, published DB and site live here.")
    data_dir: Path = Field(
        REPO_ROOT.parent / "shared" / "data", description="Folder of the real input data."
    )
    embedding_backend: EmbeddingBackend = EmbeddingBackend.onnx
    seed: int = 42
    topic_representation: TopicRepresentation = TopicRepresentation.ctfidf
    embed_batch_size: int = Field(64, ge=1, le=4096)
    embed_device: EmbedDevice = Field(
        EmbedDevice.cpu, description="cpu, cuda or auto: where minilm and onnx embed."
    )
    fit_budget: int = Field(
        40_000,  # pipeline.topics.sampling.DEFAULT_BUDGET (not imported: config stays light)
        ge=20,
        description=(
            "Papers a full topic fit clusters at most; a larger store is fitted on a "
            "period-balanced sample of this many and the rest placed (topics/sampling.py)."
        ),
    )
    decisions: Decisions = Field(
        Decisions.accepted,
        description="Papers the marts count: accepted (and no outcome, e.g. arXiv), or all.",
    )
    models_dir: Path = Field(
        default_factory=default_models_dir,
        description="Built embedding models (onnx, static); outside the repo, shared by checkouts.",
    )
    themes_file: Path = Field(
        REPO_ROOT / "themes" / "themes.toml", description="Themes the report follows."
    )
    duckdb_memory_limit: str = Field(
        "256MB",
        pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$",
        description=(
            "DuckDB's buffer pool limit for writers (e.g. 512MB, 2GB); DuckDB spills to disk "
            "beyond it, so large ingests run in bounded memory."
        ),
    )
    # Notifications of the DAGs (pipeline/notify.py); none set: nothing is sent.
    notify_webhook_url: str | None = Field(
        None, description="POST a JSON message here when a DAG task fails (chat webhooks)."
    )
    notify_smtp: str | None = Field(
        None, description="host:port of an SMTP relay to mail failures through."
    )
    notify_email_to: str | None = Field(None, description="Comma-separated mail recipients.")
    notify_email_from: str = "research-trends@localhost"
    notify_on_success: bool = Field(
        False, description="Also notify when a DAG run's last task succeeds."
    )

    @field_validator("notify_webhook_url", "notify_smtp", "notify_email_to", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """``TRENDS_NOTIFY_SMTP=`` (as in ``.env.example``) means no target."""
        return None if isinstance(value, str) and not value.strip() else value

    report_grain: ReportGrain = Field(
        ReportGrain.month,
        description="Grain of the report's recent view of day-precision sources.",
    )
    report_since: int = Field(
        2015,
        ge=1900,
        le=2100,
        description="Year the long view measures growth from (or the first year with evidence).",
    )
    report_search_chunk: int = Field(
        50_000,
        ge=100,
        description="Papers per file of the report's search index (newest first, read as needed).",
    )

    oai_url: str = Field(
        "https://export.arxiv.org/oai2",
        description="OAI-PMH base URL of the daily arXiv feed (trends_ingest's scheduled runs).",
    )
    oai_set: str = Field(
        "cs", description="OAI set the daily feed harvests (e.g. cs, physics:hep-th)."
    )
    arxiv_api_url: str = Field(
        "https://export.arxiv.org/api/query", description="arXiv API endpoint (source arxiv)."
    )
    fetch_pause: float = Field(
        3.0,
        ge=0,
        description="Seconds between two requests to arXiv (its terms ask for 3).",
    )

    @field_validator("models_dir")
    @classmethod
    def _expand_user(cls, value: Path) -> Path:
        """Allow ``~`` in the variable (as in ``.env.example``)."""
        return value.expanduser()

    @property
    def work_db(self) -> Path:
        """The database the pipeline writes (one writer at a time)."""
        return self.home / "work" / "trends.duckdb"

    @property
    def published_db(self) -> Path:
        """The read-only copy readers query; replaced atomically by ``publish``."""
        return self.home / "trends.duckdb"

    @property
    def site_dir(self) -> Path:
        """The published static site (a symlink swapped atomically)."""
        return self.home / "site"

    @property
    def lock_file(self) -> Path:
        """Lock that keeps writers to one process at a time."""
        return self.home / "work" / "writer.lock"

    def default_corpus(self) -> Path:
        """The corpus `trends run` ingests when no input is named."""
        return self.data_dir / "arxiv_cs_ai_2025.parquet"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, then apply non-None overrides."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)
