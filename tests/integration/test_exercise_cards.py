"""Exercise cards take part in review directly: a recorded run makes the card, which comes
due, asks for a prediction of its configuration, shows the recorded result and is rated and
undone like a question's card. Through the services (SQLite and PostgreSQL) and the plain
forms of the review screen (no JavaScript)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import add_user, sign_in
from sqlalchemy import func, select

from quizapp.domain.exercises import build_config
from quizapp.extensions import db
from quizapp.jobs import cache_key
from quizapp.models import Exercise, ExerciseCard, ReviewLog, SimResult, User
from quizapp.models.base import utcnow
from quizapp.services.content_import import import_content
from quizapp.services.exercise_cards import rate_exercise, reveal_exercise
from quizapp.services.memory import memory_overview
from quizapp.services.review import review_queue, undo_rating
from quizapp.services.schedule_fits import learner_reviews
from quizapp.services.simulations import start_exercise_run
from quizapp.sim import SIMULATOR_VERSION, validate_config

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
goals:
  - metric: verdict
    equals: healthy
feedback:
  healthy: Xavier keeps the variance of a tanh layer.
  fail: Not yet.
  pass: Healthy.
explanation: Xavier preserves the variance of a tanh layer near zero.
reference_solution: {init: xavier_normal}
wrong_choice: {init: default}
"""
COLUMNS = ("state", "due_at", "stability", "difficulty", "reviews", "lapses", "last_review_at")


def recorded(exercise: Exercise, choices: dict, verdict: str) -> None:
    """A stored result for this configuration, as an earlier run would have left."""
    config = validate_config(build_config(exercise.network, exercise.choices, choices))
    key = cache_key(config, SIMULATOR_VERSION)
    db.session.add(
        SimResult(
            key=key, simulator_version=SIMULATOR_VERSION, config={}, result={"verdict": verdict}
        )
    )
    db.session.commit()


def prepare(content_dir) -> Exercise:
    (content_dir / "exercises" / "tanh-init.yaml").write_text(EXERCISE)
    import_content(content_dir)
    exercise = db.session.scalar(select(Exercise).where(Exercise.slug == "tanh-init"))
    recorded(exercise, {"init": "xavier_normal"}, "healthy")
    return exercise


@pytest.fixture
def exercise(any_db_app, content_dir):
    with any_db_app.app_context():
        yield prepare(content_dir)


def test_a_run_makes_an_exercise_card_that_is_reviewed_rated_and_undone(exercise) -> None:
    user = User(username="learner", username_key="learner", password_hash="unused")
    db.session.add(user)
    db.session.commit()

    run = start_exercise_run(user, "tanh-init", {"init": "xavier_normal"}, "healthy")
    assert run.from_cache and run.passed
    card = db.session.scalar(select(ExerciseCard).where(ExerciseCard.user_id == user.id))
    assert (card.reviews, card.choices) == (1, {"init": "xavier_normal"})

    later = card.due_at + timedelta(minutes=1)
    forecast = dict(memory_overview(user, later).forecast)
    assert forecast[later.date()] >= 2  # the question's card and the exercise's
    queue = review_queue(user, later)
    exercise_items = [c for c in queue.cards if c.question.kind == "exercise"]
    assert [(c.question.slug, c.card.id) for c in exercise_items] == [("tanh-init", card.id)]
    assert queue.due_total >= 1

    revealed = reveal_exercise(user, exercise, "vanishing", now=later)
    assert (revealed.verdict, revealed.correct, revealed.suggested) == ("healthy", False, "again")
    assert revealed.feedback_html == exercise.feedback_html["healthy"]
    assert [option.rating for option in revealed.options] == ["again", "hard", "good", "easy"]

    before = {name: getattr(card, name) for name in COLUMNS}
    version = card.version
    rated = rate_exercise(user, exercise, "good", card_version=version, now=later)
    assert not rated.duplicate
    assert (rated.log.exercise_id, rated.log.question_id) == (exercise.id, None)
    assert rated.card.reviews == 2 and rated.card.due_at > later
    again = rate_exercise(user, exercise, "good", card_version=version, now=later)
    assert again.duplicate and again.log.id == rated.log.id  # a form sent twice rates once
    assert f"e{exercise.id}" in {review.card for review in learner_reviews(user)}

    assert undo_rating(user) == exercise
    db.session.expire_all()
    card = db.session.get(ExerciseCard, card.id)
    assert {name: getattr(card, name) for name in COLUMNS} == before
    logs = select(func.count()).select_from(ReviewLog).where(ReviewLog.exercise_id.is_not(None))
    assert db.session.scalar(logs) == 1  # the run's own rating stays


