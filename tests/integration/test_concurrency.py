"""Parallel answers from threads, each with its own app context, against one real database.

Two tabs (or more) answering at once must lose nothing, and the same form submitted twice
at once must still be one attempt. SQLite file and, where configured, PostgreSQL.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from conftest import submit_authored
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import Attempt, Question, ReviewCard, User
from quizapp.services.accounts import register_user
from quizapp.services.content_import import import_content
from quizapp.services.errors import Conflict

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
THREADS = 4
PER_THREAD = 10


@pytest.fixture
def bank(any_db_app, content_dir):
    with any_db_app.app_context():
        import_content(content_dir)
    return any_db_app


def add_user(app, username: str) -> int:
    with app.app_context():
        user = User(username=username, username_key=username, password_hash="not used here")
        db.session.add(user)
        db.session.commit()
        return user.id


def run_in_threads(app, work, count: int = THREADS) -> list:
    """Run work(thread_number) in `count` threads released together; return their results."""
    start = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def target(number: int) -> None:
        try:
            with app.app_context():
                start.wait(timeout=30)
                results[number] = work(number)
                db.session.remove()
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert errors == [], errors
    return results


def attempts_and_reviews(app, user_id: int, slug: str) -> tuple[int, int]:
    with app.app_context():
        attempts = db.session.scalar(
            select(func.count()).select_from(Attempt).where(Attempt.user_id == user_id)
        )
        reviews = db.session.scalar(
            select(ReviewCard.reviews)
            .join(Question, Question.id == ReviewCard.question_id)
            .where(ReviewCard.user_id == user_id, Question.slug == slug)
        )
        return attempts, reviews


def test_parallel_answers_to_one_card_are_all_kept(bank):
    user_id = add_user(bank, "ann")

    def answer(thread: int) -> list[int]:
        user = db.session.get(User, user_id)
        return [
            submit_authored(
                user,
                "alpha",
                step % 2,  # the single-choice and the numeric check of the same card
                1 if step % 2 == 0 else "0.25",
                idempotency_key=f"tab-{thread}-form-{step}",
                now=NOW + timedelta(seconds=step),
            ).attempt_id
            for step in range(PER_THREAD)
        ]

    ids = [attempt for batch in run_in_threads(bank, answer) for attempt in batch]
    assert len(set(ids)) == THREADS * PER_THREAD
    # Every answer is stored and every one of them reviewed the card: no lost update.
    assert attempts_and_reviews(bank, user_id, "alpha") == (
        THREADS * PER_THREAD,
        THREADS * PER_THREAD,
    )


def test_parallel_learners_on_several_cards_each_keep_their_own_counts(bank):
    ann, bob = add_user(bank, "ann"), add_user(bank, "bob")

    def answer(thread: int) -> None:
        user = db.session.get(User, ann if thread % 2 == 0 else bob)
        for step in range(PER_THREAD):
            slug = "alpha" if step % 2 == 0 else "beta"
            submit_authored(user, slug, 0, 1 if step % 3 == 0 else 0, now=NOW)

    run_in_threads(bank, answer)
    per_user = THREADS // 2 * PER_THREAD
    for user_id in (ann, bob):
        assert attempts_and_reviews(bank, user_id, "alpha") == (per_user, per_user // 2)
        assert attempts_and_reviews(bank, user_id, "beta") == (per_user, per_user // 2)


def test_one_form_submitted_from_several_threads_at_once_is_one_attempt(bank):
    user_id = add_user(bank, "ann")

    def double_submit(thread: int):
        user = db.session.get(User, user_id)
        result = submit_authored(user, "alpha", 0, 1, idempotency_key="the-one-form", now=NOW)
        return result.attempt_id, result.grade.correct

    results = run_in_threads(bank, double_submit)
    assert len(set(results)) == 1, results
    assert results[0][1] is True
    assert attempts_and_reviews(bank, user_id, "alpha") == (1, 1)


def test_two_registrations_of_one_username_at_once_make_one_account(bank):
    outcomes: list[str] = []

    def register(thread: int) -> None:
        try:
            register_user("Racer" if thread else "racer", "correct horse battery")
            outcomes.append("created")
        except Conflict as conflict:
            outcomes.append(conflict.message)

    run_in_threads(bank, register, count=2)
    assert sorted(outcomes) == ["That username is taken. Choose another.", "created"]
    with bank.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
