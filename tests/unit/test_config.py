"""Settings: the documented example file shows the real defaults."""

import os
from pathlib import Path

from pipeline.config import REPO_ROOT, Settings


def test_env_example_lists_every_setting_with_its_default(monkeypatch):
    for name in [n for n in os.environ if n.startswith("TRENDS_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    example = REPO_ROOT / ".env.example"
    listed = {
        line.split("=", 1)[0].removeprefix("TRENDS_").lower()
        for line in example.read_text().splitlines()
        if line.startswith("TRENDS_")
    }
    assert listed == set(Settings.model_fields)
    shown = Settings(_env_file=example)
    default = Settings(_env_file=None)
    for name in Settings.model_fields:
        got, want = getattr(shown, name), getattr(default, name)
        if isinstance(got, Path) and not got.is_absolute() and want.is_absolute():
            # the example's paths are relative to the repo; compare them as written, links
            # unresolved (CI links ../shared into place)
            got, want = Path(os.path.normpath(REPO_ROOT / got)), Path(os.path.normpath(want))
        assert got == want, name
