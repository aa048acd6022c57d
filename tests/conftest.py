"""Shared fixtures, flaskr style: every test gets a fresh app and a fresh database file."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select, text

from quizapp import create_app
from quizapp.devtools.net import free_port, wait_until_up  # free_port: shared with the tests
from quizapp.extensions import db

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTENT_DIR = REPO_ROOT / "content"
# pytest-xdist runs the suite in several processes (`make test`: one per core); each keeps to
# its own PostgreSQL database and Redis database number, so no test sees another's rows.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ...; "" without xdist


def _worker_postgres_url(url: str | None) -> str | None:
    """`url`'s database with this worker's name appended (test → test_gw1), made if missing."""
    if not url or not XDIST_WORKER:
        return url
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{XDIST_WORKER}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            found = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not found:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _worker_redis_url(url: str | None) -> str | None:
    """`url` with worker N on database number (url's) − N: gw0 keeps it, gw1 the one below."""
    if not url or not XDIST_WORKER:
        return url
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) - int(XDIST_WORKER.removeprefix("gw"))
    assert number > 0, f"{url}: too few Redis databases below it for worker {XDIST_WORKER}"
    return parts._replace(path=f"/{number}").geturl()


POSTGRES_URL = _worker_postgres_url(os.environ.get("QUIZAPP_TEST_POSTGRES_URL"))
REDIS_URL = _worker_redis_url(os.environ.get("QUIZAPP_TEST_REDIS_URL"))


def _settings(database_url: str, **overrides) -> dict:
    settings = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "QUIZAPP_CONTENT_DIR": str(CONTENT_DIR),
        "QUIZAPP_JOBS": "local",
    }
    settings.update(overrides)
    return settings


_unsynced_databases: set[str] = set()


def _unsync_postgres(connection, url: str) -> None:
    """A test database need not wait for the disk at each commit (new connections, once per
    run): a lost commit only matters on a crash of PostgreSQL itself, and tests never need
    one to survive that. Nothing else about transactions changes."""
    if url not in _unsynced_databases:
        connection.execute(
            text(
                "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = off', "
                "current_database()); END $$"
            )
        )
        _unsynced_databases.add(url)


