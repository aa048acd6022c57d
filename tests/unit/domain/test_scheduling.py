"""FSRS scheduling with a fixed clock: intervals, ratings from grades and stored state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from quizapp.domain.grading import Grade
from quizapp.domain.scheduling import (
    RATINGS,
    due_at,
    is_due,
    rating_for_grade,
    schedule_review,
)

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def stored(state: dict) -> dict:
    """What comes back from a JSON database column."""
    return json.loads(json.dumps(state))


# rating_for_grade


def test_rating_for_a_wrong_answer_is_again() -> None:
    assert rating_for_grade(Grade(score=0.0, correct=False), elapsed_seconds=5) == "again"


def test_partial_credit_counts_as_wrong() -> None:
    assert rating_for_grade(Grade(score=0.67, correct=False), elapsed_seconds=5) == "again"


def test_rating_for_a_right_answer_is_good_unless_slow() -> None:
    right = Grade(score=1.0, correct=True)
    assert rating_for_grade(right, elapsed_seconds=None) == "good"
    assert rating_for_grade(right, elapsed_seconds=60) == "good"
    assert rating_for_grade(right, elapsed_seconds=60.5) == "hard"
    assert rating_for_grade(right, elapsed_seconds=20, slow_after_seconds=10) == "hard"


def test_self_rated_grade_keeps_the_learners_rating() -> None:
    grade = Grade(score=0.5, correct=False, rating="hard")
    assert rating_for_grade(grade, elapsed_seconds=500) == "hard"
    assert rating_for_grade(Grade(score=1.0, correct=True, rating="easy"), 1) == "easy"


# schedule_review


def test_new_card_rated_good_is_due_later_than_one_rated_again() -> None:
    again = schedule_review(None, "again", NOW)
    good = schedule_review(None, "good", NOW)
    assert NOW < again.due < good.due


def test_again_brings_the_card_back_within_minutes() -> None:
    outcome = schedule_review(None, "again", NOW)
    assert outcome.due - NOW <= timedelta(hours=1)
    assert outcome.fsrs_state == "learning"


def test_lapse_of_a_well_known_card_comes_back_within_hours() -> None:
    state = None
    moment = NOW
    for _ in range(4):
        outcome = schedule_review(state, "good", moment)
        interval = outcome.due - moment
        state, moment = stored(outcome.state), outcome.due
    assert outcome.fsrs_state == "review"
    assert interval >= timedelta(days=7)
    lapse = schedule_review(state, "again", moment)
    assert lapse.fsrs_state == "relearning"
    assert lapse.due - moment <= timedelta(hours=1)
    assert lapse.stability < outcome.stability


def test_good_good_good_grows_the_interval_each_time() -> None:
    state = None
    moment = NOW
    intervals = []
    for _ in range(3):
        outcome = schedule_review(state, "good", moment)
        intervals.append(outcome.due - moment)
        state, moment = stored(outcome.state), outcome.due
    assert intervals[0] < intervals[1] < intervals[2]
    assert intervals[2] >= timedelta(days=1)
    assert outcome.fsrs_state == "review"


def test_easy_graduates_a_new_card_straight_to_review() -> None:
    outcome = schedule_review(None, "easy", NOW)
    assert outcome.fsrs_state == "review"
    assert outcome.due - NOW >= timedelta(days=1)


def test_same_history_gives_the_same_schedule() -> None:
    first = schedule_review(None, "good", NOW)
    second = schedule_review(None, "good", NOW)
    assert first == second
    later_a = schedule_review(stored(first.state), "good", first.due + timedelta(days=3))
    later_b = schedule_review(stored(second.state), "good", second.due + timedelta(days=3))
    assert later_a.due == later_b.due


def test_higher_desired_retention_schedules_sooner() -> None:
    state = stored(schedule_review(None, "easy", NOW).state)
    review_at = NOW + timedelta(days=10)
    relaxed = schedule_review(state, "good", review_at, desired_retention=0.8)
    strict = schedule_review(state, "good", review_at, desired_retention=0.97)
    assert strict.due < relaxed.due


@pytest.mark.parametrize("retention", [0.69, 0.995, 1.0, float("nan")])
def test_desired_retention_out_of_range_is_refused(retention: float) -> None:
    with pytest.raises(ValueError, match="desired_retention"):
        schedule_review(None, "good", NOW, desired_retention=retention)


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule_review(None, "good", datetime(2025, 3, 1, 9, 30))
    with pytest.raises(ValueError, match="timezone-aware"):
        is_due(None, datetime(2025, 3, 1, 9, 30))


def test_aware_non_utc_datetime_is_converted_to_utc() -> None:
    paris = NOW.astimezone(ZoneInfo("Europe/Paris"))
    outcome = schedule_review(None, "good", paris)
    assert outcome == schedule_review(None, "good", NOW)
    assert outcome.due.tzinfo == UTC


def test_unknown_rating_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown rating 'ok'"):
        schedule_review(None, "ok", NOW)


def test_state_round_trips_through_json() -> None:
    outcome = schedule_review(None, "good", NOW)
    text = json.dumps(outcome.state)
    assert json.loads(text) == outcome.state
    assert isinstance(outcome.state["due"], str)
    assert due_at(json.loads(text)) == outcome.due
    assert json.loads(json.dumps(outcome.review_log))["rating"] == 3
    assert outcome.review_log["review_datetime"] == NOW.isoformat()


def test_outcome_reports_memory_figures() -> None:
    outcome = schedule_review(None, "good", NOW)
    assert outcome.stability is not None and outcome.stability > 0
    assert outcome.difficulty is not None and 1 <= outcome.difficulty <= 10
    assert outcome.due.tzinfo == UTC


def test_malformed_state_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="stored review state is malformed"):
        schedule_review({"due": "yesterday"}, "good", NOW)


def test_ratings_are_in_fsrs_order() -> None:
    assert RATINGS == ("again", "hard", "good", "easy")


# due_at / is_due


def test_new_card_is_due_and_has_no_due_date() -> None:
    assert due_at(None) is None
    assert is_due(None, NOW)


def test_card_is_due_from_its_due_date_on() -> None:
    outcome = schedule_review(None, "easy", NOW)
    state = stored(outcome.state)
    assert not is_due(state, NOW)
    assert not is_due(state, outcome.due - timedelta(seconds=1))
    assert is_due(state, outcome.due)
    assert is_due(state, outcome.due + timedelta(days=1))
