"""Log-in limits hold under bursts and across processes.

50 wrong passwords sent at once, for one account or from one address, get at most 5 password
checks (401) and 429 for the rest: each attempt is counted before its password is verified,
atomically in the limiter's store. In production with several gunicorn workers the counters
are shared (Redis, QUIZAPP_TEST_REDIS_URL; skipped with the reason elsewhere), and per-worker
memory is refused at start with one line.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import (
    REDIS_URL,
    REPO_ROOT,
    GunicornServer,
    make_app,
    production_env,
    redis_flushed,
    run_flask,
)
from sec_support import PASSWORD, log_in, sign_up

from quizapp.extensions import db

BURST = 50
ALLOWED = 5


@pytest.fixture
def throttled_app(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'burst.sqlite'}", RATELIMIT_ENABLED=True)
    sign_up(app.test_client(), "target")
    yield app
    with app.app_context():
        db.engine.dispose()
    make_app("sqlite://")  # the limiter is one object per process: switch it off again


def _burst(send) -> Counter[int]:
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        return Counter(pool.map(send, range(BURST)))


def test_50_parallel_guesses_at_one_account_get_at_most_5_password_checks(throttled_app):
    def guess(n: int) -> int:
        client = throttled_app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"  # every guess from elsewhere
        return log_in(client, "target", password=f"wrong guess {n}").status_code

    statuses = _burst(guess)
    assert statuses[401] <= ALLOWED, statuses
    assert statuses[429] >= BURST - ALLOWED, statuses
    # The account stays locked for the right password too, until the minute is over.
    assert log_in(throttled_app.test_client(), "target").status_code == 429


def test_50_parallel_guesses_from_one_address_get_at_most_5_password_checks(throttled_app):
    def guess(n: int) -> int:
        client = throttled_app.test_client()
        client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
        return log_in(client, f"someone-{n}", password="a wrong guess").status_code

    statuses = _burst(guess)
    assert statuses[401] <= ALLOWED, statuses
    assert statuses[429] >= BURST - ALLOWED, statuses


def test_a_right_password_is_not_counted_as_a_failure(throttled_app):
    client = throttled_app.test_client()
    for _ in range(ALLOWED + 3):
        assert log_in(client, "target").status_code == 302
        client.post("/logout")
    assert log_in(client, "target", password="now a wrong one").status_code == 401


# -- across processes: gunicorn with 4 workers --------------------------------------------------


def _post_login(url: str, username: str, password: str) -> int:
    body = urllib.parse.urlencode({"username": username, "password": password}).encode()
    request = urllib.request.Request(url + "/login", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def gunicorn_env(tmp_path):
    if not REDIS_URL:
        pytest.skip("QUIZAPP_TEST_REDIS_URL is not set (.ci/run sets it): no shared store")
    redis_flushed(REDIS_URL)
    # CSRF off: the log-in form is posted directly, as a guessing script would after
    # fetching a token; the limits are what is under test.
    env = production_env(
        f"sqlite:///{tmp_path / 'gunicorn.sqlite'}", REDIS_URL=REDIS_URL, QUIZAPP_CSRF="0"
    )
    run_flask(env, "db", "upgrade")
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "users", "create", "target"]
        + ["--password-stdin"],
        input=PASSWORD,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return env


def test_limits_hold_across_4_gunicorn_workers_with_the_default_shared_store(
    gunicorn_env, tmp_path
):
    # No RATELIMIT_STORAGE_URI: production's default is Redis at REDIS_URL.
    with GunicornServer(gunicorn_env, tmp_path / "gunicorn.log", workers=4) as server:
        with ThreadPoolExecutor(max_workers=BURST) as pool:
            account = Counter(
                pool.map(lambda n: _post_login(server.url, "target", f"guess {n}"), range(BURST))
            )
        assert account[401] <= ALLOWED, account
        assert account[429] >= BURST - ALLOWED, account
        assert _post_login(server.url, "target", PASSWORD) == 429
    # The address limit is shared too (every request comes from 127.0.0.1).
    redis_flushed(REDIS_URL)
    with GunicornServer(gunicorn_env, tmp_path / "gunicorn2.log", workers=4) as server:
        with ThreadPoolExecutor(max_workers=BURST) as pool:
            address = Counter(
                pool.map(lambda n: _post_login(server.url, f"user-{n}", "a guess"), range(BURST))
            )
        assert address[401] <= ALLOWED, address
        assert address[429] >= BURST - ALLOWED, address


def test_production_refuses_per_worker_memory_with_one_line(tmp_path):
    env = production_env(
        f"sqlite:///{tmp_path / 'refused.sqlite'}", RATELIMIT_STORAGE_URI="memory://"
    )
    server = GunicornServer(env, tmp_path / "refused.log", workers=4).start(wait=False)
    try:
        assert server.process.wait(60) != 0
    finally:
        server.stop()
    lines = [line for line in server.log.splitlines() if line.strip()]
    refusal = [line for line in lines if "quizapp: refusing to start" in line]
    assert len(refusal) == 1, lines
    assert "RATELIMIT_STORAGE_URI=memory:// with 4 web workers" in refusal[0]
    assert not any("Traceback" in line for line in lines), lines


def test_one_worker_may_count_in_memory(tmp_path, monkeypatch):
    from quizapp.config import limiter_storage_uri

    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "memory://")
    monkeypatch.setenv("QUIZAPP_WEB_WORKERS", "1")
    assert limiter_storage_uri(production=True) == "memory://"


def test_production_counts_in_redis_by_default(monkeypatch):
    from quizapp.config import limiter_storage_uri

    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/3")
    monkeypatch.delenv("QUIZAPP_WEB_WORKERS", raising=False)
    assert limiter_storage_uri(production=True) == "redis://cache.internal:6379/3"
    assert limiter_storage_uri(production=False) == "memory://"


def test_the_app_itself_refuses_memory_when_it_cannot_know_it_runs_alone(monkeypatch, tmp_path):
    # `gunicorn -w 4 wsgi:app` without gunicorn.conf.py: the worker count is unknown.
    from quizapp import create_app
    from quizapp.config import ConfigurationError

    for name, value in production_env(f"sqlite:///{tmp_path / 'x.sqlite'}").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "memory://")
    monkeypatch.delenv("QUIZAPP_WEB_WORKERS", raising=False)
    with pytest.raises(ConfigurationError, match="unknown number of web workers"):
        create_app()


def test_a_limiter_store_outage_is_a_503_not_an_unlimited_log_in(tmp_path):
    from conftest import free_port

    dead_redis = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = make_app(
        f"sqlite:///{tmp_path / 'outage.sqlite'}",
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=dead_redis,
    )
    try:
        response = log_in(app.test_client(), "target", password="a guess")
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert "try again in a few seconds" in response.get_data(as_text=True)
    finally:
        with app.app_context():
            db.engine.dispose()
        make_app("sqlite://")
