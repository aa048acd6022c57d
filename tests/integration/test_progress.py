"""A learner's progress with a fixed clock: mastery per topic, accuracy, streak, due counts,
history, mistakes, export, and a dashboard whose query count does not grow with history."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from conftest import sign_in, submit_authored, write_question
from sqlalchemy import event, select

from quizapp.domain.scheduling import schedule_review
from quizapp.extensions import db
from quizapp.models import Attempt, Question, ReviewCard, User
from quizapp.services.accounts import create_api_token, revoke_api_token
from quizapp.services.content_import import import_content
from quizapp.services.personal_data import export_user_data
from quizapp.services.progress import (
    HISTORY_LENGTH,
    learner_progress,
    recent_mistakes,
)

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
ACTIVATION_ONLY = {"topics: [gradient-flow]": "topics: [activation-functions]"}
BOTH_TOPICS = {"topics: [gradient-flow]": "topics: [gradient-flow, activation-functions]"}


@pytest.fixture
def bank(app, content_dir):
    """Gradient flow: alpha, beta, delta. Activation functions: gamma, delta."""
    write_question(content_dir, "gamma", replace=ACTIVATION_ONLY)
    write_question(content_dir, "delta", replace=BOTH_TOPICS)
    with app.app_context():
        import_content(content_dir)
        yield app


def new_user(username: str = "ada") -> User:
    user = User(username=username, username_key=username, password_hash="not used here")
    db.session.add(user)
    db.session.commit()
    return user


def at(days: float = 0, hours: float = 0) -> datetime:
    return NOW - timedelta(days=days, hours=hours)


def retire(slug: str) -> None:
    db.session.scalar(select(Question).where(Question.slug == slug)).retired_at = NOW
    db.session.commit()


def test_a_new_learner_has_not_started_anything(bank):
    progress = learner_progress(new_user(), now=NOW)
    assert (progress.attempts_total, progress.accuracy_total, progress.streak) == (0, None, 0)
    assert (progress.due_now, progress.due_today, progress.questions_seen) == (0, 0, 0)
    assert progress.accuracy == [] and progress.history == []
    assert [(t.topic.slug, t.level, t.label, t.question_count) for t in progress.topics] == [
        ("gradient-flow", "not_started", "Not started", 3),
        ("activation-functions", "not_started", "Not started", 2),
    ]


def test_progress_adds_up_a_learners_answers(bank):
    user = new_user()
    submit_authored(user, "alpha", 0, 0, now=at(days=2))
    submit_authored(user, "beta", 0, 1, now=at(days=1))
    submit_authored(user, "alpha", 1, "0.25", now=at(hours=1))
    submit_authored(user, "gamma", 2, "My answer.", rating="hard", now=at(hours=1))
    submit_authored(new_user("bob"), "beta", 0, 0, now=at(hours=2))  # not ada's

    progress = learner_progress(user, now=NOW)
    assert progress.attempts_total == 4
    assert progress.accuracy_total == pytest.approx((0 + 1 + 1 + 0.5) / 4)
    assert progress.accuracy == [
        (TODAY - timedelta(days=2), 0.0, 1),
        (TODAY - timedelta(days=1), 1.0, 1),
        (TODAY, 0.75, 2),
    ]
    assert progress.streak == 3
    assert progress.questions_seen == 3
    # All three cards are in FSRS's learning steps (minutes), so all are due again.
    assert (progress.due_now, progress.due_today) == (3, 3)

    topics = {t.topic.slug: t for t in progress.topics}
    # alpha: 1 of 2 right lately -> attempted; beta: right, remembered for days -> familiar;
    # delta: not started. A topic is the median of its questions, rounded down.
    flow = topics["gradient-flow"]
    assert (flow.level, flow.question_count) == ("attempted", 3)
    assert flow.levels == {
        "not_started": 1,
        "attempted": 1,
        "familiar": 1,
        "proficient": 0,
        "mastered": 0,
    }
    # gamma attempted, delta not: the median rounds down to not started, but a topic with an
    # attempt is at least attempted (never "Not started" beside "answered 1/2").
    assert topics["activation-functions"].level == "attempted"

    assert [(row.question_slug, row.attempt.kind) for row in progress.history] == [
        ("gamma", "self_rated"),
        ("alpha", "numeric"),
        ("beta", "single_choice"),
        ("alpha", "single_choice"),
    ]
    assert progress.history[0].question_title == "Question gamma"


def test_due_counts_follow_the_clock(bank):
    user = new_user()
    right = submit_authored(user, "alpha", 2, "text", rating="easy", now=at(days=1))
    due = right.next_review_at
    assert due > NOW + timedelta(days=1)  # easy: out of the learning steps, days away
    now = learner_progress(user, now=NOW)
    assert (now.due_now, now.due_today) == (0, 0)
    day_before = learner_progress(user, now=due - timedelta(hours=23))
    assert (day_before.due_now, day_before.due_today) == (0, 1)
    assert learner_progress(user, now=due).due_now == 1


def test_the_streak_counts_consecutive_days_ending_today_or_yesterday(bank):
    user = new_user()
    for days in (5, 4, 2, 1):
        submit_authored(user, "alpha", 0, 1, now=at(days=days))
    assert learner_progress(user, now=NOW).streak == 2  # yesterday and the day before
    assert learner_progress(user, now=at(days=3)).streak == 2  # days 5 and 4 ago
    assert learner_progress(user, now=NOW + timedelta(days=2)).streak == 0


def test_history_is_the_latest_answers_newest_first(bank):
    user = new_user()
    for n in range(HISTORY_LENGTH + 10):
        slug, hours_ago = ("beta" if n % 2 else "alpha"), HISTORY_LENGTH + 10 - n
        submit_authored(user, slug, 0, 1 if n % 3 == 0 else 0, now=at(hours=hours_ago))
    progress = learner_progress(user, now=NOW)
    assert progress.attempts_total == HISTORY_LENGTH + 10
    times = [row.attempt.created_at for row in progress.history]
    assert len(times) == HISTORY_LENGTH
    assert times == sorted(times, reverse=True)
    assert times[0] == at(hours=1)


def test_retired_questions_leave_mastery_and_due_counts(bank):
    user = new_user()
    submit_authored(user, "alpha", 0, 0, now=at(days=1))
    submit_authored(user, "beta", 0, 0, now=at(days=1))
    retire("beta")
    progress = learner_progress(user, now=NOW)
    assert progress.due_now == 1
    flow = next(t for t in progress.topics if t.topic.slug == "gradient-flow")
    assert flow.question_count == 2
    assert progress.attempts_total == 2  # what was answered stays answered


def test_mistakes_are_questions_whose_last_answer_was_not_fully_right(bank):
    user = new_user()
    submit_authored(user, "alpha", 0, 0, now=at(days=4))
    submit_authored(user, "beta", 0, 1, now=at(days=4))
    submit_authored(user, "alpha", 0, 1, now=at(days=3))  # put right
    submit_authored(user, "gamma", 1, "3", now=at(days=3))
    submit_authored(user, "beta", 2, "so-so", rating="hard", now=at(days=2))  # half right now
    submit_authored(user, "delta", 0, 0, now=at(days=1))
    submit_authored(new_user("bob"), "alpha", 0, 0, now=at(hours=1))
    assert [q.slug for q in recent_mistakes(user)] == ["delta", "beta", "gamma"]
    assert [q.slug for q in recent_mistakes(user, limit=2)] == ["delta", "beta"]
    retire("delta")
    assert [q.slug for q in recent_mistakes(user)] == ["beta", "gamma"]


def test_the_export_holds_everything_about_the_learner(bank):
    user = new_user()
    submit_authored(user, "alpha", 0, 1, now=at(days=1), elapsed_ms=1234)
    submit_authored(user, "alpha", 2, "Because.", rating="good", now=at(hours=2))
    kept = create_api_token(user, "laptop")
    gone = create_api_token(user, "old phone")
    revoke_api_token(user, gone.token.id)
    submit_authored(new_user("bob"), "beta", 0, 1, now=at(hours=1))

    data = export_user_data(user)
    assert data["account"] == {
        "username": "ada",
        "role": "learner",
        "desired_retention": 0.9,
        "new_cards_per_day": 20,
        "max_reviews_per_day": 200,
        "leech_threshold": 8,
        "created_at": user.created_at.isoformat(),
    }
    assert data["schedule_fits"] == []  # every fitted version would be listed here
    assert [
        (a["question"], a["check"], a["response"], a["score"], a["rating"], a["elapsed_ms"])
        for a in data["attempts"]
    ] == [("alpha", 0, 1, 1.0, None, 1234), ("alpha", 2, "Because.", 1.0, "good", None)]
    assert data["attempts"][0]["created_at"] == at(days=1).isoformat()
    (card,) = data["review_cards"]
    assert (card["question"], card["reviews"], card["lapses"]) == ("alpha", 2, 0)
    assert card["state"]["card_id"]
    assert sorted((t["name"], t["revoked_at"] is None) for t in data["api_tokens"]) == [
        ("laptop", True),
        ("old phone", False),
    ]
    assert kept.secret not in str(data)


# The dashboard's queries do not grow with the history


def many_questions(content_dir, count: int) -> list[str]:
    slugs = [f"extra-{n:02d}" for n in range(count)]
    for n, slug in enumerate(slugs):
        write_question(content_dir, slug, replace=(ACTIVATION_ONLY, BOTH_TOPICS, {})[n % 3])
    return slugs


def add_history(user: User, slugs: list[str], attempts: int) -> None:
    """`attempts` answers spread over the questions and the last weeks, with a card each."""
    ids = dict(db.session.execute(select(Question.slug, Question.id)).all())
    kinds = ("single_choice", "numeric", "self_rated")
    for n in range(attempts):
        check = n % 3
        db.session.add(
            Attempt(
                user_id=user.id,
                question_id=ids[slugs[n % len(slugs)]],
                check_index=check,
                kind=kinds[check],
                response="text" if check == 2 else 1,
                score=(n % 4) / 3,
                correct=n % 4 == 3,
                rating="good" if check == 2 else None,
                created_at=NOW - timedelta(hours=7 * n),
            )
        )
    for n, slug in enumerate(slugs):
        outcome = schedule_review(None, ("again", "good", "easy")[n % 3], at(days=n))
        db.session.add(
            ReviewCard(
                user_id=user.id,
                question_id=ids[slug],
                state=outcome.state,
                due_at=outcome.due,
                stability=outcome.stability,
                difficulty=outcome.difficulty,
                reviews=1,
                lapses=0,
                last_review_at=at(days=n),
            )
        )
    db.session.commit()


@contextlib.contextmanager
def counting_queries():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_the_dashboard_runs_the_same_queries_for_20_or_200_answers(app, content_dir):
    slugs = many_questions(content_dir, 12)
    with app.app_context():
        import_content(content_dir)
        small, large = new_user("small"), new_user("large")
        add_history(small, slugs[:4], 20)
        add_history(large, slugs, 200)
        ids = {"small": small.id, "large": large.id}

    queries = {}
    for name, user_id in ids.items():
        client = app.test_client()
        sign_in(client, user_id)
        assert client.get("/dashboard").status_code == 200  # warm
        for path in ("/dashboard", "/api/v1/me/progress", "/practice/mistakes"):
            with app.app_context(), counting_queries() as statements:
                response = client.get(path)
            assert response.status_code == 200, path
            queries[name, path] = len(statements)
        page = client.get("/dashboard").text
        assert f'<span class="stat-value">{20 if name == "small" else 200}</span>' in page

    for path in ("/dashboard", "/api/v1/me/progress", "/practice/mistakes"):
        assert queries["small", path] == queries["large", path], (path, queries)
    # The budget: 16 since the forecast counts exercise cards too (one query for their due dates).
    assert queries["large", "/dashboard"] <= 16, queries


def test_learner_progress_itself_is_a_handful_of_queries(app, content_dir):
    slugs = many_questions(content_dir, 9)
    with app.app_context():
        import_content(content_dir)
        user = new_user()
        add_history(user, slugs, 120)
        assert user.id  # loaded before counting, as a request's user is
        with counting_queries() as statements:
            progress = learner_progress(user, now=NOW)
            for row in progress.topics:
                _ = (row.topic.title, row.topic.slug, row.levels)
            for row in progress.history:
                _ = (row.attempt.created_at, row.attempt.kind, row.question_slug)
        assert progress.attempts_total == 120
        assert len(statements) <= 5, statements
