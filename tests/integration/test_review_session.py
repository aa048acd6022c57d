"""The review session through the services with a fixed clock: queue order and daily limits,
rating, exact undo, leeches, the review log CSV and schedule fits. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import add_review_history, shown, synthetic_reviews, write_question
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.jobs import JobOutcome
from quizapp.models import Attempt, Question, ReviewCard, ReviewLog, ScheduleFit, User
from quizapp.services.content_import import import_content
from quizapp.services.errors import Conflict, InvalidInput, NotFound
from quizapp.services.learning import current_parameters, due_count, submit_answer
from quizapp.services.review import (
    leeches,
    rate_card,
    resolve_leech,
    reveal_card,
    review_queue,
    undo_rating,
    update_review_settings,
)
from quizapp.services.revlog import RevlogInvalid, export_revlog, import_revlog
from quizapp.services.schedule_fits import (
    complete_fit,
    fit_status,
    start_fit,
    users_due_for_refit,
)

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
CARD_COLUMNS = ("state", "due_at", "stability", "difficulty", "reviews", "lapses",
                "last_review_at", "leech", "suspended_at")  # fmt: skip


@pytest.fixture
def bank(any_db_app, content_dir):
    """alpha (medium), beta (easy) on gradient-flow; gamma (hard) and delta (easy) on
    activation-functions. alpha's related: beta, gamma."""
    write_question(content_dir, "alpha", related=["beta", "gamma"])
    activation = {"topics: [gradient-flow]": "topics: [activation-functions]"}
    write_question(content_dir, "gamma", difficulty="hard", replace=activation)
    write_question(content_dir, "delta", difficulty="easy", replace=activation)
    with any_db_app.app_context():
        import_content(content_dir)
        yield any_db_app


@pytest.fixture
def learner(bank) -> User:
    user = User(username="learner", username_key="learner", password_hash="not used here")
    db.session.add(user)
    db.session.commit()
    return user


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def card_of(user: User, slug: str) -> ReviewCard | None:
    return db.session.scalar(
        select(ReviewCard)
        .join(Question, Question.id == ReviewCard.question_id)
        .where(ReviewCard.user_id == user.id, Question.slug == slug)
    )


def columns(card: ReviewCard) -> dict:
    return {name: getattr(card, name) for name in CARD_COLUMNS}


# ---------------------------------------------------------------------- queue and limits


def test_new_cards_come_easy_first_and_alternate_topics(learner) -> None:
    queue = review_queue(learner, NOW)

    assert [c.question.slug for c in queue.cards] == ["beta", "delta", "alpha", "gamma"]
    assert all(c.is_new for c in queue.cards)


def test_due_cards_come_before_new_ones_most_overdue_first(learner) -> None:
    rate_card(learner, "gamma", "good", now=NOW - timedelta(days=5))
    rate_card(learner, "alpha", "good", now=NOW - timedelta(days=3))

    queue = review_queue(learner, NOW)

    assert [c.question.slug for c in queue.cards] == ["gamma", "alpha", "beta", "delta"]
    assert [c.is_new for c in queue.cards] == [False, False, True, True]
    assert queue.due_total == 2


def test_daily_limits_cap_new_cards_and_reviews(learner) -> None:
    update_review_settings(learner, {"new_cards_per_day": "1", "max_reviews_per_day": "1"})
    rate_card(learner, "gamma", "good", now=NOW - timedelta(days=6))
    rate_card(learner, "alpha", "good", now=NOW - timedelta(days=5))

    first = review_queue(learner, NOW)
    rate_card(learner, first.cards[0].question.slug, "good", now=NOW)
    rate_card(learner, "beta", "good", now=NOW)
    later = review_queue(learner, NOW + timedelta(minutes=1))

    assert [c.question.slug for c in first.cards] == ["gamma", "beta"]
    assert later.cards == [] and later.due_total == 1  # alpha waits for tomorrow
    assert (later.reviews_done_today, later.new_done_today) == (1, 1)


def test_limits_out_of_range_are_refused_with_their_field(learner) -> None:
    with pytest.raises(InvalidInput) as caught:
        update_review_settings(learner, {"leech_threshold": "1"})

    assert caught.value.field == "leech_threshold"
    assert learner.leech_threshold == 8


# ----------------------------------------------------------------------------------- rating


def test_an_answered_check_grades_itself_and_suggests_the_rating(learner) -> None:
    # Answers are sent by the position shown to this learner (options are shuffled).
    wrong = reveal_card(learner, "alpha", 0, shown("alpha", 0, 0, learner.id), now=NOW)
    right = reveal_card(learner, "alpha", 0, shown("alpha", 0, 1, learner.id), now=NOW)

    assert (wrong.grade.correct, wrong.suggested) == (False, "again")
    assert (right.grade.correct, right.suggested) == (True, "good")
    assert [o.interval for o in right.options] == ["1 min", "6 min", "10 min", "8 d"]
    assert count(Attempt) == 0  # revealing stores nothing


