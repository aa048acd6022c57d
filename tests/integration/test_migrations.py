"""Alembic migrations: upgrade, downgrade to nothing, upgrade again, and match the models."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import CONTENT_DIR, POSTGRES_URL, REPO_ROOT
from sqlalchemy import JSON, create_engine, inspect, text

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


def _compare_server_default(
    context, inspected_column, metadata_column, inspected_default, metadata_default, rendered
):
    """PostgreSQL's json type has no `=`, so Alembic cannot compare a JSON column's default
    in SQL: compare the text instead ('[]'::json against '[]'); others as Alembic does."""
    if isinstance(metadata_column.type, JSON) and inspected_default and rendered:
        return inspected_default.split("::")[0].strip("'") != rendered.strip("'")
    return None


def schema_differences(engine) -> list:
    """What `flask db migrate` would generate: empty when the migrations match the models."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "compare_server_default": _compare_server_default},
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


def _rows(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("users", "attempts", "review_cards", "api_tokens", "sim_runs")
        }


def _learner_data_at_0003(app, engine) -> None:
    """Two learners with answers, a card, a token and a run, written with 0003's columns."""
    now = "2026-11-30 12:00:00"
    with engine.begin() as connection:
        # Raw SQL, not the importer: today's models have columns that 0003 does not.
        connection.execute(
            text(
                "INSERT INTO questions (slug, title, difficulty, question_md, question_html,"
                ' answer_md, answer_html, explanation_md, explanation_html, "references",'
                " related_slugs, exercise_slugs, checks, source_path, content_hash, created_at,"
                " updated_at) VALUES ('q', 'Q', 'easy', 'q', 'q', 'a', 'a', 'e', 'e', '[]',"
                " '[]', '[]', '[]', 'q.yaml', 'h', :now, :now)"
            ),
            {"now": now},
        )
        question_id = connection.execute(text("SELECT min(id) FROM questions")).scalar_one()
        for user_id in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO users (id, username, username_key, password_hash, role,"
                    " desired_retention, session_version, created_at)"
                    " VALUES (:id, :name, :name, 'x', 'learner', 0.9, 3, :now)"
                ),
                {"id": user_id, "name": f"learner-{user_id}", "now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO attempts (user_id, question_id, check_index, kind, response,"
                    " score, correct, created_at)"
                    " VALUES (:user, :question, 0, 'single_choice', '1', 1.0, :yes, :now)"
                ),
                {"user": user_id, "question": question_id, "yes": True, "now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO review_cards (user_id, question_id, state, due_at, reviews,"
                    " lapses, version) VALUES (:user, :question, '{}', :now, 1, 0, 1)"
                ),
                {"user": user_id, "question": question_id, "now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at)"
                    " VALUES (:user, 'laptop', :hash, 'qz_abc', :now)"
                ),
                {"user": user_id, "hash": f"{user_id:064d}", "now": now},
            )
            connection.execute(
                text(
                    "INSERT INTO sim_runs (id, user_id, config, cache_key, status, from_cache,"
                    " created_at) VALUES (:id, :user, '{}', 'k', 'done', :no, :now)"
                ),
                {"id": f"run-{user_id}", "user": user_id, "no": False, "now": now},
            )


def session_tokens_keep_every_learners_data(url: str) -> None:
    """0004 replaces session versions with random tokens and rebuilds tables on SQLite: every
    row that points at a user survives it, both ways."""
    app = migrated_app(url)
    engine = create_engine(url)
    try:
        flask_db(app, "upgrade", "0003")
        _learner_data_at_0003(app, engine)
        before = _rows(engine)
        assert before == {table: 2 for table in before}

        flask_db(app, "upgrade")
        assert _rows(engine) == before
        with engine.connect() as connection:
            tokens = connection.execute(text("SELECT session_token FROM users")).scalars().all()
        assert len(set(tokens)) == 2 and all(len(token) >= 43 for token in tokens)
        assert schema_differences(engine) == []

        flask_db(app, "downgrade", "0003")
        assert _rows(engine) == before
        flask_db(app, "upgrade")
        assert _rows(engine) == before
    finally:
        engine.dispose()
        with app.app_context():
            db.engine.dispose()


def test_0004_keeps_every_learners_data_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'upgraded.sqlite'}"
    session_tokens_keep_every_learners_data(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        # AUTOINCREMENT tables keep their high-water mark in sqlite_sequence.
        sequenced = set(connection.execute(text("SELECT name FROM sqlite_sequence")).scalars())
    engine.dispose()
    assert {"users", "attempts", "review_cards", "api_tokens"} <= sequenced


@pytest.mark.postgres
def test_0004_keeps_every_learners_data_on_postgres() -> None:
    if not POSTGRES_URL:
        pytest.skip("QUIZAPP_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    session_tokens_keep_every_learners_data(POSTGRES_URL)


def test_aliases_migration_keeps_an_imported_bank(tmp_path: Path) -> None:
    """0009 adds `aliases` to tables that already hold rows: they get an empty list."""
    url = f"sqlite:///{tmp_path / 'aliases.sqlite'}"
    app = migrated_app(url)
    engine = create_engine(url)
    try:
        flask_db(app, "upgrade")
        with app.app_context():
            import_content(CONTENT_DIR)
        flask_db(app, "downgrade", "0005")  # the revision before 0009
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


def test_variants_migration_keeps_an_imported_bank(tmp_path: Path) -> None:
    """0017 adds the variant columns to tables that hold rows (a plain ADD COLUMN, no table
    rebuild while attempts point at questions), and drops them again."""
    url = f"sqlite:///{tmp_path / 'variants.sqlite'}"
    app = migrated_app(url)
    engine = create_engine(url)
    try:
        flask_db(app, "upgrade")
        with app.app_context():
            import_content(CONTENT_DIR)
        flask_db(app, "downgrade", "0007")  # the revision before 0017
        with engine.connect() as connection:
            columns = {row[1] for row in connection.execute(text("PRAGMA table_info(questions)"))}
        assert "variant_spec" not in columns
        flask_db(app, "upgrade")
        with engine.connect() as connection:
            specs = connection.execute(text("SELECT variant_spec FROM questions")).scalars().all()
            epochs = text("SELECT variant_epoch FROM review_cards")
            assert connection.execute(epochs).all() == []
        assert specs and set(specs) == {None}
        client = app.test_client()
        assert client.get("/questions/conv-parameter-count").status_code == 200
    finally:
        engine.dispose()
        with app.app_context():
            db.engine.dispose()
