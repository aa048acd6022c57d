"""Production refuses a weak SECRET_KEY (issue 11, item 10), started the way an operator starts
it: gunicorn with gunicorn.conf.py, the `flask --app wsgi` command line and a Celery worker
(`make worker`), each in its own process. The refusal is one line on stderr naming the
problem, never a traceback.

An empty key used to start a production server whose cookies anyone could sign.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from quizapp.config import DEFAULT_SECRET_KEY

BIN = Path(sys.executable).parent
WEAK_KEYS = {
    "empty": ("", "SECRET_KEY is empty"),
    "blank": ("   ", "SECRET_KEY is empty"),
    "default": (DEFAULT_SECRET_KEY, "SECRET_KEY is the development default"),
    "short": ("3f1c29be0d84e7f9b6a5c4d3e2f1a0b", "SECRET_KEY has 31 characters, fewer than 32"),
    "repetitive": ("ab" * 32, "SECRET_KEY repeats too few characters to be random"),
}
GOOD_KEY = "a3f1c29be0d84e7f9b6a5c4d3e2f1a0b"  # 32 characters of hex


def production_env(tmp_path: Path, secret: str | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("QUIZAPP_", "GUNICORN_")) and key != "SECRET_KEY"
    }
    env.update(
        QUIZAPP_ENV="production",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite'}",
        PYTHONPATH=str(REPO_ROOT),
    )
    if secret is not None:
        env["SECRET_KEY"] = secret
    return env


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    # The timeout only keeps a wrongly started server from hanging the suite.
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def assert_refused_in_one_line(result: subprocess.CompletedProcess, reason: str) -> None:
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if "quizapp" in line]
    advice = "QUIZAPP_ENV=production needs at least 32 random characters, e.g. " + (
        "SECRET_KEY=$(openssl rand -hex 32)"
    )
    assert lines == [f"quizapp: refusing to start: {reason}: {advice}"]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("name", sorted(WEAK_KEYS))
def test_gunicorn_refuses_a_weak_secret_key_before_any_worker_starts(tmp_path, name):
    secret, reason = WEAK_KEYS[name]
    result = run(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-b", "127.0.0.1:0", "wsgi:app"],
        production_env(tmp_path, secret),
    )
    assert_refused_in_one_line(result, reason)
    assert result.returncode == 1
    assert "Booting worker" not in result.stderr
    # Nothing else was written: the refusal is the whole output.
    assert result.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("name", sorted(WEAK_KEYS))
def test_the_flask_command_line_refuses_a_weak_secret_key(tmp_path, name):
    secret, reason = WEAK_KEYS[name]
    result = run(
        [str(BIN / "flask"), "--app", "wsgi", "users", "list"], production_env(tmp_path, secret)
    )
    assert_refused_in_one_line(result, reason)
    assert result.returncode == 1


@pytest.mark.parametrize("name", ["empty", "default", "short"])
def test_a_celery_worker_refuses_a_weak_secret_key(tmp_path, name):
    secret, reason = WEAK_KEYS[name]
    result = run(
        [str(BIN / "celery"), "-A", "quizapp.jobs.celery_worker", "worker", "--concurrency", "1"],
        production_env(tmp_path, secret),
    )
    assert_refused_in_one_line(result, reason)
    assert result.returncode == 1


def test_a_celery_worker_loads_with_a_strong_secret_key(tmp_path):
    """The refusal above is the key's doing: `celery report` loads the same app and exits."""
    result = run(
        [str(BIN / "celery"), "-A", "quizapp.jobs.celery_worker", "report"],
        production_env(tmp_path, GOOD_KEY),
    )
    assert result.returncode == 0, result.stderr
    assert "refusing" not in result.stderr and "software -> celery" in result.stdout


def test_a_missing_secret_key_is_the_development_default_and_refused(tmp_path):
    result = run(
        [str(BIN / "flask"), "--app", "wsgi", "users", "list"], production_env(tmp_path, None)
    )
    assert_refused_in_one_line(result, "SECRET_KEY is the development default")


def test_a_strong_secret_key_starts_and_development_needs_none(tmp_path):
    """The refusals above are the key's doing: the same command works with a good key."""
    started = run(
        [str(BIN / "flask"), "--app", "wsgi", "routes"], production_env(tmp_path, GOOD_KEY)
    )
    assert started.returncode == 0, started.stderr
    assert "auth.login" in started.stdout
    development = production_env(tmp_path, None)
    development["QUIZAPP_ENV"] = "development"
    assert run([str(BIN / "flask"), "--app", "wsgi", "routes"], development).returncode == 0
