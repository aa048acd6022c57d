"""Unbound extension objects, bound to an app in `register_extensions`."""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event

from quizapp.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# Moving window: "5 per minute" holds for any 60 seconds, not per calendar minute (a fixed
# window lets 10 through around a minute boundary). Limits count a request before its view
# runs, with an atomic increment in the store, so parallel requests cannot all slip through.
limiter = Limiter(key_func=get_remote_address, default_limits=[], strategy="moving-window")


def register_extensions(app: Flask) -> None:
    """Bind every extension to `app`."""
    import quizapp.models  # noqa: F401  (registers every table before Alembic or create_all look)

    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", _tune_sqlite)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    proxies = int(app.config.get("QUIZAPP_TRUST_PROXY") or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client address is the one the n-th proxy from us saw; Host passes through the
        # proxy unchanged (docs/deploy/nginx-quizapp.conf), so X-Forwarded-Host is not read.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]


def _tune_sqlite(connection, _record) -> None:
    """Per-connection SQLite settings: wait for locks, concurrent readers, enforced FKs.

    WAL lets pages read while an answer is being written; synchronous=NORMAL is safe with
    WAL (a crash can lose the last commits, never corrupt the file); the busy timeout turns
    a brief lock into a short wait instead of an error.
    """
    cursor = connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 15000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"