def test_the_learners_rating_is_stored_with_the_graded_answer(learner) -> None:
    result = rate_card(learner, "alpha", "hard", check_index=0,
                       response=shown("alpha", 0, 1, learner.id), elapsed_ms=9000,
                       now=NOW)  # fmt: skip

    attempt = db.session.scalar(select(Attempt))
    assert (attempt.kind, attempt.score, attempt.rating, attempt.elapsed_ms) == (
        "single_choice", 1.0, "hard", 9000,
    )  # fmt: skip
    # Stored by authored index, with the order the learner was shown beside it.
    assert (attempt.response, attempt.layout) == (1, {"options": [1, 0]})
    assert (result.log.rating, result.log.review_state, result.log.duration_ms) == (2, 0, 9000)
    assert result.log.attempt_id == attempt.id


def test_a_rating_sent_twice_with_its_key_is_stored_once(learner) -> None:
    first = rate_card(learner, "alpha", "good", idempotency_key="k1", now=NOW)
    second = rate_card(learner, "alpha", "good", idempotency_key="k1", now=NOW)

    assert second.duplicate and second.log.id == first.log.id
    assert count(Attempt) == 1 and count(ReviewLog) == 1


def test_answers_on_the_question_page_are_logged_too(learner) -> None:
    submit_answer(learner, "alpha", 1, "0.25", now=NOW)  # the numeric check, right: Good

    log = db.session.scalar(select(ReviewLog))
    assert (log.rating, log.source, log.card_before) == (3, "app", None)


# ------------------------------------------------------------------------------------- undo


def test_undo_restores_the_attempt_card_and_log_exactly(learner) -> None:
    rate_card(learner, "alpha", "good", now=NOW)
    rate_card(learner, "alpha", "good", now=NOW + timedelta(days=1))
    before = columns(card_of(learner, "alpha"))
    attempts, logs = count(Attempt), count(ReviewLog)

    last = rate_card(learner, "alpha", "again", check_index=0,
                     response=shown("alpha", 0, 0, learner.id),
                     now=NOW + timedelta(days=4))  # fmt: skip
    assert columns(card_of(learner, "alpha")) != before
    undo_rating(learner, last.log.id)
    db.session.expire_all()

    assert columns(card_of(learner, "alpha")) == before
    assert (count(Attempt), count(ReviewLog)) == (attempts, logs)
    assert db.session.get(ReviewLog, last.log.id) is None


def test_undoing_a_new_cards_first_rating_makes_it_new_again(learner) -> None:
    rate_card(learner, "beta", "easy", now=NOW)

    undo_rating(learner)

    assert card_of(learner, "beta") is None
    assert review_queue(learner, NOW).cards[0].question.slug == "beta"


def test_only_the_last_rating_can_be_undone(learner) -> None:
    first = rate_card(learner, "alpha", "good", now=NOW)
    rate_card(learner, "beta", "good", now=NOW)

    with pytest.raises(Conflict):
        undo_rating(learner, first.log.id)
    undo_rating(learner)
    undo_rating(learner)
    with pytest.raises(NotFound):
        undo_rating(learner)


# ----------------------------------------------------------------------------------- leeches


def forget(user: User, slug: str, times: int, start: datetime = NOW) -> datetime:
    at = start
    rate_card(user, slug, "good", now=at)
    for _ in range(times):
        at += timedelta(days=3)
        rate_card(user, slug, "again", now=at)
    return at


def test_a_card_forgotten_threshold_times_is_a_suspended_leech(learner) -> None:
    update_review_settings(learner, {"leech_threshold": "3"})

    forget(learner, "alpha", 2)
    assert not card_of(learner, "alpha").leech
    at = forget(learner, "alpha", 1, NOW + timedelta(days=30))

    card = card_of(learner, "alpha")
    assert card.leech and card.suspended_at == at and card.lapses == 3
    assert "alpha" not in [
        c.question.slug for c in review_queue(learner, at + timedelta(365)).cards
    ]
    assert due_count(learner, at + timedelta(days=365)) == 0


def test_a_leech_is_offered_with_easier_related_questions(learner) -> None:
    update_review_settings(learner, {"leech_threshold": "2"})
    forget(learner, "alpha", 2)

    [leech] = leeches(learner)

    assert leech.question.slug == "alpha"
    assert [q.slug for q in leech.easier] == ["beta"]  # gamma is related but harder


def test_a_leech_goes_back_into_review_or_starts_anew_as_the_learner_chooses(learner) -> None:
    update_review_settings(learner, {"leech_threshold": "2"})
    forget(learner, "alpha", 2)
    forget(learner, "gamma", 2)

    resolve_leech(learner, "alpha", "resume")
    resolve_leech(learner, "gamma", "reset")

    alpha = card_of(learner, "alpha")
    assert not alpha.leech and alpha.suspended_at is None and alpha.lapses == 2
    assert card_of(learner, "gamma") is None  # comes back as a new card
    with pytest.raises(NotFound):
        resolve_leech(learner, "beta", "resume")


# ------------------------------------------------------------------------------- review log


