"""Exercise cards take part in review directly: a recorded run makes the card, which comes
due, asks for a prediction of its configuration, shows the recorded result and is rated and
undone like a question's card. Through the services (SQLite and PostgreSQL) and the plain
forms of the review screen (no JavaScript)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from conftest import EXERCISE, add_user, sign_in, write_exercise, write_question
from sqlalchemy import func, select

from quizapp.domain.exercises import build_config
from quizapp.extensions import db
from quizapp.jobs import cache_key
from quizapp.models import Exercise, ExerciseCard, ReviewLog, SimResult, User
from quizapp.models.base import utcnow
from quizapp.services.content_import import import_content
from quizapp.services.exercise_cards import rate_exercise, reveal_exercise
from quizapp.services.memory import memory_overview
from quizapp.services.review import rate_card, review_queue, undo_rating
from quizapp.services.revlog import RevlogInvalid, export_revlog, import_revlog
from quizapp.services.schedule_fits import learner_reviews
from quizapp.services.simulations import start_exercise_run, warm_cache
from quizapp.sim import SIMULATOR_VERSION, validate_config

COLUMNS = ("state", "due_at", "stability", "difficulty", "reviews", "lapses", "last_review_at")


def recorded(exercise: Exercise, choices: dict, verdict: str) -> None:
    """A stored result for this configuration, as an earlier run would have left (the
    figures EXERCISE's goals read: a healthy run keeps a ratio above its 0.001)."""
    config = validate_config(build_config(exercise.network, exercise.choices, choices))
    key = cache_key(config, SIMULATOR_VERSION)
    db.session.add(
        SimResult(
            key=key,
            simulator_version=SIMULATOR_VERSION,
            config={},
            result={
                "verdict": verdict,
                "summary": {"backward_signal_ratio": 0.5 if verdict == "healthy" else 1e-9},
            },
        )
    )
    db.session.commit()


def prepare(content_dir) -> Exercise:
    write_exercise(content_dir)
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


def test_the_review_log_csv_round_trips_exercise_cards_beside_question_cards(exercise) -> None:
    first = User(username="first", username_key="first", password_hash="unused")
    second = User(username="second", username_key="second", password_hash="unused")
    db.session.add_all([first, second])
    db.session.commit()
    start_exercise_run(first, "tanh-init", {"init": "xavier_normal"}, "healthy")
    card = db.session.scalar(select(ExerciseCard).where(ExerciseCard.user_id == first.id))
    rate_exercise(first, exercise, "hard", now=card.due_at + timedelta(days=1))
    rate_card(first, "beta", "again", now=utcnow())

    exported = export_revlog(first)

    ids = [line.split(",")[0] for line in exported.splitlines()[1:]]
    assert sorted(ids) == ["alpha", "beta", "exercise:tanh-init", "exercise:tanh-init"]
    result = import_revlog(second, exported.encode())
    assert (result.imported, result.skipped, result.cards) == (4, 0, 3)
    assert export_revlog(second) == exported  # the same history, states and elapsed days
    moved = db.session.scalar(select(ExerciseCard).where(ExerciseCard.user_id == second.id))
    card = db.session.get(ExerciseCard, card.id)
    for name in ("stability", "difficulty", "reviews", "lapses"):
        assert getattr(moved, name) == getattr(card, name), name
    for name in ("due_at", "last_review_at"):  # the CSV keeps milliseconds
        assert abs(getattr(moved, name) - getattr(card, name)) < timedelta(milliseconds=1)
    assert moved.choices is None  # a configuration comes with the learner's own first run here
    assert import_revlog(second, exported.encode()).skipped == 4


def test_a_review_log_naming_an_unknown_exercise_imports_nothing(exercise) -> None:
    user = User(username="learner", username_key="learner", password_hash="unused")
    db.session.add(user)
    db.session.commit()
    ms = int(utcnow().timestamp() * 1000)
    text = (
        "card_id,review_time,review_rating\n"
        f"exercise:tanh-init,{ms},3\nexercise:alpha,{ms},3\ntanh-init,{ms},3\n"
    )

    with pytest.raises(RevlogInvalid) as caught:
        import_revlog(user, text.encode())

    assert caught.value.problems == [
        "line 3: card_id: no exercise 'alpha' here",  # a question's slug is not an exercise's
        "line 4: card_id: no question 'tanh-init' here",  # nor the other way round
    ]
    assert db.session.scalar(select(func.count()).select_from(ReviewLog)) == 0
    assert db.session.scalar(select(func.count()).select_from(ExerciseCard)) == 0


def simulated(exercise: Exercise, choices: dict) -> None:
    """The stored result of this configuration replaced by a real simulation's, for the pages
    that draw it whole."""
    config = validate_config(build_config(exercise.network, exercise.choices, choices))
    db.session.delete(db.session.get(SimResult, cache_key(config, SIMULATOR_VERSION)))
    db.session.commit()
    warm_cache([config])


def hidden_fields(html: str, form_class: str) -> dict[str, str]:
    form = re.search(rf'<form [^>]*class="[^"]*{form_class}[^"]*".*?</form>', html, re.S).group(0)
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))


