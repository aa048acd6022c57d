"""The session attacks of issue 11 (items 1 and 2) against the real thing: gunicorn in
production mode on a migrated database (SQLite, and PostgreSQL where configured), spoken to
over HTTP with the cookies an attacker would copy out of a browser.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from conftest import POSTGRES_URL, REPO_ROOT, _reset_postgres, free_port, wait_until_up

BIN = Path(sys.executable).parent
PASSWORD = "a long and private passphrase"
READY_WAIT = 120  # seconds: a bound on gunicorn starting, not a timing check
_CSRF = re.compile(r'name="(?:[a-z]+-)?csrf_token" type="hidden" value="([^"]+)"')


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """Keeps cookies like a browser, never follows redirects (the tests look at them)."""

    def __init__(self, base: str, cookies: dict[str, str] | None = None) -> None:
        self.base = base
        self.cookies = dict(cookies or {})
        self.opener = urllib.request.build_opener(NoRedirects)

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data)
        if self.cookies:
            request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        try:
            # A bound on a busy machine, not a timing check.
            response = self.opener.open(request, timeout=120)
        except urllib.error.HTTPError as error:  # 3xx (not followed) and 4xx land here
            response = error
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["expires"] and "1970" in morsel["expires"] or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        body = response.read().decode()
        return response.status, response.headers.get("Location", ""), body

    def post_form(self, path: str, form: dict[str, str], page: str | None = None):
        _, _, html = self.request(page or path)
        match = _CSRF.search(html)
        assert match, f"no CSRF token on {page or path}"
        return self.request(path, {**form, "csrf_token": match.group(1)})


@pytest.fixture(params=["sqlite", "postgres"])
def production_server(request, tmp_path):
    if request.param == "postgres":
        if not POSTGRES_URL:
            pytest.skip("QUIZAPP_TEST_POSTGRES_URL is not set (.ci/run sets it)")
        _reset_postgres(POSTGRES_URL)
        database = POSTGRES_URL
    else:
        database = f"sqlite:///{tmp_path / 'live.sqlite'}"
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("QUIZAPP_", "GUNICORN_", "RATELIMIT_"))
    }
    env.update(
        QUIZAPP_ENV="production",
        SECRET_KEY="5d0c3b8e2f6a41c79e8d2b4f6a0c1e3d",
        DATABASE_URL=database,
        QUIZAPP_SECURE_COOKIES="0",  # plain http on loopback
        QUIZAPP_LOG_REQUESTS="0",
        QUIZAPP_RATELIMIT="0",
        GUNICORN_WORKERS="1",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        PYTHONPATH=str(REPO_ROOT),
    )
    migrated = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/healthz", READY_WAIT, process, tmp_path / "gunicorn.log")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()


def remembered_browser(base: str, username: str) -> Browser:
    browser = Browser(base)
    signup = {"username": username, "password": PASSWORD, "confirm": PASSWORD}
    assert browser.post_form("/register", signup)[0] == 302
    assert browser.post_form("/logout", {})[0] == 302
    login = {"username": username, "password": PASSWORD, "remember": "y"}
    assert browser.post_form("/login", login)[0] == 302
    assert set(browser.cookies) >= {"session", "remember_token"}
    assert browser.request("/account")[0] == 200
    return browser


def assert_anonymous(base: str, cookies: dict[str, str]) -> None:
    status, location, _ = Browser(base, cookies).request("/account")
    assert status == 302, cookies.keys()
    assert location.startswith("/login")


def test_a_deleted_accounts_cookies_do_not_open_the_next_account(production_server):
    base = production_server
    owner = remembered_browser(base, "first-owner")
    saved = dict(owner.cookies)
    deleted = owner.post_form("/account", {"action": "delete", "del-password": PASSWORD})
    assert deleted[0] == 302
    newcomer = Browser(base)
    signup = {"username": "second-owner", "password": PASSWORD, "confirm": PASSWORD}
    assert newcomer.post_form("/register", signup)[0] == 302
    assert "second-owner" in newcomer.request("/account")[2]
    for kept in (("session", "remember_token"), ("session",), ("remember_token",)):
        assert_anonymous(base, {name: saved[name] for name in kept})


def test_logging_out_ends_the_session_on_the_server(production_server):
    base = production_server
    browser = remembered_browser(base, "leaver")
    saved = dict(browser.cookies)
    assert browser.post_form("/logout", {}, page="/logout")[0] == 302
    for kept in (("session", "remember_token"), ("session",), ("remember_token",)):
        assert_anonymous(base, {name: saved[name] for name in kept})
