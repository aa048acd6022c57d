"""Alembic migrations: upgrade, downgrade to nothing, upgrade again, and match the models."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import CONTENT_DIR, POSTGRES_URL, REPO_ROOT
from sqlalchemy import create_engine, inspect, text

import quizapp.models  # noqa: F401  (every table on the metadata)
from quizapp import create_app
from quizapp.extensions import db
from quizapp.models.base import Base
from quizapp.services.content_import import import_content

SEED = "vanishing-gradient-problem"
CONTENT_TABLES = {"questions", "topics", "question_topics"}

# migrations/env.py is Flask-Migrate's template, which still calls db.get_engine().
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")


@pytest.fixture(autouse=True)
def keep_logging():
    """Alembic's env.py calls logging.config.fileConfig, which disables every existing logger;
    put logging back so later tests still see the app's log records."""
    manager = logging.Logger.manager
    loggers = {
        name: (logger.disabled, logger.level, list(logger.handlers), logger.propagate)
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    root = (logging.root.level, list(logging.root.handlers))
    yield
    for name, (disabled, level, handlers, propagate) in loggers.items():
        logger = logging.getLogger(name)
        logger.disabled, logger.level, logger.handlers, logger.propagate = (
            disabled,
            level,
            handlers,
            propagate,
        )
    logging.root.level, logging.root.handlers = root[0], root[1]


def migrated_app(database_url: str):
    return create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": False}
    )


def flask_db(app, *args: str) -> None:
    """Run `flask db ...` through the app's command line, as an operator does."""
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def table_names(engine) -> set[str]:
    with engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def schema_differences(engine) -> list:
    """What `flask db migrate` would generate: empty when the migrations match the models."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "compare_server_default": True},
        )
        return compare_metadata(context, Base.metadata)


def current_revision(engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


def upgrade_downgrade_upgrade(url: str) -> None:
    app = migrated_app(url)
    engine = create_engine(url)
    model_tables = set(Base.metadata.tables)
    assert model_tables >= CONTENT_TABLES
    try:
        assert table_names(engine) == set()

        flask_db(app, "upgrade")
        assert table_names(engine) == model_tables | {"alembic_version"}
        assert current_revision(engine) == head_revision()
        assert schema_differences(engine) == []

        flask_db(app, "downgrade", "base")
        assert table_names(engine) <= {"alembic_version"}
        assert current_revision(engine) is None
        # The comparison sees a missing schema, so an empty diff above means something.
        assert schema_differences(engine) != []

        flask_db(app, "upgrade")
        assert table_names(engine) == model_tables | {"alembic_version"}
        assert schema_differences(engine) == []

        # The app runs on a schema made only by migrations (no create_all).
        with app.app_context():
            report = import_content(CONTENT_DIR)
        assert SEED in report.added
        client = app.test_client()
        assert client.get(f"/questions/{SEED}").status_code == 200
        count = len(list((CONTENT_DIR / "questions").glob("*.yaml")))
        assert client.get("/api/v1/questions").get_json()["total"] == count
    finally:
        engine.dispose()
        with app.app_context():
            db.engine.dispose()


def test_migrations_round_trip_on_sqlite(tmp_path: Path) -> None:
    upgrade_downgrade_upgrade(f"sqlite:///{tmp_path / 'migrated.sqlite'}")


@pytest.mark.postgres
def test_migrations_round_trip_on_postgres() -> None:
    if not POSTGRES_URL:
        pytest.skip("QUIZAPP_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()

    upgrade_downgrade_upgrade(POSTGRES_URL)


def test_aliases_migration_keeps_an_imported_bank(tmp_path: Path) -> None:
    """0009 adds `aliases` to tables that already hold rows: they get an empty list."""
    url = f"sqlite:///{tmp_path / 'aliases.sqlite'}"
    app = migrated_app(url)
    engine = create_engine(url)
    try:
        flask_db(app, "upgrade")
        with app.app_context():
            import_content(CONTENT_DIR)
        flask_db(app, "downgrade", "--", "-1")  # to the revision before 0009
        flask_db(app, "upgrade")
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT aliases FROM questions")).scalars().all()
            exercises = connection.execute(text("SELECT aliases FROM exercises")).scalars().all()
        assert stored and set(stored) == {"[]"}
        assert exercises and set(exercises) == {"[]"}
        client = app.test_client()
        assert client.get(f"/questions/{SEED}").status_code == 200
    finally:
        engine.dispose()
        with app.app_context():
            db.engine.dispose()