def test_the_review_screen_asks_for_a_prediction_then_rates_without_javascript(
    app, client, content_dir
) -> None:
    with app.app_context():
        prepare(content_dir)
    user_id = add_user(app)
    sign_in(client, user_id)
    ran = client.post("/exercises/tanh-init/runs", data={"init": "xavier_normal", "prediction": ""})
    assert ran.status_code == 302  # to the run's page: the result came from the record
    with app.app_context():
        card = db.session.scalar(select(ExerciseCard))
        card.due_at = utcnow() - timedelta(minutes=1)
        # The question's card, rescheduled by the same run, is not due: the exercise is first.
        db.session.commit()

    front = client.get("/review").text
    assert "Run it again and predict" in front
    assert "Weight initialisation: <strong>Xavier normal</strong>" in front
    assert re.search(r'name="prediction" value="healthy" data-option="2"', front)
    assert 'name="exercise" value="tanh-init"' in front

    back = client.post("/review/reveal", data={"exercise": "tanh-init", "prediction": "healthy"})
    assert back.status_code == 200
    assert "<strong>Right.</strong>" in back.text
    assert "The recorded run of this configuration: <strong>Healthy</strong>" in back.text
    assert "Suggested from your prediction: <strong>Good</strong>" in back.text
    version = re.search(r'name="card_version" value="(\d+)"', back.text).group(1)

    form = {"exercise": "tanh-init", "rating": "good", "card_version": version}
    rated = client.post("/review/rate", data=form)
    assert rated.status_code == 303
    page = client.get("/review").text
    assert "the exercise “Keep a small tanh stack alive” comes back in" in page
    with app.app_context():
        assert db.session.scalar(select(ExerciseCard.reviews)) == 2

    undone = client.post("/review/undo")
    assert undone.status_code == 303 and undone.location.endswith("/review?exercise=tanh-init")
    again = client.get(undone.location).text
    assert "Undone: “Keep a small tanh stack alive” is back as it was." in again
    assert 'name="exercise" value="tanh-init"' in again and "Show the result" in again
    with app.app_context():
        assert db.session.scalar(select(ExerciseCard.reviews)) == 1


def test_the_api_reviews_an_exercise_card(app, client, content_dir) -> None:
    with app.app_context():
        prepare(content_dir)
    sign_in(client, add_user(app))
    client.post("/exercises/tanh-init/runs", data={"init": "xavier_normal"})
    with app.app_context():
        db.session.scalar(select(ExerciseCard)).due_at = utcnow() - timedelta(minutes=1)
        db.session.commit()

    queue = client.get("/api/v1/me/review/queue").get_json()
    assert {"question": "tanh-init", "kind": "exercise"}.items() <= queue["cards"][0].items()
    path = "/api/v1/me/review/exercises/tanh-init"
    shown = client.post(f"{path}/reveal", json={"prediction": "exploding"}).get_json()
    assert (shown["verdict"], shown["correct"], shown["suggested"]) == ("healthy", False, "again")
    assert shown["choices"] == {"init": "xavier_normal"}
    body = {"rating": "again", "card_version": shown["card_version"]}
    rated = client.post(f"{path}/ratings", json=body)
    assert rated.status_code == 201 and rated.get_json()["duplicate"] is False
    assert client.post(f"{path}/ratings", json=body).get_json()["duplicate"] is True
    assert client.post(f"{path}/reveal", json={"prediction": "soon"}).status_code == 400
    undone = client.post("/api/v1/me/review/undo", json={}).get_json()
    assert undone == {"question": "tanh-init", "kind": "exercise"}
    missing = client.post("/api/v1/me/review/exercises/nope/reveal", json={})
    assert missing.status_code == 404
