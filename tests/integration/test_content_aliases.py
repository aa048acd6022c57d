"""Renaming a question or exercise: its former slugs (`aliases:`) answer 301 to the new one."""

from __future__ import annotations

from pathlib import Path

from conftest import write_question
from sqlalchemy import select

from quizapp.extensions import db
from quizapp.models import Question


def run_import(app, root: Path):
    return app.test_cli_runner().invoke(args=["content", "import", str(root)])


def rename_gamma(root: Path) -> None:
    """gamma.yaml becomes delta.yaml, which names gamma as its former slug."""
    (root / "questions" / "gamma.yaml").unlink()
    write_question(
        root,
        "delta",
        related=["alpha"],
        replace={"related:": "aliases: [gamma]\nrelated:", "Question delta": "Renamed card"},
    )


def test_a_renamed_question_keeps_its_row_and_history(any_db_app, content_dir: Path) -> None:
    app = any_db_app
    write_question(content_dir, "gamma", related=["alpha"])
    assert run_import(app, content_dir).exit_code == 0
    with app.app_context():
        gamma_id = db.session.scalar(select(Question.id).where(Question.slug == "gamma"))
    rename_gamma(content_dir)

    result = run_import(app, content_dir)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "0 added, 1 updated, 2 unchanged, 0 retired, 1 renamed"
    assert "renamed gamma -> delta (the old address redirects)" in result.stderr
    with app.app_context():
        rows = {q.slug: q for q in db.session.scalars(select(Question))}
        assert set(rows) == {"alpha", "beta", "delta"}
        assert rows["delta"].id == gamma_id  # the same row: attempts and reviews follow it
        assert rows["delta"].aliases == ["gamma"] and rows["delta"].retired_at is None


def test_old_question_addresses_redirect_permanently(any_db_app, content_dir: Path) -> None:
    app = any_db_app
    write_question(content_dir, "gamma", related=["alpha"])
    run_import(app, content_dir)
    rename_gamma(content_dir)
    run_import(app, content_dir)
    client = app.test_client()

    page = client.get("/questions/gamma?reveal=1")
    assert page.status_code == 301
    assert page.headers["Location"] == "/questions/delta?reveal=1"
    assert "Renamed card" in client.get(page.headers["Location"]).get_data(as_text=True)

    api = client.get("/api/v1/questions/gamma")
    assert api.status_code == 301
    assert api.headers["Location"] == "/api/v1/questions/delta"
    body = client.get(api.headers["Location"]).get_json()
    assert body["slug"] == "delta" and body["aliases"] == ["gamma"]

    # A POST keeps its method and body through a 308.
    posted = client.post("/api/v1/questions/gamma/attempts", json={"check": 0, "response": 1})
    assert posted.status_code == 308
    assert posted.headers["Location"] == "/api/v1/questions/delta/attempts"

    assert client.get("/questions/never-was").status_code == 404


def test_an_alias_wins_over_a_retired_row_of_the_same_slug(app, content_dir: Path) -> None:
    """A bank imported before aliases existed: the old row was retired, the new one added."""
    write_question(content_dir, "gamma", related=["alpha"])
    run_import(app, content_dir)
    (content_dir / "questions" / "gamma.yaml").unlink()
    write_question(content_dir, "delta", related=["alpha"])
    run_import(app, content_dir)
    assert app.test_client().get("/questions/gamma").status_code == 410

    write_question(
        content_dir, "delta", related=["alpha"], replace={"related:": "aliases: [gamma]\nrelated:"}
    )
    run_import(app, content_dir)

    response = app.test_client().get("/questions/gamma")
    assert response.status_code == 301
    assert response.headers["Location"] == "/questions/delta"


def test_the_renamed_exercise_answers_its_old_slug(imported_app) -> None:
    client = imported_app.test_client()

    page = client.get("/exercises/sigmoid-depth-30-init")
    assert page.status_code == 301
    assert page.headers["Location"] == "/exercises/tanh-depth-30-init"
    assert client.get(page.headers["Location"]).status_code == 200

    api = client.get("/api/v1/exercises/sigmoid-depth-30-init")
    assert api.status_code == 301
    assert api.headers["Location"] == "/api/v1/exercises/tanh-depth-30-init"
    assert client.get(api.headers["Location"]).get_json()["aliases"] == ["sigmoid-depth-30-init"]

    run = client.post(
        "/api/v1/exercises/sigmoid-depth-30-init/runs", json={"choices": {"init": "default"}}
    )
    assert run.status_code == 308
    assert run.headers["Location"] == "/api/v1/exercises/tanh-depth-30-init/runs"
