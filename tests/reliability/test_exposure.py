"""Exposure: no secret in any file that could be committed; generated credentials stay ignored.

Scans every tracked file and every untracked file that git does not ignore (what a careless
``git add .`` would commit) for private keys, vendor tokens, JWTs, credentials in URLs and
passwords or keys assigned literal values. The local Airflow writes its admin password to
``airflow_home/simple_auth_manager_passwords.json.generated``: that path, the Airflow config
(its secret keys) and the state folder must be ignored. The live Airflow test checks that the
API listens on 127.0.0.1 only (``tests/dags/test_airflow_live.py``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.skipif(
        shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs a git checkout"
    ),
]

SECRETS = {
    "private key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    "AWS access key": r"\bAKIA[0-9A-Z]{16}\b",
    "GitHub token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
    "Slack token": r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    "API secret key": r"\bsk-[A-Za-z0-9_-]{20,}",
    "Google API key": r"\bAIza[0-9A-Za-z_-]{35}\b",
    "JWT": r"\beyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}",
    # a literal password; a placeholder ($var, %s, {name}) fills one in at run time
    "credentials in a URL": r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"<>]+:(?![$%{])[^/\s@'\"<>]+@",
    # a literal value, not a placeholder such as <password> or ${SECRET}
    "literal password or key": (
        r"(?i)\b(?:password|passwd|pwd|secret|secret_key|api_?key|access_token|auth_token"
        r"|fernet_key|private_key)\b[\"']?\s*[:=]\s*[\"']([^\"'\s<>${}]{6,})[\"']"
    ),
}
# Paths that hold credentials or state when they exist; git must ignore every one of them.
MUST_BE_IGNORED = [
    "airflow_home/simple_auth_manager_passwords.json.generated",
    "airflow_home/airflow.cfg",
    ".env",
    "var/trends.duckdb",
    "var/work/trends.duckdb",
]
SECRET_FILE_NAMES = re.compile(
    r"(^|/)(\.env|id_rsa|id_ed25519|[^/]*\.(pem|key|p12|pfx|generated|duckdb))$"
)


def git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True)
    return proc.stdout


def committable_files() -> list[str]:
    tracked = git("ls-files", "-z").split("\0")
    untracked = git("ls-files", "-z", "--others", "--exclude-standard").split("\0")
    return sorted({p for p in tracked + untracked if p and (REPO / p).is_file()})


def secrets_in(text: str) -> list[tuple[str, str]]:
    return [
        (kind, m.group(0)[:60])
        for kind, pattern in SECRETS.items()
        for m in re.finditer(pattern, text)
    ]


def test_the_scan_finds_each_kind_of_secret():
    # built at run time, so that this file holds none of them
    samples = {
        "private key": "-----BEGIN " + "RSA PRIVATE KEY-----",
        "AWS access key": "AKIA" + "ABCDEFGHIJKLMNOP",
        "GitHub token": "ghp_" + "a" * 36,
        "Slack token": "xoxb-" + "1234567890-abc",
        "API secret key": "sk-" + "A1" * 12,
        "Google API key": "AIza" + "B" * 35,
        "JWT": "eyJ" + "hbGciOiJIUzI1" + ".eyJ" + "zdWIiOiIxMjM0" + ".abcdefghijklm",
        "credentials in a URL": "postgresql://" + "airflow:hunter22@db/airflow",
        "literal password or key": "pass" + 'word = "hunter22"',
    }
    assert set(samples) == set(SECRETS)
    for kind, text in samples.items():
        assert [k for k, _ in secrets_in(text)] == [kind], kind
    for harmless in ('password = "<password>"', "token = page.token", "api_key = os.environ[k]"):
        assert secrets_in(harmless) == [], harmless


def test_no_secret_in_any_committable_file():
    found = []
    for path in committable_files():
        try:
            text = (REPO / path).read_text(encoding="utf-8")
        except UnicodeDecodeError:  # binary files
            continue
        found += [(path, kind, match) for kind, match in secrets_in(text)]
    assert found == []


def test_no_committable_file_is_a_credential_or_a_database():
    assert [p for p in committable_files() if SECRET_FILE_NAMES.search(p)] == []


@pytest.mark.parametrize("path", MUST_BE_IGNORED)
def test_generated_credentials_and_state_are_ignored(path):
    proc = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO)
    assert proc.returncode == 0, f"{path} is not git-ignored"
    assert path not in git("ls-files", path).split()
    assert Path(REPO / ".gitignore").is_file()
