"""An import that fails halfway through its transaction leaves nothing half-written.

The failure is real: a trigger in the database refuses one row in the middle of the import,
after topics and other questions have already been written in the same transaction (as a
full disk or a lost connection would).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from conftest import REPO_ROOT, make_app, write_question
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import Question, Topic
from quizapp.services.content_import import import_content

FAIL_ON_GAMMA = """
CREATE TRIGGER refuse_gamma BEFORE INSERT ON questions WHEN NEW.slug = 'gamma'
BEGIN SELECT RAISE(ABORT, 'simulated failure halfway through the import'); END
"""


def snapshot(app) -> dict:
    with app.app_context():
        return {
            "questions": db.session.scalar(select(func.count()).select_from(Question)),
            "topics": db.session.scalar(select(func.count()).select_from(Topic)),
            "titles": dict(db.session.execute(select(Question.slug, Question.title)).all()),
            "topic_titles": dict(db.session.execute(select(Topic.slug, Topic.title)).all()),
        }


def change_the_folder(content_dir) -> None:
    """One new topic, one changed question, two new questions (the second one fails)."""
    with (content_dir / "topics.yaml").open("a") as topics:
        topics.write("- slug: optimisation\n  title: Optimisation\n")
    (content_dir / "topics.yaml").write_text(
        (content_dir / "topics.yaml").read_text().replace("Gradient flow", "Gradient flow, renamed")
    )
    write_question(content_dir, "alpha", related=["beta"], replace={"Question alpha": "Alpha v2"})
    write_question(content_dir, "aardvark", related=["alpha"])  # inserted before gamma
    write_question(content_dir, "gamma", related=["alpha"])


def prepared(tmp_path, content_dir):
    database = tmp_path / "import.sqlite"
    app = make_app(f"sqlite:///{database}")
    with app.app_context():
        import_content(content_dir)
    change_the_folder(content_dir)
    with sqlite3.connect(database) as connection:
        connection.executescript(FAIL_ON_GAMMA)
    return app, database


def test_an_import_failing_halfway_writes_nothing(tmp_path, content_dir):
    app, database = prepared(tmp_path, content_dir)
    before = snapshot(app)
    with app.app_context():
        try:
            import_content(content_dir)
        except Exception as error:  # whatever the driver raises, the point is what is left
            assert "simulated failure" in str(error)
        else:
            raise AssertionError("the import should have failed on gamma")
    assert snapshot(app) == before
    assert before["titles"] == {"alpha": "Question alpha", "beta": "Question beta"}

    # The cause removed, the same import goes through completely.
    with sqlite3.connect(database) as connection:
        connection.execute("DROP TRIGGER refuse_gamma")
    with app.app_context():
        report = import_content(content_dir)
    assert sorted(report.added) == ["aardvark", "gamma"] and report.updated == ["alpha"]
    after = snapshot(app)
    assert after["questions"] == 4 and after["topics"] == 3
    assert after["titles"]["alpha"] == "Alpha v2"
    assert after["topic_titles"]["gradient-flow"] == "Gradient flow, renamed"


def test_the_import_command_failing_halfway_writes_nothing(tmp_path, content_dir):
    app, database = prepared(tmp_path, content_dir)
    before = snapshot(app)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "test"}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "content", "import", str(content_dir)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Nothing imported: the database refused the import: "
        "simulated failure halfway through the import"
    )
    assert snapshot(app) == before