def test_running_an_exercise_card_again_is_its_review_and_returns_to_the_session(
    app, client, content_dir
) -> None:
    with app.app_context():
        simulated(prepare(content_dir), {"init": "xavier_normal"})
    sign_in(client, add_user(app))
    client.post("/exercises/tanh-init/runs", data={"init": "xavier_normal"})
    with app.app_context():
        db.session.scalar(select(ExerciseCard)).due_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    back = client.post("/review/reveal", data={"exercise": "tanh-init", "prediction": "healthy"})
    run_form = hidden_fields(back.text, "review-run")
    assert run_form["next"] == "/review" and run_form["init"] == "xavier_normal"
    stale_version = hidden_fields(back.text, "review-back")["card_version"]

    ran = client.post("/exercises/tanh-init/runs", data=run_form)
    assert ran.status_code == 302 and ran.location.endswith("?next=/review")
    result = client.get(ran.location).text
    run_id = ran.location.split("/runs/")[1].split("?")[0]
    assert f'href="/review?ran={run_id}"' in result and "Continue where you left off" in result

    returned = client.get(f"/review?ran={run_id}")
    assert returned.status_code == 302 and returned.location == "/review"
    page = client.get("/review").text
    assert "Your run counted as the review of “Keep a small tanh stack alive”: rated Good" in page
    assert 'aria-label="Card 2 of 2"' in page  # done: the run; left: the new question beta
    assert 'name="exercise" value="tanh-init"' not in page  # not due any more
    client.get(f"/review?ran={run_id}")  # back twice (reload, history): counted once
    assert 'aria-label="Card 2 of 2"' in client.get("/review").text

    # The form shown before the run is stale now: sent anyway, the run stays the one review.
    form = {"exercise": "tanh-init", "rating": "easy", "card_version": stale_version}
    rated = client.post("/review/rate", data=form)
    assert rated.status_code == 303
    page = client.get("/review").text
    assert "Rated Good: the exercise “Keep a small tanh stack alive”" in page
    assert 'aria-label="Card 2 of 2"' in page
    with app.app_context():
        assert db.session.scalar(select(ExerciseCard.reviews)) == 2
        logs = select(func.count()).select_from(ReviewLog).where(ReviewLog.exercise_id.is_not(None))
        assert db.session.scalar(logs) == 2  # the first run's and this run's, no third


@pytest.mark.parametrize(
    "target", ["//evil.example/review", "https://evil.example/", "/\t/evil.example", "review"]
)
def test_a_run_only_leads_back_to_a_page_of_this_site(app, client, content_dir, target) -> None:
    with app.app_context():
        simulated(prepare(content_dir), {"init": "xavier_normal"})
    sign_in(client, add_user(app))

    form = {"init": "xavier_normal", "next": target}
    ran = client.post("/exercises/tanh-init/runs", data=form)

    assert ran.status_code == 302 and "next=" not in ran.location
    assert "Continue where you left off" not in client.get(ran.location).text
    forged = client.get(ran.location + "?next=" + target)
    assert forged.status_code == 200 and "evil.example" not in forged.text


