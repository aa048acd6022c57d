"""Mastery levels at their thresholds, topic medians, accuracy per day and streaks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from quizapp.domain.mastery import (
    MASTERY_LEVELS,
    accuracy_series,
    current_streak,
    level_label,
    mastery_level,
    topic_mastery,
)


def test_no_attempts_is_not_started_whatever_the_stability() -> None:
    assert mastery_level(None, []) == "not_started"
    assert mastery_level(40.0, []) == "not_started"


@pytest.mark.parametrize(
    ("stability", "scores", "level"),
    [
        # attempted: low accuracy or short-lived memory
        (None, [1.0], "attempted"),
        (0.99, [1.0, 1.0], "attempted"),
        (50.0, [1.0, 0.0, 1.0, 0.0, 0.0], "attempted"),  # accuracy 0.4
        (50.0, [1.0, 1.0, 0.0, 0.0, 0.5], "attempted"),  # accuracy 0.5
        # familiar: from exactly 1 day and exactly 60 %
        (1.0, [1.0, 1.0, 1.0, 0.0, 0.0], "familiar"),
        (6.99, [1.0], "familiar"),
        (50.0, [1.0, 1.0, 1.0, 0.5, 0.0], "familiar"),  # accuracy 0.7
        # proficient: from exactly 7 days and exactly 80 %
        (7.0, [1.0, 1.0, 1.0, 1.0, 0.0], "proficient"),
        (29.9, [1.0], "proficient"),
        (50.0, [0.7, 0.9, 0.8], "proficient"),  # the float mean is 0.7999999999999999
        # mastered: from exactly 30 days and exactly 90 %
        (30.0, [1.0, 1.0, 1.0, 1.0, 0.5], "mastered"),
        (30.0, [0.9], "mastered"),
        (30.0, [1.0, 1.0, 0.7, 1.0, 0.8], "mastered"),  # accuracy exactly 0.9
        (400.0, [1.0], "mastered"),
    ],
)
def test_level_thresholds(stability: float | None, scores: list[float], level: str) -> None:
    assert mastery_level(stability, scores) == level


def test_just_below_each_threshold_drops_a_level() -> None:
    assert mastery_level(29.99, [1.0]) == "proficient"
    assert mastery_level(30.0, [1.0, 1.0, 1.0, 1.0, 0.49]) == "proficient"
    assert mastery_level(6.99, [1.0]) == "familiar"
    assert mastery_level(7.0, [1.0, 1.0, 1.0, 0.9, 0.0]) == "familiar"  # accuracy 0.78
    assert mastery_level(0.999, [1.0]) == "attempted"
    assert mastery_level(1.0, [1.0, 1.0, 0.9, 0.0, 0.0]) == "attempted"  # accuracy 0.58


def test_only_the_last_five_attempts_count() -> None:
    old_failures_then_five_successes = [0.0] * 10 + [1.0] * 5
    assert mastery_level(40.0, old_failures_then_five_successes) == "mastered"
    old_successes_then_failures = [1.0] * 10 + [0.0] * 3 + [1.0] * 2
    assert mastery_level(40.0, old_successes_then_failures) == "attempted"


def test_scores_outside_zero_to_one_are_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        mastery_level(5.0, [1.0, 1.5])


# topic_mastery


def test_topic_takes_the_median_level() -> None:
    assert topic_mastery(["mastered", "familiar", "attempted"]) == "familiar"
    assert topic_mastery(["mastered", "mastered", "not_started"]) == "mastered"


def test_topic_median_ties_go_down() -> None:
    assert topic_mastery(["mastered", "not_started"]) == "attempted"
    assert topic_mastery(["mastered", "familiar"]) == "familiar"
    assert topic_mastery(["proficient", "proficient", "familiar", "attempted"]) == "familiar"


def test_not_started_questions_pull_a_topic_down_to_attempted_not_below() -> None:
    levels = ["mastered", "mastered", "not_started", "not_started", "not_started"]
    assert topic_mastery(levels) == "attempted"
    assert topic_mastery(["attempted"] + ["not_started"] * 34) == "attempted"
    assert topic_mastery(["not_started"] * 35) == "not_started"


def test_empty_topic_is_not_started_and_unknown_levels_are_refused() -> None:
    assert topic_mastery([]) == "not_started"
    with pytest.raises(ValueError, match="unknown mastery level 'expert'"):
        topic_mastery(["familiar", "expert"])


def test_labels() -> None:
    labels = [level_label(level) for level in MASTERY_LEVELS]
    assert labels == ["Not started", "Attempted", "Familiar", "Proficient", "Mastered"]
    with pytest.raises(ValueError):
        level_label("Mastered")


# accuracy_series


def test_accuracy_series_is_a_sorted_per_day_mean_with_counts() -> None:
    day1, day2, day3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 5)
    attempts = [
        (day3, 1.0),
        (day1, 1.0),
        (day1, 0.0),
        (day3, 0.5),
        (day1, 0.5),
        (day2, 0.0),
    ]
    assert accuracy_series(attempts) == [
        (day1, 0.5, 3),
        (day2, 0.0, 1),
        (day3, 0.75, 2),
    ]
    assert accuracy_series([]) == []


# current_streak


def test_streak_counts_consecutive_days_ending_today() -> None:
    today = date(2025, 3, 10)
    days = {today - timedelta(days=n) for n in range(4)}
    assert current_streak(days, today) == 4


def test_streak_survives_until_today_is_over() -> None:
    today = date(2025, 3, 10)
    days = {today - timedelta(days=n) for n in (1, 2, 3)}
    assert current_streak(days, today) == 3


def test_streak_stops_at_a_gap() -> None:
    today = date(2025, 3, 1)  # crosses a month boundary backwards
    days = {
        today,
        date(2025, 2, 28),
        date(2025, 2, 27),
        date(2025, 2, 25),
        date(2025, 2, 24),
    }
    assert current_streak(days, today) == 3


def test_streak_is_zero_after_a_missed_day() -> None:
    today = date(2025, 3, 10)
    assert current_streak({date(2025, 3, 8), date(2025, 3, 7)}, today) == 0
    assert current_streak(set(), today) == 0
