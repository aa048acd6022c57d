"""The JSON API for answers and progress: POST attempts, GET /me/progress, /me/reviews/due,
/me/export, by session cookie or personal API token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import shown, sign_in
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import ApiToken, Attempt, Question, ReviewCard, User
from quizapp.services.accounts import create_api_token, revoke_api_token
from quizapp.services.content_import import import_content
from quizapp.services.learning import submit_answer

ATTEMPTS = "/api/v1/questions/{slug}/attempts"


@pytest.fixture
def bank(any_db_app, content_dir):
    """alpha and beta: check 0 single choice (index 1 right), 1 numeric 0.25, 2 self-rated.
    Answering runs on SQLite and PostgreSQL."""
    with any_db_app.app_context():
        import_content(content_dir)
    return any_db_app


@pytest.fixture
def api(bank):
    return bank.test_client()


@pytest.fixture
def reading(app, content_dir):
    """The same bank on SQLite only, for the read endpoints."""
    with app.app_context():
        import_content(content_dir)
    return app


@pytest.fixture
def reader(reading):
    return reading.test_client()


def add_user(app, username: str = "ada") -> int:
    with app.app_context():
        user = User(username=username, username_key=username, password_hash="not used here")
        db.session.add(user)
        db.session.commit()
        return user.id


def token_for(app, user_id: int, name: str = "script") -> str:
    with app.app_context():
        return create_api_token(db.session.get(User, user_id), name).secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def post_attempt(client, slug: str = "alpha", headers=None, **body):
    return client.post(ATTEMPTS.format(slug=slug), json=body, headers=headers or {})


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Attempt)),
            db.session.scalar(select(func.count()).select_from(ReviewCard)),
        )


# Answering


def test_an_anonymous_answer_is_graded_not_stored(api, bank):
    # Options are shuffled per learner; a cookie-less client gets the anonymous order.
    options = api.get("/api/v1/questions/alpha").get_json()["checks"][0]["options"]
    wrong = [option["text"] for option in options].index("1")
    response = post_attempt(api, check=0, response=wrong)
    assert response.status_code == 201
    body = response.get_json()
    assert body == {
        "question": "alpha",
        "check": 0,
        "kind": "single_choice",
        "response": wrong,
        "score": 0.0,
        "raw_score": None,
        "correct": False,
        "final": True,
        "tries_left": 0,
        "hints_used": 0,
        "verdicts": ["picked_wrong", "missed"] if wrong == 0 else ["missed", "picked_wrong"],
        "rating": None,
        "feedback": ["That is tanh's maximum derivative."],
        "expected": 1 - wrong,
        "stored": False,
        "duplicate": False,
        "attempt_id": None,
        "next_review_at": None,
    }
    assert counts(bank) == (0, 0)


def test_a_token_holders_answer_is_stored_and_schedules_the_card(api, bank):
    user_id = add_user(bank)
    secret = token_for(bank, user_id)
    response = post_attempt(api, headers=bearer(secret), check=1, response="0.25", elapsed_ms=900)
    assert response.status_code == 201
    body = response.get_json()
    assert (body["correct"], body["stored"], body["expected"]) == (True, True, 0.25)
    due = datetime.fromisoformat(body["next_review_at"])
    assert due > datetime.now(UTC)
    with bank.app_context():
        attempt = db.session.get(Attempt, body["attempt_id"])
        assert (attempt.user_id, attempt.elapsed_ms, attempt.response) == (user_id, 900, 0.25)
        assert db.session.scalar(select(ReviewCard.due_at)) == due
        assert db.session.scalar(select(ApiToken.last_used_at)) is not None


def test_a_signed_in_browser_can_use_the_api_with_its_session(api, bank):
    user_id = add_user(bank)
    sign_in(api, user_id)
    body = post_attempt(api, check=2, response="Small factors multiply.", rating="easy").get_json()
    assert (body["stored"], body["rating"], body["score"]) == (True, "easy", 1.0)
    assert body["expected"].startswith("It is $1/4$")  # the model answer
    with bank.app_context():
        assert db.session.scalar(select(Attempt.user_id)) == user_id


API_BAD_INPUT = [
    # body, the field named in the message, a piece of the message
    ({"check": 0, "response": 7}, "response", "option 7 does not exist"),
    ({"check": 0, "response": "one"}, "response", "choose an option by its number"),
    ({"check": 0, "response": {"index": 1}}, "response", "choose an option"),
    ({"check": 0, "response": True}, "response", "not True"),
    ({"check": 1, "response": ""}, "response", "enter a number"),
    ({"check": 1, "response": [0.25]}, "response", "enter a number"),
    ({"check": 2, "response": "", "rating": "good"}, "response", "write an answer"),
    ({"check": 2, "response": "x" * 10_001, "rating": "good"}, "response", "answer too long"),
    ({"check": 2, "response": "text"}, "response", "rate your answer"),
    ({"check": 5, "response": 1}, "check", "check must be a number from 0 to 2"),
    ({"check": "first", "response": 1}, "check", "check must be"),
    ({"check": [0], "response": 1}, "check", "check must be"),
    ({"response": 1}, None, "check: Missing data for required field."),
    ({"check": 0}, None, "response: Missing data for required field."),
    ({"check": 2, "response": "text", "rating": "meh"}, None, "rating: Must be one of"),
    ({"check": 0, "response": 1, "elapsed_ms": -5}, None, "elapsed_ms:"),
    ({"check": 0, "response": 1, "idempotency_key": "k" * 65}, None, "idempotency_key:"),
    ({"check": 0, "response": 1, "surprise": 1}, None, "surprise: Unknown field."),
]


def test_bad_input_is_a_400_with_a_message_and_nothing_is_stored(api, bank):
    secret = token_for(bank, add_user(bank))
    for body, field, message in API_BAD_INPUT:
        response = post_attempt(api, headers=bearer(secret), **body)
        assert response.status_code == 400, body
        error = response.get_json()
        assert (error["code"], error["status"]) == (400, "That request did not make sense")
        assert message in error["message"], (body, error)
        assert error.get("field") == field, (body, error)
    assert counts(bank) == (0, 0)


def test_a_body_that_is_not_json_is_a_400(api, bank):
    for data, content_type in [("check=0", "application/x-www-form-urlencoded"),
                               ("{not json", "application/json"),
                               ("[0, 1]", "application/json")]:  # fmt: skip
        response = api.post(ATTEMPTS.format(slug="alpha"), data=data, content_type=content_type)
        assert response.status_code == 400, data
        assert response.get_json()["message"]
    assert counts(bank) == (0, 0)


def test_a_huge_body_is_refused_before_it_is_read(api, bank):
    response = post_attempt(api, check=2, response="x" * 70_000, rating="good")
    assert response.status_code == 413
    assert response.get_json()["message"] == "The request body is too large."


def test_unknown_and_retired_questions(api, bank):
    secret = token_for(bank, add_user(bank))
    missing = post_attempt(api, "no-such-card", bearer(secret), check=0, response=1)
    assert missing.status_code == 404
    assert missing.get_json()["message"] == "No question 'no-such-card'."
    with bank.app_context():
        db.session.scalar(
            select(Question).where(Question.slug == "beta")
        ).retired_at = datetime.now(UTC)
        db.session.commit()
    retired = post_attempt(api, "beta", bearer(secret), check=0, response=1)
    assert retired.status_code == 410
    assert retired.get_json()["message"] == "The question 'Question beta' has been retired."
    assert counts(bank) == (0, 0)


def test_a_retried_request_with_the_same_key_is_stored_once(api, bank):
    secret = token_for(bank, add_user(bank))
    headers = {**bearer(secret), "Idempotency-Key": "retry-1"}
    first = post_attempt(api, headers=headers, check=0, response=1).get_json()
    second = post_attempt(api, headers=headers, check=0, response=1).get_json()
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert second["attempt_id"] == first["attempt_id"]
    in_body = post_attempt(api, headers=bearer(secret), check=0, response=1,
                           idempotency_key="retry-1").get_json()  # fmt: skip
    assert in_body["attempt_id"] == first["attempt_id"]
    assert counts(bank) == (1, 1)

    reused = post_attempt(api, "beta", headers, check=0, response=1)
    assert reused.status_code == 409
    assert "already used for another answer" in reused.get_json()["message"]
    assert counts(bank) == (1, 1)


# Reading my progress


def test_my_endpoints_need_a_session_or_a_token(reader, reading):
    user_id = add_user(reading)
    secret = token_for(reading, user_id)
    with reading.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
        revoke_api_token(db.session.get(User, user_id), token_id)
    for path in ("/api/v1/me/progress", "/api/v1/me/reviews/due", "/api/v1/me/export"):
        for headers in ({}, bearer(secret), bearer("qz_guess"), {"Authorization": "Basic YTpi"},
                        {"Authorization": "Bearer"}):  # fmt: skip
            response = reader.get(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            expected = (
                "The Authorization header does not authenticate: send 'Authorization: Bearer "
                "<token>' with an active, unexpired API token, or no Authorization header at all."
                if headers
                else "Sign in, or send an API token as 'Authorization: Bearer'."
            )
            assert response.get_json()["message"] == expected


def answer_in_the_past(app, user_id: int, slug: str, check: int, response, days: float):
    with app.app_context():
        when = datetime.now(UTC) - timedelta(days=days)
        response = shown(slug, check, response, user_id)
        user = db.session.get(User, user_id)
        # tries_used=2: a wrong number on its last try is final (stored).
        return submit_answer(user, slug, check, response, now=when, tries_used=2)


def test_my_progress(reader, reading):
    user_id = add_user(reading)
    answer_in_the_past(reading, user_id, "alpha", 0, 0, days=1)
    answer_in_the_past(reading, user_id, "alpha", 0, 1, days=0)
    answer_in_the_past(reading, user_id, "beta", 1, "0.25", days=0)
    progress = reader.get("/api/v1/me/progress", headers=bearer(token_for(reading, user_id)))
    assert progress.status_code == 200
    body = progress.get_json()
    assert body["attempts_total"] == 3
    assert body["accuracy_total"] == pytest.approx(2 / 3)
    assert body["streak"] == 2
    assert [(day["accuracy"], day["answers"]) for day in body["accuracy"]] == [(0.0, 1), (1.0, 2)]
    # alpha: half right of late (attempted); beta: right, remembered for days (familiar).
    # The topic's level is the median of its two questions, rounded down.
    assert body["topics"] == [
        {
            "topic": "gradient-flow",
            "title": "Gradient flow",
            "level": "attempted",
            "label": "Attempted",
            "question_count": 2,
        }
    ]
    # Both cards are still in FSRS's learning steps: back within minutes, not yet.
    assert (body["due_now"], body["due_today"]) == (0, 2)


def test_my_due_reviews_most_overdue_first(reader, reading):
    user_id = add_user(reading)
    answer_in_the_past(reading, user_id, "beta", 0, 0, days=1)
    answer_in_the_past(reading, user_id, "alpha", 0, 0, days=2)
    due = reader.get("/api/v1/me/reviews/due", headers=bearer(token_for(reading, user_id)))
    assert due.status_code == 200
    body = due.get_json()
    assert [(card["question"], card["title"], card["reviews"]) for card in body] == [
        ("alpha", "Question alpha", 1),
        ("beta", "Question beta", 1),
    ]
    assert datetime.fromisoformat(body[0]["due_at"]) < datetime.fromisoformat(body[1]["due_at"])


def test_my_export_has_my_data_and_no_secrets(reader, reading):
    user_id = add_user(reading)
    secret = token_for(reading, user_id, "laptop")
    answer_in_the_past(reading, user_id, "alpha", 1, "0.3", days=1)
    response = reader.get("/api/v1/me/export", headers=bearer(secret))
    assert response.status_code == 200
    data = response.get_json()
    assert data["account"]["username"] == "ada"
    assert data["account"]["desired_retention"] == 0.9
    (attempt,) = data["attempts"]
    assert (attempt["question"], attempt["kind"], attempt["response"], attempt["correct"]) == (
        "alpha",
        "numeric",
        0.3,
        False,
    )
    # Nothing shuffled on a numeric check; its last try, no hint.
    assert (attempt["layout"], attempt["tries_used"], attempt["hints_used"]) == (None, 2, 0)
    (card,) = data["review_cards"]
    assert (card["question"], card["reviews"]) == ("alpha", 1)
    (token,) = data["api_tokens"]
    assert (token["name"], token["prefix"], token["revoked_at"]) == ("laptop", secret[:10], None)
    assert secret not in response.text
    with reading.app_context():
        assert db.session.scalar(select(ApiToken.token_hash)) not in response.text


def test_the_api_is_documented_with_both_ways_to_sign_in(reader):
    spec = reader.get("/api/openapi.json").get_json()
    for path in (
        "/api/v1/questions/{slug}/attempts",
        "/api/v1/me/progress",
        "/api/v1/me/reviews/due",
        "/api/v1/me/export",
    ):
        assert path in spec["paths"], path
    assert set(spec["components"]["securitySchemes"]) >= {"bearerAuth", "cookieAuth"}


def test_my_tokens_lists_the_working_ones_with_their_expiry(reader, reading):
    user_id = add_user(reading)
    with reading.app_context():
        user = db.session.get(User, user_id)
        script = create_api_token(user, "script", expires_in_days=7)
        create_api_token(user, "forever", expires_in_days=None)
        revoke_api_token(user, create_api_token(user, "gone").token.id)
    response = reader.get("/api/v1/me/tokens", headers=bearer(script.secret))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    listed = {token["name"]: token for token in response.get_json()}
    assert set(listed) == {"script", "forever"}
    assert listed["forever"]["expires_at"] is None
    expires = datetime.fromisoformat(listed["script"]["expires_at"])
    assert timedelta(days=6) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert listed["script"]["prefix"] == script.secret[:10]
    assert script.secret not in response.text
    spec = reader.get("/api/openapi.json").get_json()
    assert "/api/v1/me/tokens" in spec["paths"]
