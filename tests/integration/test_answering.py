"""Answering through the service: grading, stored attempts, idempotency and FSRS with a fixed clock.

Runs on SQLite and, where QUIZAPP_TEST_POSTGRES_URL is set, on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import MULTIPLE_CHOICE, shown, write_question
from sqlalchemy import func, select

from quizapp.domain.scheduling import schedule_review
from quizapp.extensions import db
from quizapp.models import Attempt, Question, ReviewCard, User
from quizapp.services.content_import import import_content
from quizapp.services.errors import Conflict, Gone, InvalidInput, NotFound
from quizapp.services.learning import due_cards, due_count, submit_answer

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def bank(any_db_app, content_dir):
    """alpha, beta, gamma imported; checks: 0 single choice (1 is right), 1 numeric 0.25 ± 0.01,
    2 self-rated; gamma has a multiple-choice check first."""
    write_question(content_dir, "gamma", replace={"checks:\n": MULTIPLE_CHOICE})
    with any_db_app.app_context():
        import_content(content_dir)
        yield any_db_app


def answer(user, slug, check, authored, **kwargs):
    """submit_answer with the response given by authored indexes (options are shuffled)."""

    def as_index(value):
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value

    given = [as_index(v) for v in authored] if isinstance(authored, list) else as_index(authored)
    try:
        response = shown(slug, int(check), given, user.id if user else None)
    except (LookupError, ValueError, TypeError):
        response = authored  # a bad question or check: let submit_answer refuse it
    return submit_answer(user, slug, check, response, **kwargs)


def new_user(username: str = "learner", retention: float = 0.9) -> User:
    user = User(
        username=username,
        username_key=username.lower(),
        password_hash="not used here",
        desired_retention=retention,
    )
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


# Grading and storing


def test_anonymous_answer_gets_feedback_and_stores_nothing(bank):
    result = answer(None, "alpha", 0, 0, now=NOW)
    assert result.grade.correct is False
    assert result.grade.score == 0.0
    assert result.grade.expected == 1
    assert "That is tanh's maximum derivative." in result.grade.feedback
    assert result.stored is False and result.attempt_id is None
    assert count(Attempt) == 0 and count(ReviewCard) == 0


def test_signed_in_answer_is_stored_with_its_grade_and_a_card(bank):
    user = new_user()
    result = answer(user, "alpha", "1", " 0.25 ", elapsed_ms=4200, now=NOW)
    assert result.stored is True and result.duplicate is False
    assert result.grade.correct is True
    attempt = db.session.get(Attempt, result.attempt_id)
    assert (attempt.user_id, attempt.check_index, attempt.kind) == (user.id, 1, "numeric")
    assert attempt.response == 0.25 and attempt.score == 1.0 and attempt.correct is True
    assert attempt.elapsed_ms == 4200
    assert attempt.created_at == NOW
    card = card_of(user, "alpha")
    assert card.reviews == 1 and card.lapses == 0
    assert card.due_at == result.next_review_at
    assert card.last_review_at == NOW


GRADED = [
    # slug, check, response, rating, score, correct
    ("alpha", 0, 1, None, 1.0, True),
    ("alpha", 0, "0", None, 0.0, False),
    ("alpha", 1, "0.255", None, 1.0, True),
    ("alpha", 1, 0.3, None, 0.0, False),
    ("gamma", 0, [2, 0], None, 1.0, True),
    ("gamma", 0, ["0"], None, 0.5, False),
    ("gamma", 0, [0, 1], None, 0.0, False),
    ("gamma", 0, [], None, 0.0, False),
    ("alpha", 2, "It saturates.", "hard", 0.5, False),
    ("alpha", 2, "It saturates.", "Good", 1.0, True),
]


def test_every_check_kind_is_graded_and_stored(bank):
    for number, (slug, check, response, rating, score, correct) in enumerate(GRADED, start=1):
        case = f"{slug} check {check} answered {response!r}"
        user = new_user(f"learner{number}")
        # The last of the numeric check's two tries: a wrong answer there is final.
        result = answer(user, slug, check, response, rating=rating, now=NOW, tries_used=2)
        assert (result.grade.score, result.grade.correct) == (score, correct), case
        attempt = db.session.get(Attempt, result.attempt_id)
        assert (attempt.user_id, attempt.score, attempt.correct) == (user.id, score, correct), case
        assert count(Attempt) == number, case


def test_multiple_choice_feedback_names_each_chosen_option(bank):
    result = answer(None, "gamma", 0, [0, 1])
    assert result.grade.feedback == [
        "Yes, it flattens at both ends.",
        "No, it does not saturate for positive inputs.",
    ]
    assert result.grade.expected == [0, 2]


def test_self_rated_answer_shows_the_model_answer_and_keeps_the_rating(bank):
    user = new_user()
    result = answer(user, "alpha", 2, "  Because sigma' <= 1/4.  ", rating="easy", now=NOW)
    assert "It is $1/4$" in result.grade.expected  # the question's answer stands in
    attempt = db.session.get(Attempt, result.attempt_id)
    assert attempt.response == "Because sigma' <= 1/4."
    assert attempt.rating == "easy"


def test_an_answer_of_exactly_ten_thousand_characters_is_accepted(bank):
    user = new_user()
    result = answer(user, "alpha", 2, "x" * 10_000, rating="good", now=NOW)
    assert result.stored is True


BAD_INPUT = [
    # check, response, rating, message
    (0, 5, None, "option 5 does not exist"),
    (0, -1, None, "does not exist"),
    (0, "abc", None, "choose an option by its number"),
    (0, True, None, "not True"),
    (0, None, None, "choose one option"),
    (0, [1], None, "choose an option"),
    (1, "", None, "enter a number"),
    (1, "twelve", None, "not a number"),
    (1, "nan", None, "finite"),
    (1, [0.25], None, "enter a number"),
    (1, {"value": 0.25}, None, "enter a number"),
    (2, "   ", "good", "write an answer"),
    (2, "x" * 10_001, "good", "too long"),
    (2, "my answer", None, "rate your answer"),
    (2, "my answer", "meh", "rating must be one of"),
    (3, 1, None, "check must be a number from 0 to 2"),
    ("first", 1, None, "check must be"),
    (None, 1, None, "check must be"),
    (True, 1, None, "check must be"),
]


def test_bad_input_is_refused_with_a_message_and_nothing_is_stored(bank):
    learner = new_user()
    for user in (learner, None):
        for check, response, rating, message in BAD_INPUT:
            case = f"check {check!r}, response {str(response)[:20]!r}, rating {rating!r}"
            with pytest.raises(InvalidInput) as refused:
                answer(user, "alpha", check, response, rating=rating, now=NOW)
            assert refused.value.status_code == 400, case
            assert message in refused.value.message, case
            db.session.rollback()  # what the request teardown does
            assert count(Attempt) == 0 and count(ReviewCard) == 0, case


def test_multiple_choice_refuses_a_single_number_and_repeated_options(bank):
    with pytest.raises(InvalidInput, match="list"):
        answer(new_user(), "gamma", 0, 1)
    with pytest.raises(InvalidInput, match="more than once"):
        answer(None, "gamma", 0, [0, 0])
    assert count(Attempt) == 0


def test_unknown_question_is_not_found_and_retired_question_is_gone(bank):
    user = new_user()
    with pytest.raises(NotFound) as missing:
        answer(user, "no-such-card", 0, 1)
    assert missing.value.status_code == 404
    question = db.session.scalar(select(Question).where(Question.slug == "beta"))
    question.retired_at = NOW
    db.session.commit()
    with pytest.raises(Gone) as gone:
        answer(user, "beta", 0, 1)
    assert gone.value.status_code == 410
    assert "retired" in gone.value.message
    assert count(Attempt) == 0 and count(ReviewCard) == 0


# Idempotency: a double-submitted form is one attempt


def test_the_same_form_submitted_twice_records_one_attempt(bank):
    user = new_user()
    first = answer(user, "alpha", 0, 1, idempotency_key="form-1", now=NOW)
    again = answer(user, "alpha", 0, 1, idempotency_key="form-1", now=NOW + timedelta(seconds=2))
    assert again.duplicate is True and again.stored is True
    assert again.attempt_id == first.attempt_id
    assert again.grade == first.grade
    assert again.next_review_at == first.next_review_at
    assert count(Attempt) == 1
    assert card_of(user, "alpha").reviews == 1


def test_different_form_keys_are_different_attempts(bank):
    user = new_user()
    answer(user, "alpha", 0, 1, idempotency_key="form-1", now=NOW)
    answer(user, "alpha", 0, 1, idempotency_key="form-2", now=NOW)
    answer(user, "alpha", 0, 1, now=NOW)  # no key: always a new attempt
    assert count(Attempt) == 3
    assert card_of(user, "alpha").reviews == 3


def test_form_keys_belong_to_one_learner(bank):
    ann, bob = new_user("ann"), new_user("bob")
    first = answer(ann, "alpha", 0, 1, idempotency_key="same-key", now=NOW)
    second = answer(bob, "alpha", 0, 0, idempotency_key="same-key", now=NOW)
    assert second.duplicate is False and second.grade.correct is False
    assert second.attempt_id != first.attempt_id
    assert count(Attempt) == 2


def test_a_key_reused_for_another_answer_is_a_conflict_not_a_replay(bank):
    user = new_user()
    answer(user, "alpha", 2, "An essay.", rating="good", idempotency_key="k", now=NOW)
    with pytest.raises(Conflict) as conflict:
        answer(user, "beta", 0, 1, idempotency_key="k", now=NOW)
    assert conflict.value.status_code == 409
    assert "idempotency key" in conflict.value.message
    with pytest.raises(Conflict):
        answer(user, "alpha", 0, 1, idempotency_key="k", now=NOW)
    assert count(Attempt) == 1
    assert card_of(user, "beta") is None


def test_an_oversized_idempotency_key_is_refused(bank):
    with pytest.raises(InvalidInput, match="idempotency key"):
        answer(new_user(), "alpha", 0, 1, idempotency_key="k" * 65)
    db.session.rollback()
    assert count(Attempt) == 0


# FSRS: the learner's card after each graded answer, with a fixed clock


EARNED_RATINGS = [
    # check, response, self-rating, elapsed ms, the FSRS rating the card must get
    (0, 0, None, 3_000, "again"),  # wrong
    (1, "0.5", None, None, "again"),  # wrong number
    (0, 1, None, 3_000, "good"),  # right
    (0, 1, None, None, "good"),  # right, untimed
    (0, 1, None, 90_000, "hard"),  # right but slow
    (2, "text", "easy", 300_000, "easy"),  # self-rated: the learner's rating, however slow
    (2, "text", "again", 1_000, "again"),
    (2, "text", "hard", 1_000, "hard"),
]


def test_the_card_is_scheduled_with_the_rating_the_answer_earns(bank):
    for number, (check, response, rating, elapsed_ms, earned) in enumerate(EARNED_RATINGS):
        case = f"check {check} answered {response!r} ({rating}, {elapsed_ms} ms) -> {earned}"
        user = new_user(f"learner{number}")
        result = answer(
            user,
            "alpha",
            check,
            response,
            rating=rating,
            elapsed_ms=elapsed_ms,
            now=NOW,
            tries_used=2,  # a wrong number on its last try is final
        )
        expected = schedule_review(None, earned, NOW)
        card = card_of(user, "alpha")
        assert card.due_at == expected.due == result.next_review_at, case
        assert card.stability == pytest.approx(expected.stability), case
        assert card.difficulty == pytest.approx(expected.difficulty), case


def test_again_brings_the_card_back_in_minutes_and_good_pushes_it_out(bank):
    user = new_user()
    wrong = answer(user, "alpha", 0, 0, now=NOW)
    right = answer(user, "beta", 0, 1, now=NOW)
    assert NOW < wrong.next_review_at <= NOW + timedelta(hours=1)
    assert right.next_review_at > wrong.next_review_at
    assert due_count(user, now=NOW) == 0
    assert due_count(user, now=wrong.next_review_at) == 1
    assert due_count(user, now=right.next_review_at) == 2


def test_due_dates_move_out_with_each_good_review_and_back_after_a_lapse(bank):
    user = new_user()
    moment, intervals = NOW, []
    for _ in range(4):
        result = answer(user, "alpha", 0, 1, now=moment)
        intervals.append(result.next_review_at - moment)
        moment = result.next_review_at
    assert intervals == sorted(intervals) and intervals[-1] > intervals[0]
    assert intervals[-1] >= timedelta(days=7)
    stable = card_of(user, "alpha").stability

    lapse = answer(user, "alpha", 1, "9", now=moment, tries_used=2)
    card = card_of(user, "alpha")
    assert lapse.next_review_at - moment <= timedelta(hours=1)
    assert (card.reviews, card.lapses) == (5, 1)
    assert card.stability < stable
    assert card.last_review_at == moment


def test_every_check_of_a_question_updates_the_same_card(bank):
    user = new_user()
    answer(user, "alpha", 0, 1, now=NOW)
    answer(user, "alpha", 1, "0.25", now=NOW + timedelta(minutes=1))
    answer(user, "alpha", 2, "text", rating="good", now=NOW + timedelta(minutes=2))
    assert count(ReviewCard) == 1
    assert card_of(user, "alpha").reviews == 3


def test_a_higher_desired_retention_brings_cards_back_sooner(bank):
    relaxed, keen = new_user("relaxed", retention=0.8), new_user("keen", retention=0.97)
    due = {}
    for user in (relaxed, keen):
        moment = NOW
        for _ in range(3):
            moment = answer(user, "alpha", 0, 1, now=moment).next_review_at
        due[user.username] = moment
    assert due["keen"] < due["relaxed"]


def test_the_attempt_and_the_card_update_are_one_transaction(bank):
    user = new_user()
    answer(user, "alpha", 0, 1, now=NOW)
    # A retention outside what FSRS accepts makes the card update fail half-way.
    user.desired_retention = 0.5
    db.session.commit()
    with pytest.raises(ValueError, match="desired_retention"):
        answer(user, "alpha", 0, 0, now=NOW + timedelta(days=3))
    db.session.rollback()
    assert count(Attempt) == 1
    assert card_of(user, "alpha").reviews == 1


# The review queue


def test_due_cards_come_most_overdue_first_and_leave_out_retired_and_others(bank):
    user, other = new_user("ann"), new_user("bob")
    answer(user, "beta", 0, 0, now=NOW - timedelta(days=2))
    answer(user, "alpha", 0, 0, now=NOW - timedelta(days=3))
    answer(user, "gamma", 0, [1], now=NOW - timedelta(days=1))
    answer(other, "alpha", 0, 0, now=NOW - timedelta(days=5))
    # Recalled easily an hour ago: no longer due.
    answer(user, "alpha", 2, "text", rating="easy", now=NOW - timedelta(hours=1))

    assert [card.question.slug for card in due_cards(user, now=NOW)] == ["beta", "gamma"]
    assert due_count(user, now=NOW) == 2
    db.session.scalar(select(Question).where(Question.slug == "beta")).retired_at = NOW
    db.session.commit()
    assert [card.question.slug for card in due_cards(user, now=NOW)] == ["gamma"]
    assert due_count(user, now=NOW) == 1
    assert [card.question.slug for card in due_cards(other, now=NOW)] == ["alpha"]


# Tries and hints


def test_a_wrong_number_with_a_try_left_is_neither_revealed_nor_stored(bank):
    user = new_user()
    first = answer(user, "alpha", 1, "0.5", now=NOW)
    assert (first.grade.final, first.grade.tries_left, first.grade.expected) == (False, 1, None)
    assert first.stored is False and count(Attempt) == 0 and card_of(user, "alpha") is None
    second = answer(user, "alpha", 1, "1/4", now=NOW, tries_used=2)
    assert (second.grade.final, second.grade.correct, second.stored) == (True, True, True)
    attempt = db.session.get(Attempt, second.attempt_id)
    assert (attempt.tries_used, attempt.response) == (2, 0.25)
    # Right, but only on the second try: the card is rated "hard", not "good".
    assert card_of(user, "alpha").due_at == schedule_review(None, "hard", NOW).due


def test_the_last_wrong_try_reveals_the_answer_and_is_stored(bank):
    user = new_user()
    result = answer(user, "alpha", 1, "0.5", now=NOW, tries_used=2)
    assert (result.grade.final, result.grade.expected, result.stored) == (True, 0.25, True)
