"""Database faults: locked for a moment, gone for a moment. A request waits or gets a clear
503 with Retry-After (never a traceback), and the service recovers without a restart."""

from __future__ import annotations

import contextlib
import logging
import socket
import sqlite3
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import POSTGRES_URL, free_port, make_app
from sqlalchemy import event, func, select, text
from sqlalchemy.pool import NullPool

from quizapp.extensions import db
from quizapp.models import Attempt
from quizapp.services.content_import import import_content

PASSWORD = "a long and private passphrase"
LOCK_HELD = 1.0  # seconds another process holds the database


def signed_in_client(app):
    client = app.test_client()
    response = client.post(
        "/register", data={"username": "learner", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert response.status_code == 302
    return client


def attempts(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Attempt))


@contextlib.contextmanager
def exclusive_lock(path: Path):
    """Another process's exclusive transaction on the SQLite file, released after a moment."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("BEGIN EXCLUSIVE")
    released = threading.Event()

    def release_later() -> None:
        released.wait(LOCK_HELD)
        connection.rollback()
        connection.close()
        released.set()

    holder = threading.Thread(target=release_later)
    holder.start()
    try:
        yield released
    finally:
        holder.join()


def assert_clear_503(response) -> None:
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    body = response.get_data(as_text=True)
    assert "The database is not answering right now" in body
    assert "Traceback" not in body and "sqlite3" not in body and "psycopg" not in body


def test_sqlite_connections_wait_for_a_lock(tmp_path, content_dir):
    app = make_app(f"sqlite:///{tmp_path / 'wait.sqlite'}")
    with app.app_context():
        timeout_ms = db.session.execute(text("PRAGMA busy_timeout")).scalar()
    assert timeout_ms >= 2000 * LOCK_HELD


def test_an_answer_sent_while_the_database_is_locked_waits_and_is_saved(tmp_path, content_dir):
    database = tmp_path / "locked.sqlite"
    app = make_app(f"sqlite:///{database}")
    with app.app_context():
        import_content(content_dir)
    client = signed_in_client(app)
    with exclusive_lock(database) as released:
        response = client.post("/questions/alpha/answer", data={"check": "1", "response": "0.25"})
        # The answer could only be written once the other transaction had ended.
        assert released.is_set()
    assert response.status_code == 200
    assert "Right!" in response.get_data(as_text=True)
    assert attempts(app) == 1


def test_a_lock_outlasting_the_busy_timeout_is_a_clear_503_then_the_retry_works(
    tmp_path, content_dir
):
    database = tmp_path / "impatient.sqlite"
    app = make_app(f"sqlite:///{database}")
    with app.app_context():
        import_content(content_dir)
        # A busy timeout shorter than the lock, set after the app's own connect hook.
        event.listen(db.engine, "connect", _impatient)
        db.engine.dispose()
    client = signed_in_client(app)
    answer = {"check": "1", "response": "0.25"}
    with exclusive_lock(database):
        page = client.post("/questions/alpha/answer", data=answer)
        api = client.post("/api/v1/questions/alpha/attempts", json={"check": 1, "response": 0.25})
        reading = client.get("/questions/alpha")  # WAL: readers are not blocked by a writer
    assert_clear_503(page)
    assert page.mimetype == "text/html"
    assert_clear_503(api)
    assert api.get_json()["code"] == 503
    assert reading.status_code == 200
    assert attempts(app) == 0
    # The lock is gone: the same request succeeds, on the same app and session.
    retried = client.post("/questions/alpha/answer", data=answer)
    assert retried.status_code == 200 and "Right!" in retried.get_data(as_text=True)
    assert "Saved" in retried.get_data(as_text=True)
    assert attempts(app) == 1


def _impatient(connection, _record) -> None:
    connection.execute("PRAGMA busy_timeout = 100")


@pytest.fixture
def request_logging():
    """Production's JSON request log, removed afterwards (its handler is process-wide)."""
    yield True
    log = logging.getLogger("quizapp.request")
    for handler in [h for h in log.handlers if getattr(h, "quizapp", False)]:
        log.removeHandler(handler)
    log.propagate = True
    log.setLevel(logging.NOTSET)


@pytest.mark.parametrize("logged", [False, True], ids=["plain", "with request log"])
def test_a_database_file_gone_for_a_moment_is_a_clear_503_and_then_recovers(
    tmp_path, content_dir, request, logged
):
    database = tmp_path / "gone.sqlite"
    # A new connection per request, as after a restart of the database server: nothing
    # cached in a pool hides the outage.
    app = make_app(
        f"sqlite:///{database}",
        SQLALCHEMY_ENGINE_OPTIONS={"poolclass": NullPool},
        QUIZAPP_LOG_REQUESTS=logged and request.getfixturevalue("request_logging"),
    )
    with app.app_context():
        import_content(content_dir)
    client = signed_in_client(app)
    assert client.get("/dashboard").status_code == 200

    database.rename(tmp_path / "away.sqlite")
    database.mkdir()  # nothing SQLite can open (or silently recreate empty) is left there
    try:
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.get_json()["checks"]["database"].startswith("unreachable")
        for path in ("/", "/questions/alpha", "/dashboard", "/api/v1/questions"):
            assert_clear_503(client.get(path))
        assert_clear_503(client.post("/questions/alpha/answer", data={"check": "0"}))
    finally:
        database.rmdir()
        (tmp_path / "away.sqlite").rename(database)

    assert client.get("/healthz").status_code == 200
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200  # still signed in: the session outlived the outage
    assert "learner" in dashboard.get_data(as_text=True)


# PostgreSQL behind a TCP proxy that the test can cut, as a network or server outage would.


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the database; `cut()` drops every connection and refuses
    new ones, `restore()` listens again on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        sockets = [self._listener, *self._sockets]
        self._sockets.clear()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)


@pytest.mark.postgres
def test_postgres_down_for_a_moment_is_a_clear_503_and_then_recovers(content_dir):
    if not POSTGRES_URL:
        pytest.skip("QUIZAPP_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    from conftest import _reset_postgres

    _reset_postgres(POSTGRES_URL)
    parts = urlsplit(POSTGRES_URL)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    proxy.restore()
    user = parts.netloc.rpartition("@")[0]
    url = parts._replace(netloc=f"{user + '@' if user else ''}127.0.0.1:{proxy.port}")
    app = make_app(url.geturl())
    try:
        with app.app_context():
            import_content(content_dir)
        client = signed_in_client(app)
        assert client.get("/healthz").status_code == 200

        proxy.cut()
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.get_json()["checks"]["database"].startswith("unreachable")
        for path in ("/", "/questions/alpha", "/dashboard", "/api/v1/questions"):
            assert_clear_503(client.get(path))

        proxy.restore()
        assert client.get("/healthz").status_code == 200
        assert client.get("/").status_code == 200
        assert client.get("/dashboard").status_code == 200
    finally:
        proxy.cut()
        with app.app_context():
            db.engine.dispose()