def _reset_postgres(url: str) -> None:
    """Drop every table in the test database so each test starts from nothing."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as connection:
        _unsync_postgres(connection, url)
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


_schemas_made_this_run: set[str] = set()


def _empty_postgres(url: str) -> None:
    """Each test starts from empty tables: cheaper than `_reset_postgres` then create_all.

    When the database holds exactly the models' tables, made by this run (a database kept from
    an earlier run or another commit may have other columns), their rows are deleted and their
    id sequences restarted, in one transaction. Anything else (the first time in a run, a
    migrated schema with alembic_version, a missing or extra table) gets the full
    drop-and-create of `_reset_postgres`.
    """
    from sqlalchemy import create_engine

    import quizapp.models  # noqa: F401  (every model's table is in db.metadata)

    if url not in _schemas_made_this_run:
        _reset_postgres(url)
        _schemas_made_this_run.add(url)  # by the create_all that follows
        return
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            _unsync_postgres(connection, url)
            present = set(
                connection.scalars(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            )
            if present != set(db.metadata.tables):
                reset = True
            else:
                reset = False
                sequences = connection.scalars(
                    text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
                ).all()
                statements = [
                    f'DELETE FROM "{table.name}"' for table in reversed(db.metadata.sorted_tables)
                ]
                statements += [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
                connection.exec_driver_sql("; ".join(statements))
    finally:
        engine.dispose()
    if reset:
        _reset_postgres(url)


_sqlite_template: list[Path] = []  # an empty database with every table, made once a process


def _empty_sqlite_copy(target: Path) -> None:
    """Copy an empty database with the models' tables to `target`: a file copy instead of
    create_all's 60-odd statements before each of the two thousand tests that need one."""
    if not _sqlite_template:
        import atexit
        import tempfile

        folder = tempfile.mkdtemp(prefix="quizapp-schema-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = Path(folder) / "empty.sqlite"
        app = create_app(_settings(f"sqlite:///{template}"))
        with app.app_context():
            db.create_all()
            db.engine.dispose()
        _sqlite_template.append(template)
    shutil.copyfile(_sqlite_template[0], target)


def make_app(database_url: str, **overrides):
    """An app on `database_url` with the models' tables (a new SQLite file starts as a copy of
    an empty one; an existing file or another database gets create_all, which adds only what
    is missing)."""
    prefix = "sqlite:///"
    path = database_url.removeprefix(prefix)
    new_file = (
        database_url.startswith(prefix)
        and path.startswith("/")
        and "?" not in path
        and not Path(path).exists()
    )
    if new_file:
        _empty_sqlite_copy(Path(path))
    app = create_app(_settings(database_url, **overrides))
    if not new_file:
        with app.app_context():
            db.create_all()
    return app


@pytest.fixture
def app(tmp_path):
    """A fresh app on a new SQLite file."""
    app = make_app(f"sqlite:///{tmp_path / 'test.sqlite'}")
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_db_app(request, tmp_path):
    """The same test on SQLite and, where QUIZAPP_TEST_POSTGRES_URL is set, on PostgreSQL."""
    if request.param == "postgres":
        if not POSTGRES_URL:
            pytest.skip("QUIZAPP_TEST_POSTGRES_URL is not set (.ci/run sets it)")
        _empty_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path / 'test.sqlite'}"
    app = make_app(url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def imported_app(app):
    """The app with the real content/ folder imported."""
    from quizapp.services.content_import import import_content

    with app.app_context():
        import_content(CONTENT_DIR)
    return app


@pytest.fixture(scope="module")
def real_bank_app(tmp_path_factory):
    """The real content/ imported once per test module, for tests that only read it."""
    app = make_app(f"sqlite:///{tmp_path_factory.mktemp('bank') / 'bank.sqlite'}")
    with app.app_context():
        from quizapp.services.content_import import import_content

        import_content(CONTENT_DIR)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def content_dir(tmp_path):
    """A small, valid content folder in tmp_path that tests can break file by file."""
    root = tmp_path / "content"
    (root / "questions").mkdir(parents=True)
    (root / "exercises").mkdir()
    (root / "topics.yaml").write_text(
        textwrap.dedent(
            """\
            - slug: gradient-flow
              title: Gradient flow
              description: Vanishing and exploding gradients.
            - slug: activation-functions
              title: Activation functions
              description: Sigmoid, tanh, ReLU and friends.
            """
        )
    )
    write_question(root, "alpha", related=["beta"])
    write_question(root, "beta", related=["alpha"], difficulty="easy")
    return root


QUESTION_TEMPLATE = """\
slug: {slug}
title: Question {slug}
difficulty: {difficulty}
topics: [gradient-flow]
question: |
  What is the maximum of the sigmoid's derivative?
answer: |
  It is $1/4$, reached at $z = 0$.
explanation: |
  Since $\\sigma'(z) = \\sigma(z)(1 - \\sigma(z))$, the product is largest at $\\sigma = 1/2$:

  $$\\sigma'(0) = \\tfrac{{1}}{{4}}$$

  ```mermaid
  graph LR
    A[z] --> B[sigma]
  ```
references:
  - title: Deep Learning, chapter 6
    url: https://www.deeplearningbook.org/contents/mlp.html
related: [{related}]
checks:
  - kind: single_choice
    prompt: What is the maximum of the sigmoid's derivative?
    options:
      - text: "1"
        feedback: That is tanh's maximum derivative.
      - text: "1/4"
        feedback: Right, at $z = 0$.
    correct: 1
  - kind: numeric
    prompt: Give it as a decimal.
    answer: 0.25
    tolerance: 0.01
  - kind: self_rated
    prompt: Explain why deep sigmoid networks train slowly.
"""


def write_question(
    root: Path,
    slug: str,
    related=(),
    difficulty: str = "medium",
    replace: dict[str, str] | None = None,
) -> Path:
    """Write a valid question file; `replace` swaps exact substrings to break it on purpose."""
    body = QUESTION_TEMPLATE.format(slug=slug, difficulty=difficulty, related=", ".join(related))
    for old, new in (replace or {}).items():
        body = body.replace(old, new)
    path = root / "questions" / f"{slug}.yaml"
    path.write_text(body)
    return path


# A valid question with params on top of QUESTION_TEMPLATE: 8 depths x 3 weight bounds =
# 24 variants; the numeric check (index 1) has the answer (w / 4) ** n.
VARIANT_REPLACE = {
    "question: |\n  What is the maximum": (
        "params:\n"
        "  n: {min: 2, max: 9, step: 1}\n"
        "  w: {choices: [0.5, 1, 2]}\n"
        "derived:\n"
        "  bound: w / 4\n"
        "question: |\n"
        "  With {{ n }} layers and weights up to {{ w }}, what is the maximum"
    ),
    "prompt: Give it as a decimal.": "prompt: Give $({{ bound }})^{ {{ n }} }$ as a decimal.",
    "    answer: 0.25\n    tolerance: 0.01": "    answer: bound ** n\n    relative_tolerance: 0.01",
}


def write_variant_question(
    root: Path, slug: str = "varied", extra: dict[str, str] | None = None
) -> Path:
    """A question with params (see VARIANT_REPLACE), related to "alpha" of `content_dir`;
    `extra` swaps exact substrings of it to break it on purpose."""
    path = write_question(root, slug, related=["alpha"], replace=VARIANT_REPLACE)
    text = path.read_text()
    for old, new in (extra or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)
    return path


# A small exercise linked to question alpha of `content_dir`; simulates in milliseconds.
EXERCISE_SLUG = "tanh-init"
EXERCISE = """\
slug: tanh-init
title: Keep a small tanh stack alive
difficulty: easy
questions: [alpha]
prompt: Pick the initialisation that keeps the backward signal alive.
network: {kind: mlp, depth: 12, width: 8, batch_size: 16, activation: tanh}
choices:
  init:
    - {value: default, label: PyTorch default}
    - {value: xavier_normal, label: Xavier normal}
    - {value: normal, label: "Normal, std 0.01"}
goals:
  - metric: verdict
    equals: healthy
  - metric: backward_signal_ratio
    at_least: 0.001
feedback:
  healthy: Xavier keeps the variance of a tanh layer.
  vanishing: The signal died on its way back.
  fail: Not yet.
  pass: Xavier keeps the variance.
explanation: Xavier preserves the variance of a tanh layer near zero.
reference_solution: {init: xavier_normal}
wrong_choice: {init: default}
"""


def write_exercise(root: Path) -> Path:
    """Write EXERCISE into a content folder such as `content_dir`."""
    path = root / "exercises" / f"{EXERCISE_SLUG}.yaml"
    path.write_text(EXERCISE)
    return path


@pytest.fixture
def copy_content(tmp_path):
    """A copy of the real content folder that a test may change."""
    target = tmp_path / "content-copy"
    shutil.copytree(CONTENT_DIR, target)
    return target


# A multiple-choice check (options 0 and 2 right, partial credit); tests put it first on a
# card with write_question(..., replace={"checks:\n": MULTIPLE_CHOICE}).
MULTIPLE_CHOICE = """\
checks:
  - kind: multiple_choice
    prompt: Which of these are saturating activations?
    options:
      - text: sigmoid
        feedback: Yes, it flattens at both ends.
      - text: ReLU
        feedback: No, it does not saturate for positive inputs.
      - text: tanh
        feedback: Yes, like the sigmoid.
    correct: [0, 2]
    scoring: partial
"""

_user_numbers = itertools.count(1)


def add_user(app, username: str | None = None) -> int:
    """A learner row made directly (no password hashing: these tests never log in by form)."""
    from quizapp.models import User

    username = username or f"learner-{next(_user_numbers)}"
    with app.app_context():
        user = User(username=username, username_key=username, password_hash="not used here")
        db.session.add(user)
        db.session.commit()
        return user.id


def session_token(app, user_id: int) -> str:
    """The learner's current session token: what a log-in puts in the session cookie."""
    from quizapp.models import User

    with app.app_context():
        return db.session.get(User, user_id).session_token


def sign_in(client, user_id: int, token: str | None = None) -> None:
    """What a successful log-in leaves in the test client's session: the learner's session
    token (`token` overrides it, e.g. with a stale one)."""
    token = token or session_token(client.application, user_id)
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True


# A learner whose memory follows FSRS with parameters far from the defaults: first-day
# stabilities a third of FSRS's, a faster forgetting curve. Scheduled as the app would
# (default weights), recalled or forgotten as their own memory says.
SYNTHETIC_MEMORY = {0: 1 / 3, 1: 1 / 3, 2: 1 / 3, 3: 1 / 3}
SYNTHETIC_DECAY = 0.6


def synthetic_reviews(count: int, seed: int = 7, cards_per_day: int = 12):
    """[(card, unix_ms, rating 1-4, duration_ms)] of a seeded synthetic learner, time-ordered."""
    import random
    from datetime import UTC, datetime, timedelta

    from fsrs import Card, Rating, Scheduler
    from fsrs.scheduler import DEFAULT_PARAMETERS

    rng = random.Random(seed)
    true = list(DEFAULT_PARAMETERS)
    for index, factor in SYNTHETIC_MEMORY.items():
        true[index] *= factor
    true[20] = SYNTHETIC_DECAY
    memory = Scheduler(parameters=true, enable_fuzzing=False)
    schedule = Scheduler(enable_fuzzing=False)
    start = datetime(2025, 1, 1, 8, tzinfo=UTC)
    reviews = []
    card_number = 0
    while len(reviews) < count:
        card_number += 1
        introduced = start + timedelta(days=card_number // cards_per_day, minutes=card_number)
        mind, planned, at = Card(card_id=card_number, due=introduced), None, introduced
        planned = Card(card_id=card_number, due=introduced)
        for _ in range(14):
            if mind.last_review is None:
                rating = rng.choice([1, 3, 3, 3])
            elif rng.random() > memory.get_card_retrievability(mind, at):
                rating = 1
            else:
                rating = rng.choice([2, 3, 3, 3, 4])
            reviews.append(
                (card_number, int(at.timestamp() * 1000), rating, rng.randint(3000, 20000))
            )
            mind, _ = memory.review_card(mind, Rating(rating), at)
            planned, _ = schedule.review_card(planned, Rating(rating), at)
            at = planned.due + timedelta(hours=rng.random() * 30)
            if at > start + timedelta(days=730):  # a two-year history, as a real log is
                break
    reviews.sort(key=lambda review: review[1])
    return reviews[:count]


def add_review_history(user, raw) -> None:
    """Store `synthetic_reviews` rows as the learner's imported review log (in an app context),
    spread over the bank's questions, so a fit has a history to work on."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from quizapp.models import Question, ReviewLog

    questions = list(db.session.scalars(select(Question.id).order_by(Question.id)))
    for card, ms, rating, duration in raw:
        db.session.add(
            ReviewLog(
                user_id=user.id,
                question_id=questions[card % len(questions)],
                rating=rating,
                review_state=2,
                reviewed_at=datetime.fromtimestamp(ms / 1000, UTC),
                duration_ms=duration,
                elapsed_days=1.0,
                source="import",
            )
        )
    db.session.commit()


# -- real servers: gunicorn as production runs it ----------------------------------------------

SERVER_READY_WAIT = 90.0  # seconds: a bound on start-up (4 workers importing the app), not a goal
PRODUCTION_SECRET = "a-test-secret-key-that-is-long-enough-for-production-0123456789"


def production_env(database_url: str, **overrides: str) -> dict[str, str]:
    """The environment of `make serve` for a test server: production mode on loopback."""
    env = {
        **os.environ,
        "QUIZAPP_ENV": "production",
        "SECRET_KEY": PRODUCTION_SECRET,
        "DATABASE_URL": database_url,
        "QUIZAPP_SECURE_COOKIES": "0",  # plain http on loopback
        "QUIZAPP_LOG_REQUESTS": "0",
        "QUIZAPP_CONTENT_DIR": str(CONTENT_DIR),
        "QUIZAPP_SIM_WORKERS": "1",
        "PYTHONPATH": str(REPO_ROOT),
    }
    for name in ("QUIZAPP_TRUST_PROXY", "RATELIMIT_STORAGE_URI", "QUIZAPP_CSRF", "QUIZAPP_JOBS"):
        env.pop(name, None)
    env.update(overrides)
    return env


def run_flask(env: dict[str, str], *args: str, check: bool = True):
    """`flask --app wsgi ARGS` in a subprocess with `env`."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


class GunicornServer:
    """gunicorn with the repository's gunicorn.conf.py, in its own process group."""

    def __init__(self, env: dict[str, str], log_path: Path, workers: int = 4) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(env, GUNICORN_BIND=f"127.0.0.1:{self.port}", GUNICORN_WORKERS=str(workers))
        self.log_path = log_path
        self.process = None

    def start(self, wait: bool = True) -> GunicornServer:

        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # workers and simulation processes share the group
            )
        if wait:
            self.wait_until_healthy()
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_healthy(self) -> None:
        wait_until_up(self.url + "/healthz", SERVER_READY_WAIT, self.process, self.log_path)

    def stop(self) -> None:

        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def kill(self) -> None:
        """SIGKILL to gunicorn and every process it started: a crash, not a shutdown."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(20)

    def __enter__(self) -> GunicornServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def redis_flushed(url: str) -> None:
    """Empty the test Redis database (never db 0 or a shared one: the URL names the test db)."""
    import redis

    redis.Redis.from_url(url).flushdb()


def shown(slug: str, index: int, authored, user_id: int | None = None, learner: str | None = None):
    """An answer given by authored option/item indexes, in the positions the learner is shown.

    Options are shuffled per learner (the account's, else `learner`, else the anonymous
    visitors' shared layout), and answers are sent by shown position. Needs an app context.
    """
    from quizapp.domain.grading import account_key, check_id, resolve_check
    from quizapp.services.questions import get_question

    key = account_key(user_id) if user_id is not None else (learner or "anonymous")
    check = get_question(slug).checks[index]
    return resolve_check(check, key, check_id(slug, index)).to_display(authored)


def submit_authored(user, slug: str, check, authored, **kwargs):
    """submit_answer with the answer given by authored indexes, as the learner's last try
    (so a wrong answer is final and stored, as before checks allowed several tries)."""
    from quizapp.services.learning import submit_answer

    def as_index(value):
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value

    given = [as_index(v) for v in authored] if isinstance(authored, list) else as_index(authored)
    try:
        response = shown(slug, int(check), given, user.id if user is not None else None)
    except (LookupError, ValueError, TypeError):
        response = authored  # a bad question or check: let submit_answer refuse it
    kwargs.setdefault("tries_used", 10)
    return submit_answer(user, slug, check, response, **kwargs)


def as_shown(client, slug: str, index: int, authored):
    """Authored option indexes as this client's form would send them: the positions its
    learner is shown (signed in: the account's order; else the session's), as text."""
    from quizapp.models import User

    with client.session_transaction() as session:
        token, visitor = session.get("_user_id"), session.get("learner_key")
    with client.application.app_context():
        user_id = None
        if token:
            user_id = db.session.scalar(select(User.id).where(User.session_token == token))
        value = shown(slug, index, authored, user_id=user_id, learner=visitor)
    return [str(v) for v in value] if isinstance(value, list) else str(value)