def test_the_api_counts_a_run_of_an_exercise_card_as_its_review(app, client, content_dir) -> None:
    with app.app_context():
        prepare(content_dir)
    sign_in(client, add_user(app))
    client.post("/api/v1/exercises/tanh-init/runs", json={"choices": {"init": "xavier_normal"}})
    with app.app_context():
        db.session.scalar(select(ExerciseCard)).due_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    path = "/api/v1/me/review/exercises/tanh-init"
    shown = client.post(f"{path}/reveal", json={"prediction": "healthy"}).get_json()

    run = client.post("/api/v1/exercises/tanh-init/runs", json={"choices": shown["choices"]})
    review_id = run.get_json()["review_id"]
    assert run.status_code == 202 and review_id is not None

    queue = client.get("/api/v1/me/review/queue").get_json()
    assert "tanh-init" not in [card["question"] for card in queue["cards"]]
    body = {"rating": "again", "card_version": shown["card_version"]}
    rated = client.post(f"{path}/ratings", json=body).get_json()
    assert rated["duplicate"] is True
    assert (rated["review_id"], rated["rating"]) == (review_id, "good")
    assert client.get(f"/api/v1/runs/{run.get_json()['id']}").get_json()["review_id"] == review_id
    lab = client.post("/api/v1/lab/runs", json={"config": run.get_json()["config"]})
    assert lab.get_json()["from_cache"] and lab.get_json()["review_id"] is None


def test_exercise_cards_interleave_with_the_questions_of_their_topic(
    any_db_app, content_dir
) -> None:
    activation = {"topics: [gradient-flow]": "topics: [activation-functions]"}
    write_question(content_dir, "gamma", replace=activation)
    # tanh-init belongs to alpha (gradient-flow); its twin to gamma (activation-functions).
    twin = EXERCISE.replace("slug: tanh-init", "slug: tanh-twin").replace("[alpha]", "[gamma]")
    (content_dir / "exercises" / "tanh-twin.yaml").write_text(twin)
    with any_db_app.app_context():
        prepare(content_dir)
        user = User(username="learner", username_key="learner", password_hash="unused")
        db.session.add(user)
        db.session.commit()
        for slug in ("tanh-init", "tanh-twin"):
            start_exercise_run(user, slug, {"init": "xavier_normal"})
        rate_card(user, "beta", "good")  # alpha and gamma have cards from the runs
        due_order = ["alpha", "beta", "tanh-twin", "tanh-init", "gamma"]
        now = utcnow() + timedelta(days=400)
        for minutes, slug in enumerate(due_order):
            for item in review_queue(user, now).cards:
                if item.question.slug == slug:
                    item.card.due_at = now - timedelta(hours=1) + timedelta(minutes=minutes)
        db.session.commit()

        queue = review_queue(user, now)

        topics = {item.question.slug: item.topic for item in queue.cards}
        assert (topics["tanh-init"], topics["tanh-twin"]) == (
            "gradient-flow",
            "activation-functions",
        )
        # Round robin over gradient-flow [alpha, beta, tanh-init] and activation-functions
        # [tanh-twin, gamma]; with one group for both exercises they came out side by side.
        assert [item.question.slug for item in queue.cards] == [
            "alpha", "tanh-twin", "beta", "gamma", "tanh-init"
        ]  # fmt: skip


def test_an_exercise_card_imported_without_a_run_asks_for_one(app, client, content_dir) -> None:
    with app.app_context():
        prepare(content_dir)
    sign_in(client, add_user(app))
    ms = int((utcnow() - timedelta(days=30)).timestamp() * 1000)
    text = f"card_id,review_time,review_rating\nexercise:tanh-init,{ms},1\n"
    imported = client.post(
        "/account/review-log/import", data={"file": (io.BytesIO(text.encode()), "revlog.csv")}
    )
    assert imported.status_code == 303

    page = client.get("/review").text
    assert "Weight initialisation: <strong>not chosen yet</strong>" in page
    back = client.post("/review/reveal", data={"exercise": "tanh-init"}).text
    assert "no recorded result yet" in back and 'href="/exercises/tanh-init"' in back
    assert "review-run" not in back  # nothing to run again yet