def test_the_review_log_exports_in_the_benchmark_layout(learner) -> None:
    rate_card(learner, "alpha", "good", elapsed_ms=5000, now=NOW)
    rate_card(learner, "alpha", "hard", now=NOW + timedelta(days=2))

    lines = export_revlog(learner).splitlines()

    ms = int(NOW.timestamp() * 1000)
    assert lines == [
        "card_id,review_time,review_rating,review_state,review_duration,elapsed_days",
        f"alpha,{ms},3,0,5000,-1",
        f"alpha,{ms + 2 * 86400_000},2,1,,2",
    ]


def test_an_import_with_one_unknown_card_stores_nothing(learner) -> None:
    ms = int(NOW.timestamp() * 1000)
    text = f"card_id,review_time,review_rating\nalpha,{ms},3\nno-such-card,{ms},3\n"

    with pytest.raises(RevlogInvalid) as caught:
        import_revlog(learner, text.encode())

    assert caught.value.problems == ["line 3: card_id: no question 'no-such-card' here"]
    assert count(ReviewLog) == 0 and count(ReviewCard) == 0


def test_an_imported_history_reschedules_its_cards_and_is_not_imported_twice(learner) -> None:
    ms = int(NOW.timestamp() * 1000)
    day = 86400_000
    text = (
        "card_id,review_time,review_rating,review_state,review_duration,elapsed_days\n"
        f"alpha,{ms},3,0,4000,-1\nalpha,{ms + 3 * day},3,2,3000,3\nbeta,{ms},1,0,,-1\n"
    )

    first = import_revlog(learner, text.encode())
    again = import_revlog(learner, text.encode())

    assert (first.imported, first.skipped, first.cards) == (3, 0, 2)
    assert (again.imported, again.skipped) == (0, 3)
    alpha = card_of(learner, "alpha")
    assert alpha.reviews == 2 and alpha.last_review_at == NOW + timedelta(days=3)
    assert alpha.due_at > NOW + timedelta(days=4)
    assert export_revlog(learner).count("\n") == 4


# ---------------------------------------------------------------------------- schedule fits


def test_a_fit_below_the_threshold_is_refused(learner) -> None:
    rate_card(learner, "alpha", "good", now=NOW)

    with pytest.raises(Conflict, match="at least 512"):
        start_fit(learner)
    assert count(ScheduleFit) == 0


def test_a_finished_fit_becomes_the_learners_schedule(bank, learner) -> None:
    fit = ScheduleFit(id="f1", user_id=learner.id, version=1, status="queued",
                      created_at=NOW)  # fmt: skip
    db.session.add(fit)
    db.session.commit()
    weights = [0.3, 1.0, 2.0, 8.0, 6.5, 0.5, 1.5, 0.01, 1.5, 0.2, 0.9, 1.8, 0.1, 0.3, 2.2,
               0.3, 2.9, 0.6, 0.1, 0.1, 0.3]  # fmt: skip

    complete_fit(bank, "f1", JobOutcome("done", result={
        "parameters": weights, "log_loss_before": 0.4, "log_loss_after": 0.35,
        "rmse_before": 0.05, "rmse_after": 0.03, "recommended_retention": 0.85}))  # fmt: skip
    user = db.session.get(User, learner.id)

    assert current_parameters(user) == pytest.approx(weights)
    status = fit_status(user)
    assert status.current.version == 1 and status.current.log_loss_after == 0.35


def test_a_fit_with_weights_out_of_bounds_fails_and_changes_nothing(bank, learner) -> None:
    db.session.add(ScheduleFit(id="f2", user_id=learner.id, version=1, created_at=NOW))
    db.session.commit()

    complete_fit(bank, "f2", JobOutcome("done", result={"parameters": [99.0] * 21}))

    fit = db.session.get(ScheduleFit, "f2")
    assert fit.status == "failed" and "unusable" in fit.error
    assert current_parameters(db.session.get(User, learner.id)) is None


def test_the_monthly_run_picks_learners_with_enough_reviews_and_an_old_fit(learner) -> None:
    assert users_due_for_refit(NOW) == []


def test_learners_with_enough_reviews_are_refitted_once_a_month(learner) -> None:
    add_review_history(learner, synthetic_reviews(2500, seed=5, cards_per_day=1))
    assert fit_status(learner).ready

    never = users_due_for_refit(NOW)
    db.session.add(ScheduleFit(id="recent", user_id=learner.id, version=1, status="done",
                               created_at=NOW - timedelta(days=3)))  # fmt: skip
    db.session.commit()
    recent = users_due_for_refit(NOW)
    month_later = users_due_for_refit(NOW + timedelta(days=30))

    assert [user.id for user in never] == [learner.id]
    assert recent == []
    assert [user.id for user in month_later] == [learner.id]


def test_the_monthly_command_reports_what_it_did(bank) -> None:
    result = bank.test_cli_runner().invoke(args=["review", "optimise-due"])

    assert result.exit_code == 0, result.output
    assert "0 schedule(s) fitted, 0 failed." in result.output
