"""A real server (`flask run` in a subprocess) and a real Chromium, shared by the e2e tests.

The server runs on its own SQLite file, with the real content/ migrated and imported by
the CLI, CSRF on and rate limits off. The browser is Debian's /usr/bin/chromium driven by
Playwright; every page is watched for console errors and uncaught exceptions.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from quizapp.devtools.net import free_port, wait_until_up

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
READY_WAIT = 60.0  # seconds: a bound on the server start-up, not a performance assertion
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    database: Path
    content: Path
    log: Path

    def flask(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a `flask --app wsgi` command against the server's database."""
        done = subprocess.run(
            [*FLASK, *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done


@dataclass
class ConsoleWatch:
    """Console errors and uncaught exceptions seen by one page, whatever it navigated to."""

    problems: list[str] = field(default_factory=list)
    expected_statuses: set[int] = field(default_factory=set)

    @contextlib.contextmanager
    def expecting_status(self, status: int):
        """Within the block, a page answered with `status` on purpose (e.g. 401 for a wrong
        password): Chromium reports any 4xx document as a console error."""
        self.expected_statuses.add(status)
        try:
            yield
        finally:
            self.expected_statuses.discard(status)

    def watch(self, tab) -> None:
        tab.on("console", lambda message: self._on_console(tab, message))
        tab.on("pageerror", lambda error: self.problems.append(f"{tab.url}: uncaught {error}"))

    def _on_console(self, tab, message) -> None:
        expected = any(f"status of {status} " in message.text for status in self.expected_statuses)
        if message.type == "error" and not expected:
            self.problems.append(f"{tab.url}: console error: {message.text}")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """`flask run` on a free port, its database migrated and the real content imported."""
    root = tmp_path_factory.mktemp("e2e-server")
    content = root / "content"
    shutil.copytree(REPO_ROOT / "content", content)
    database = root / "e2e.sqlite"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "e2e-secret-key-not-for-production",
        "QUIZAPP_ENV": "development",
        "QUIZAPP_RATELIMIT": "0",
        "QUIZAPP_CONTENT_DIR": str(content),
        "QUIZAPP_SIM_WORKERS": "1",
        "QUIZAPP_LOG_REQUESTS": "0",
        "FLASK_DEBUG": "0",
    }
    env.pop("QUIZAPP_CSRF", None)  # CSRF on, as in production
    port = free_port()
    server = LiveServer(f"http://127.0.0.1:{port}", env, database, content, root / "server.log")
    server.flask("db", "upgrade")
    server.flask("content", "import")
    with server.log.open("w") as log:
        process = subprocess.Popen(
            [*FLASK, "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its simulation workers share the group: one kill ends all
        )
    try:
        wait_until_up(server.url + "/healthz", READY_WAIT, process, server.log)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (`make browser`)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def console():
    return ConsoleWatch()


@pytest.fixture
def page(browser, live_server, console):
    """A fresh browser context (no cookies) on the live server; no console error allowed."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport=VIEWPORT,
        color_scheme="light",
        reduced_motion="reduce",
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    console.watch(tab)
    yield tab
    context.close()
    assert not console.problems, "\n".join(console.problems)


@pytest.fixture(scope="session")
def screenshot(tmp_path_factory):
    """save(page, name): a full-page screenshot <name>.png at the page's viewport width.

    Into docs/screenshots/ (the README's pictures) with QUIZAPP_UPDATE_SCREENSHOTS=1, else
    into a temporary folder, so an ordinary test run leaves the work tree clean.
    """
    update = os.environ.get("QUIZAPP_UPDATE_SCREENSHOTS") == "1"
    folder = SCREENSHOTS if update else tmp_path_factory.mktemp("screenshots")

    def save(tab, name: str, full_page: bool = True) -> None:
        """`full_page=False`: just what is on screen now (e.g. feedback scrolled into view)."""
        folder.mkdir(parents=True, exist_ok=True)
        if full_page:
            tab.evaluate("window.scrollTo(0, 0)")  # else the sticky header lands mid-page
        tab.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)
        assert (folder / f"{name}.png").stat().st_size > 10_000  # a real page, not a blank

    return save


def pytest_plugin_registered(plugin, manager):
    # pytest imports every conftest.py outside a package as the module "conftest", so once
    # this file is loaded `from conftest import make_app` in the test modules imported after
    # it would find this one. Put the shared tests/conftest.py back under that name.
    if getattr(plugin, "__file__", None) == __file__:
        shared = manager.get_plugin(str(REPO_ROOT / "tests" / "conftest.py"))
        if shared is not None:
            sys.modules["conftest"] = shared


@dataclass
class PreviewServer:
    url: str
    content: Path


@pytest.fixture
def preview_server(tmp_path):
    """`flask content serve` on a copy of content/, its own scratch database; stopped after."""
    content = tmp_path / "content"
    shutil.copytree(REPO_ROOT / "content", content)
    learners_db = tmp_path / "learners.sqlite"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{learners_db}", "FLASK_DEBUG": "0"}
    port = free_port()
    log = tmp_path / "preview.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*FLASK, "content", "serve", str(content), "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url + "/healthz", READY_WAIT, process, log)
    try:
        yield PreviewServer(url, content)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    assert not learners_db.exists(), "the preview opened the learners' database"


E2E_PASSWORD = "correct horse battery staple"


def _sign_up(tab, username: str) -> None:
    from playwright.sync_api import expect

    tab.goto("/register")
    tab.get_by_label("Username").fill(username)
    tab.get_by_label("Password", exact=True).fill(E2E_PASSWORD)
    tab.get_by_label("Repeat the password").fill(E2E_PASSWORD)
    tab.get_by_role("button", name="Sign up").click()
    expect(tab.locator(".flash-success")).to_contain_text(f"Welcome, {username}")


@pytest.fixture
def sign_up():
    """sign_up(tab, username): register through the form (the flash message proves it)."""
    return _sign_up


@pytest.fixture
def new_tab(browser, live_server, console):
    """new_tab(): another browser context (its own cookies) on the live server, watched."""
    contexts = []

    def open_tab(base_url: str | None = None):
        context = browser.new_context(base_url=base_url or live_server.url, viewport=VIEWPORT)
        context.set_default_timeout(15_000)
        contexts.append(context)
        tab = context.new_page()
        console.watch(tab)
        return tab

    yield open_tab
    for context in contexts:
        context.close()
    assert not console.problems, "\n".join(console.problems)
