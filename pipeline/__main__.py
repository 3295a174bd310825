"""`python -m pipeline` is the `trends` command."""

from pipeline.cli import app

app(prog_name="trends")
