"""SQL in every parameter of the `trends` command, and output paths that point elsewhere.

Every parameter that takes a value gets ``x'); drop table papers; --`` (a coverage test keeps
the table complete as options are added). A value is either refused with a clear message
(exit 1, or 2 for a value of the wrong type) or used as plain data: the store keeps its paper
and its tables, and nothing is run as SQL. `trends report --out` never replaces a folder that
is not a site, however the path is spelled.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import typer.main
from conftest import TOY_ROWS, seed_toy_fit
from loopserve import serve
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.store import open_writer
from pipeline.trends import build_marts

pytestmark = pytest.mark.reliability
INJ = "x'); drop table papers; --"
ABSTRACT = "An abstract about planning under uncertainty, long enough to be stored as one."
PAPER = {"id": "2501.00001", "title": "Planning", "abstract": ABSTRACT, "published": "2025-01-02"}
NO_RECORDS = (
    b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    b'<error code="noRecordsMatch">none</error></OAI-PMH>'
)


@dataclass(frozen=True)
class Param:
    """One parameter with SQL in it: the arguments, and the exit codes that are fine."""

    name: str  # "COMMAND --option" or "COMMAND ARGUMENT", as the coverage test lists them
    argv: Callable[[dict], list[str]]  # files/urls of the test -> arguments after --home
    exits: tuple[int, ...]
    says: str = ""  # what the message must contain when the command refuses


def files(tmp: Path) -> dict:
    tmp.mkdir(parents=True, exist_ok=True)
    good = tmp / "good.jsonl"
    good.write_text(json.dumps(PAPER) + "\n")
    snapshot = tmp / "snapshot.json"
    snapshot.write_text(json.dumps({**PAPER, "categories": "cs.AI", "update_date": "2025-01-02"}))
    page = tmp / "page.txt"
    page.write_text("Planning under uncertainty\n\n" + " ".join(["word"] * 30) + "\n")
    return {"tmp": tmp, "good": str(good), "snapshot": str(snapshot), "page": str(page)}


BT = ["backtest", "--from", "2024-01-01", "--to", "2025-01-01"]
PARAMS = [
    Param("--home", lambda f: ["--home", str(f["tmp"] / INJ), "init"], (0,)),
    Param("--data-dir", lambda f: ["--data-dir", INJ, "run"], (1,), "no such file"),
    Param("--backend", lambda f: ["--backend", INJ, "embed"], (2,), "Invalid value"),
    Param("--seed", lambda f: ["--seed", INJ, "topics"], (2,), "Invalid value"),
    Param("embed --batch-size", lambda f: ["embed", "--batch-size", INJ], (2,), "Invalid value"),
    Param("embed --backend", lambda f: ["embed", "--backend", INJ], (2,), "Invalid value"),
    Param("run --backend", lambda f: ["run", "--backend", INJ], (2,), "Invalid value"),
    Param("run --words", lambda f: ["run", "--words", INJ], (2,), "Invalid value"),
    Param("topics --words", lambda f: ["topics", "--full", "--words", INJ], (2,), "Invalid value"),
    Param("topics --fit-budget", lambda f: ["topics", "--full", "--fit-budget", INJ], (2,),
          "Invalid value"),
    Param("models build --backend", lambda f: ["models", "build", "--backend", INJ], (2,),
          "Invalid value"),
    Param("models build --models-dir", lambda f: ["models", "build", "--backend", "minilm",
                                                  "--models-dir", str(f["tmp"] / INJ)], (1,),
          "minilm needs no build"),
    Param("analyze --as-of", lambda f: ["analyze", "--as-of", INJ], (2,), "is not a date"),
    Param("report --out", lambda f: ["report", "--out", str(f["tmp"] / INJ)], (0,)),
    Param("analyze --decisions", lambda f: ["analyze", "--decisions", INJ], (2,),
          "Invalid value"),
    Param("report --grain", lambda f: ["report", "--grain", INJ], (2,), "Invalid value"),
    Param("report --since", lambda f: ["report", "--since", INJ], (2,), "Invalid value"),
    Param("run inputs", lambda f: ["run", INJ + ".parquet"], (1,), "no such file"),
    Param("run --sample", lambda f: ["run", "--sample", INJ], (2,), "Invalid value"),
    Param("run --as-of", lambda f: ["run", f["good"], "--as-of", INJ], (2,), "is not a date"),
    Param("run --from", lambda f: ["run", f["good"], "--from", INJ], (2,), "is not a date"),
    Param("run --to", lambda f: ["run", f["good"], "--to", INJ], (2,), "is not a date"),
    Param("run --sample-per-period", lambda f: ["run", "--sample-per-period", INJ], (2,),
          "Invalid value"),
    Param("ingest file --from", lambda f: ["ingest", "file", f["good"], "--from", INJ], (2,),
          "is not a date"),
    Param("ingest file --to", lambda f: ["ingest", "file", f["good"], "--to", INJ], (2,),
          "is not a date"),
    Param("ingest file --sample-per-period", lambda f: ["ingest", "file", f["good"],
                                                        "--sample-per-period", INJ], (2,),
          "Invalid value"),
    Param("ingest file --chunk-rows", lambda f: ["ingest", "file", f["good"], "--chunk-rows",
                                                 INJ], (2,), "Invalid value"),
    Param("sql query", lambda f: ["sql", "drop table papers"], (1,), "read-only"),
    Param("sql --format", lambda f: ["sql", "select 1", "--format", INJ], (2,), "--format"),
    Param("sql --limit", lambda f: ["sql", "select 1", "--limit", INJ], (2,), "Invalid value"),
    Param("ingest file path", lambda f: ["ingest", "file", INJ + ".jsonl"], (1,), "no such file"),
    Param("ingest file --source", lambda f: ["ingest", "file", f["good"], "--source", INJ], (0,)),
    Param("ingest file --sample", lambda f: ["ingest", "file", f["good"], "--sample", INJ], (2,),
          "Invalid value"),
    Param("ingest file --map", lambda f: ["ingest", "file", f["good"], "--map", f"{INJ}=title"],
          (1,), "unknown target column"),
    Param("ingest arxiv --category", lambda f: ["ingest", "arxiv", "--category", INJ], (1,),
          "is not an arXiv category"),
    Param("ingest arxiv --url", lambda f: ["ingest", "arxiv", "-c", "cs.AI", "--url", INJ,
                                           "--retries", "0", "--pause", "0"], (1,), INJ),
    Param("ingest arxiv --from", lambda f: ["ingest", "arxiv", "-c", "cs.AI", "--from", INJ],
          (2,), "is not a date"),
    Param("ingest arxiv --to", lambda f: ["ingest", "arxiv", "-c", "cs.AI", "--to", INJ], (2,),
          "is not a date"),
    Param("ingest arxiv --page-size", lambda f: ["ingest", "arxiv", "-c", "cs.AI", "--page-size",
                                                 INJ], (2,), "Invalid value"),
    Param("ingest arxiv --pause", lambda f: ["ingest", "arxiv", "-c", "cs.AI", "--pause", INJ],
          (2,), "Invalid value"),
    Param("ingest arxiv --timeout", lambda f: ["ingest", "arxiv", "-c", "cs.AI", "--timeout",
                                               INJ], (2,), "Invalid value"),
    Param("ingest arxiv --retries", lambda f: ["ingest", "arxiv", "-c", "cs.AI", "--retries",
                                               INJ], (2,), "Invalid value"),
    Param("ingest oai --url", lambda f: ["ingest", "oai", "--url", INJ, "--retries", "0",
                                         "--pause", "0"], (1,), INJ),
    Param("ingest oai --set", lambda f: ["ingest", "oai", "--url", f["url"], "--set", INJ,
                                         "--pause", "0"], (0,)),
    Param("ingest oai --from", lambda f: ["ingest", "oai", "--from", INJ], (2,), "is not a date"),
    Param("ingest oai --until", lambda f: ["ingest", "oai", "--until", INJ], (2,),
          "is not a date"),
    Param("ingest oai --pause", lambda f: ["ingest", "oai", "--pause", INJ], (2,),
          "Invalid value"),
    Param("ingest oai --timeout", lambda f: ["ingest", "oai", "--timeout", INJ], (2,),
          "Invalid value"),
    Param("ingest oai --retries", lambda f: ["ingest", "oai", "--retries", INJ], (2,),
          "Invalid value"),
    Param("ingest kaggle path", lambda f: ["ingest", "kaggle", INJ + ".json"], (1,),
          "no such file"),
    Param("ingest kaggle --category", lambda f: ["ingest", "kaggle", f["snapshot"], "-c", INJ],
          (0,)),
    Param("ingest kaggle --since", lambda f: ["ingest", "kaggle", f["snapshot"], "--since", INJ],
          (2,), "is not a date"),
    Param("ingest kaggle --chunk-lines", lambda f: ["ingest", "kaggle", f["snapshot"],
                                                    "--chunk-lines", INJ], (2,), "Invalid value"),
    Param("ingest page path", lambda f: ["ingest", "page", INJ + ".txt"], (1,), "no such file"),
    Param("ingest page --source", lambda f: ["ingest", "page", f["page"], "--source", INJ], (0,)),
    Param("themes calibrate --labels", lambda f: ["themes", "calibrate", "--labels", INJ + ".csv"],
          (1,), "No such file"),
    Param("backtest --from", lambda f: ["backtest", "--from", INJ, "--to", "2025-01-01"], (2,),
          "is not a date"),
    Param("backtest --to", lambda f: ["backtest", "--from", "2025-01-01", "--to", INJ], (2,),
          "is not a date"),
    Param("backtest --grain", lambda f: [*BT, "--grain", INJ], (2,), "backtest grain"),
    Param("backtest --tune-until", lambda f: [*BT, "--tune-until", INJ], (2,), "Invalid value"),
    Param("backtest --topics", lambda f: [*BT, "--topics", INJ], (2,), "backtest topics"),
    Param("backtest --fit-budget", lambda f: [*BT, "--fit-budget", INJ], (2,), "Invalid value"),
    Param("backtest --source", lambda f: [*BT, "--source", INJ], (2,), "backtest source"),
    Param("backtest --cache", lambda f: [*BT, "--cache", str(f["tmp"] / INJ)], (1,), "error:"),
    Param("themes calibrate --sample", lambda f: ["themes", "calibrate", "--sample", INJ], (2,),
          "Invalid value"),
]  # fmt: skip


def cli_parameters() -> set[str]:
    """Every parameter of the command that takes a value, as "COMMAND --option"."""
    found = set()

    def walk(command, path: list[str]) -> None:
        for p in command.params:
            if getattr(p, "is_flag", False):
                continue
            opt = p.opts[0] if p.opts[0].startswith("-") else p.name
            found.add(" ".join([*path, opt]))
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def test_every_parameter_that_takes_a_value_is_covered():
    missing = cli_parameters() - {p.name for p in PARAMS}
    assert not missing, f"add a row to PARAMS for: {sorted(missing)}"


@pytest.fixture(scope="module")
def home_template(tmp_path_factory) -> Path:
    """A home with one ingested paper, a hand-made fit and marts, published."""
    tmp = tmp_path_factory.mktemp("cli")
    home = tmp / "home"
    runner = CliRunner()
    f = files(tmp / "in")
    assert runner.invoke(app, ["--home", str(home), "ingest", "file", f["good"]]).exit_code == 0
    with open_writer(home / "work" / "trends.duckdb") as store:
        seed_toy_fit(store, TOY_ROWS)
        build_marts(store)
    assert runner.invoke(app, ["--home", str(home), "publish"]).exit_code == 0
    return home


@pytest.fixture
def home(home_template, tmp_path) -> Path:
    return Path(shutil.copytree(home_template, tmp_path / "home", symlinks=True))


def tables_and_papers(db: Path) -> tuple[list, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute("select table_name from information_schema.tables order by 1")
        return tables.fetchall(), con.execute("select count(*) from papers").fetchone()[0]


@pytest.mark.parametrize("param", PARAMS, ids=[p.name for p in PARAMS])
def test_sql_in_every_cli_parameter(param, home, tmp_path):
    work, published = home / "work" / "trends.duckdb", home / "trends.duckdb"
    before = tables_and_papers(work), tables_and_papers(published)
    with serve(NO_RECORDS) as (url, queries):
        f = {**files(tmp_path / "in"), "url": url}
        result = CliRunner().invoke(app, ["--home", str(home), *param.argv(f)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code in param.exits, result.output
    if result.exit_code:
        assert param.says in " ".join(result.output.split()), result.output
    tables, papers = tables_and_papers(work)
    assert tables == before[0][0] and papers >= before[0][1]  # nothing dropped or deleted
    assert tables_and_papers(published) == before[1]
    if param.name == "ingest oai --set":
        assert queries[0]["set"] == INJ  # sent to the server as the value it is
    if param.name.endswith("--source") and result.exit_code == 0:
        with duckdb.connect(str(work), read_only=True) as con:
            assert con.execute(
                "select count(*) from ingest_runs where source = ?", [INJ]
            ).fetchone()


@pytest.mark.parametrize(
    "spelling",
    ["victim", "sub/../victim", "sub/../../{tmp}/victim", "victim/file.txt"],
    ids=["folder", "dot-dot", "dot-dot-absolute", "file"],
)
def test_report_refuses_to_replace_what_is_not_a_site(spelling, home, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "file.txt").write_text("precious")
    (tmp_path / "sub").mkdir()
    out = tmp_path / spelling.format(tmp=tmp_path.name)
    result = CliRunner().invoke(app, ["--home", str(home), "report", "--out", str(out)])
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert "error:" in message and "is not a Research Trends site" in message, message
    assert (victim / "file.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "sub", "victim"]


def test_report_replaces_an_earlier_site_and_only_its_own_builds(home, tmp_path):
    runner = CliRunner()
    out = tmp_path / "site"
    for _ in range(2):
        assert runner.invoke(app, ["--home", str(home), "report", "--out", str(out)]).exit_code == 0
    # a user's link to a folder of theirs: the link is replaced, their folder is kept
    mine = tmp_path / ".site-mine0000"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    out.unlink()
    out.symlink_to(mine.name)
    assert runner.invoke(app, ["--home", str(home), "report", "--out", str(out)]).exit_code == 0
    assert (mine / "notes.txt").read_text() == "mine"
    builds = [p.name for p in tmp_path.iterdir() if p.name.startswith(".site-")]
    assert sorted(builds) == sorted([out.resolve().name, mine.name])
