"""The CLI's one error guard (issue 21 item 12): every failure is one line naming its file.

A full disk during publish and report, a themes file nested 50,000 deep, a themes path that is
a folder, and an unexpected error each end in exit status 1 with one ``error:`` line and no
traceback; ``TRENDS_DEBUG=1`` lets the traceback through.
"""

from __future__ import annotations

import errno
import os
import pathlib
import shutil
from pathlib import Path

import pytest
from conftest import TOY_ROWS, seed_toy_fit
from typer.testing import CliRunner

from pipeline import runner
from pipeline.cli import app
from pipeline.store import copy as store_copy
from pipeline.store import open_writer
from pipeline.trends import build_marts

pytestmark = pytest.mark.reliability


def disk_full() -> OSError:
    """ENOSPC as ``write()`` raises it: no file name attached."""
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture(scope="module")
def home_template(tmp_path_factory) -> Path:
    """A home with a hand-made fit and its marts (enough to publish and report)."""
    home = tmp_path_factory.mktemp("guard") / "home"
    with open_writer(home / "work" / "trends.duckdb") as store:
        seed_toy_fit(store, TOY_ROWS)
        build_marts(store)
    return home


@pytest.fixture
def home(home_template, tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("TRENDS_DEBUG", raising=False)
    monkeypatch.delenv("TRENDS_EMBEDDING_BACKEND", raising=False)
    return Path(shutil.copytree(home_template, tmp_path / "home", symlinks=True))


def one_error_line(result) -> str:
    """The run failed with status 1 and printed exactly one line, an ``error:`` line."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_disk_full_during_publish_names_the_published_file(home, monkeypatch):
    def fill_disk(src, dst, *args, **kwargs):
        Path(dst).write_bytes(b"partial")  # some bytes made it before the disk filled
        raise disk_full()

    monkeypatch.setattr(store_copy.shutil, "copyfile", fill_disk)
    result = CliRunner().invoke(app, ["--home", str(home), "publish"])
    line = one_error_line(result)
    published = home / "trends.duckdb"
    assert str(published) in line and "disk full" in line and "errno 28" in line
    assert not published.exists()
    assert not [p for p in home.iterdir() if p.name.endswith(".tmp")]  # no partial copy left


def test_disk_full_during_report_names_the_site_folder(home, tmp_path, monkeypatch):
    out = tmp_path / "site"
    real_write_text = pathlib.Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name.endswith(".html"):
            raise disk_full()
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", write_text)
    result = CliRunner().invoke(app, ["--home", str(home), "report", "--out", str(out)])
    line = one_error_line(result)
    assert str(out) in line and "disk full" in line


@pytest.mark.parametrize("command", [["analyze"], ["themes", "calibrate"]])
def test_themes_file_nested_50000_deep_is_one_line(home, tmp_path, monkeypatch, command):
    themes = tmp_path / "deep.toml"
    themes.write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n")
    monkeypatch.setenv("TRENDS_THEMES_FILE", str(themes))
    labels = tmp_path / "labels.csv"
    labels.write_text("theme_id,paper_id,label\n")
    extra = ["--labels", str(labels)] if command[0] == "themes" else []
    result = CliRunner().invoke(app, ["--home", str(home), *command, *extra])
    line = one_error_line(result)
    assert str(themes) in line and "nested too deeply" in line


def test_themes_path_that_is_a_folder_is_one_line(home, tmp_path, monkeypatch):
    folder = tmp_path / "themes.toml"
    folder.mkdir()
    monkeypatch.setenv("TRENDS_THEMES_FILE", str(folder))
    line = one_error_line(CliRunner().invoke(app, ["--home", str(home), "analyze"]))
    assert str(folder) in line and "is a folder" in line


def test_unexpected_error_is_one_line_with_type_and_hint(home, monkeypatch):
    def broken(store, dest):
        raise KeyError("no such column: papers.size")

    monkeypatch.setattr(runner, "publish_database", broken)
    line = one_error_line(CliRunner().invoke(app, ["--home", str(home), "publish"]))
    assert "KeyError" in line and "no such column: papers.size" in line
    assert "TRENDS_DEBUG=1" in line

    monkeypatch.setenv("TRENDS_DEBUG", "1")
    result = CliRunner().invoke(app, ["--home", str(home), "publish"])
    assert isinstance(result.exception, KeyError)  # the traceback is the caller's to print


def test_usage_errors_keep_exit_status_2(home):
    result = CliRunner().invoke(app, ["--home", str(home), "analyze", "--as-of", "yesterday"])
    assert result.exit_code == 2 and "is not a date" in result.output
