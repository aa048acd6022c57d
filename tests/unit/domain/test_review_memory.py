"""Review and memory rules with a fixed clock: intervals, recall, forecast, calendar, revlog CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import synthetic_reviews
from fsrs.scheduler import DEFAULT_PARAMETERS

from quizapp.domain.memory import (
    Review,
    activity_calendar,
    due_forecast,
    interleave_by_topic,
    score_parameters,
    spaced_review_count,
)
from quizapp.domain.revlog import RevlogError, RevlogRow, format_revlog_csv, parse_revlog_csv
from quizapp.domain.scheduling import (
    check_parameters,
    elapsed_days,
    format_interval,
    preview_intervals,
    retrievability,
    review_state_number,
    schedule_review,
)

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


# ------------------------------------------------------------------ intervals on the buttons


@pytest.mark.parametrize(
    ("interval", "text"),
    [
        (timedelta(seconds=20), "< 1 min"),
        (timedelta(minutes=10), "10 min"),
        (timedelta(hours=5), "5 h"),
        (timedelta(days=3), "3 d"),
        (timedelta(days=63), "2.1 mo"),
        (timedelta(days=800), "2.2 y"),
    ],
)
def test_intervals_read_like_ankis_buttons(interval, text) -> None:
    assert format_interval(interval) == text


def test_each_rating_previews_the_interval_it_would_give() -> None:
    seen = schedule_review(None, "good", NOW).state
    later = NOW + timedelta(days=2)

    intervals = preview_intervals(seen, later)

    assert intervals["again"] < intervals["hard"] < intervals["good"] < intervals["easy"]
    for rating, interval in intervals.items():
        assert schedule_review(seen, rating, later).due - later == interval


def test_a_higher_desired_retention_shortens_the_good_interval() -> None:
    card = schedule_review(schedule_review(None, "good", NOW).state, "good", NOW + timedelta(1))
    when = NOW + timedelta(days=5)

    assert (
        preview_intervals(card.state, when, 0.95)["good"]
        < preview_intervals(card.state, when, 0.8)["good"]
    )


# --------------------------------------------------------------------------- retrievability


def test_recall_fades_with_time_and_is_unknown_for_an_unseen_card() -> None:
    state = schedule_review(None, "good", NOW).state

    soon = retrievability(state, NOW + timedelta(days=1))
    late = retrievability(state, NOW + timedelta(days=30))

    assert retrievability(None, NOW) is None
    assert 0 < late < soon <= 1


def test_fitted_parameters_change_the_predicted_recall() -> None:
    state = schedule_review(None, "good", NOW).state
    faster = list(DEFAULT_PARAMETERS)
    faster[20] = 0.6  # a steeper forgetting curve

    assert retrievability(state, NOW + timedelta(days=20), faster) != pytest.approx(
        retrievability(state, NOW + timedelta(days=20))
    )


def test_parameters_out_of_fsrs_bounds_are_refused_by_index() -> None:
    bad = list(DEFAULT_PARAMETERS)
    bad[3] = -1.0

    with pytest.raises(ValueError, match="parameter 3"):
        check_parameters(bad)
    with pytest.raises(ValueError, match="21"):
        check_parameters([1.0, 2.0])


def test_review_state_and_elapsed_days_follow_the_benchmark() -> None:
    first = schedule_review(None, "good", NOW)

    assert review_state_number(None) == 0
    assert review_state_number(first.state) == 1  # learning
    assert elapsed_days(None, NOW) == -1
    assert elapsed_days(NOW, NOW + timedelta(days=2, hours=12)) == 2.5


# ------------------------------------------------------------------------ queue and charts


def test_interleaving_alternates_topics_and_keeps_each_topics_order() -> None:
    cards = [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("c", 1), ("b", 2)]

    ordered = interleave_by_topic(cards, lambda card: card[0])

    assert ordered == [("a", 1), ("b", 1), ("c", 1), ("a", 2), ("b", 2), ("a", 3)]


def test_forecast_counts_due_cards_per_day_with_overdue_on_today() -> None:
    today = NOW.date()
    dues = [NOW - timedelta(days=3), NOW, NOW + timedelta(days=1), NOW + timedelta(days=1),
            NOW + timedelta(days=40)]  # fmt: skip

    forecast = due_forecast(dues, today)

    assert len(forecast) == 30
    assert forecast[0] == (today, 2)
    assert forecast[1] == (today + timedelta(days=1), 2)
    assert sum(count for _, count in forecast) == 4  # the one 40 days out is beyond the chart


def test_calendar_is_a_year_of_weeks_ending_today_with_levels_by_quartile() -> None:
    today = date(2025, 3, 5)  # a Wednesday
    counts = {today: 40, today - timedelta(days=1): 1, today - timedelta(days=400): 9}

    weeks = activity_calendar(counts, today)

    assert len(weeks) == 53 and all(len(week) == 7 for week in weeks)
    days = {d.day: d for week in weeks for d in week}
    assert weeks[-1][2].day == today and weeks[0][0].day.weekday() == 0
    assert days[today].level == 4 and days[today - timedelta(days=1)].level == 1
    assert days[today + timedelta(days=1)].in_range is False  # the rest of this week
    assert today - timedelta(days=400) not in days


# -------------------------------------------------------------------------------- fit scores


def _reviews(raw) -> list[Review]:
    return [Review(c, datetime.fromtimestamp(ms / 1000, UTC), r, d) for c, ms, r, d in raw]


def test_only_reviews_a_day_after_the_previous_one_count_towards_fitting() -> None:
    reviews = [
        Review("a", NOW, 3),
        Review("a", NOW + timedelta(minutes=10), 3),  # same day: a learning step
        Review("a", NOW + timedelta(days=2), 3),
        Review("b", NOW + timedelta(days=2), 1),
    ]

    assert spaced_review_count(reviews) == 1


def test_scores_are_log_loss_and_rmse_of_predicted_recall() -> None:
    reviews = _reviews(synthetic_reviews(600, seed=3))

    score = score_parameters(reviews, DEFAULT_PARAMETERS)

    assert score.reviews == spaced_review_count(reviews)
    assert 0 < score.log_loss < 1
    assert 0 <= score.rmse < 0.5


# ------------------------------------------------------------------------------- revlog CSV


def test_revlog_csv_round_trips_in_the_benchmark_layout() -> None:
    rows = [
        RevlogRow("vanishing-gradient-problem", NOW, 3, 0, 8000, -1.0),
        RevlogRow("vanishing-gradient-problem", NOW + timedelta(days=2), 1, 2, None, 2.0),
    ]

    text = format_revlog_csv(rows)
    back = parse_revlog_csv(text)

    assert text.splitlines()[0] == (
        "card_id,review_time,review_rating,review_state,review_duration,elapsed_days"
    )
    assert (
        text.splitlines()[1]
        == f"vanishing-gradient-problem,{int(NOW.timestamp() * 1000)},3,0,8000,-1"
    )
    assert [(r.card_id, r.review_time, r.rating, r.state, r.duration_ms) for r in back] == [
        (r.card_id, r.review_time, r.rating, r.state, r.duration_ms) for r in rows
    ]
    assert [r.line for r in back] == [2, 3]


def test_a_csv_with_only_the_required_columns_in_any_order_is_read() -> None:
    rows = parse_revlog_csv("review_rating,card_id,review_time\n4,x,1740821400000\n")

    assert rows[0].card_id == "x" and rows[0].rating == 4 and rows[0].state is None


def test_every_bad_line_is_reported_with_its_number() -> None:
    text = (
        "card_id,review_time,review_rating,review_state\n"
        "a,1740821400000,3,0\n"
        ",1740821400000,3,0\n"
        "b,1740821400,3,0\n"
        "c,1740821400000,7,9\n"
    )

    with pytest.raises(RevlogError) as caught:
        parse_revlog_csv(text)

    problems = caught.value.problems
    assert problems == [
        "line 3: card_id: missing",
        "line 4: review_time: 1740821400 is not a Unix time in milliseconds between 2000 and 2100",
        "line 5: review_rating: must be 1, 2, 3 or 4, not 7",
        "line 5: review_state: must be 0, 1, 2 or 3, not 9",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty"),
        (
            "card,time\n1,2\n",
            "line 1: header: missing column(s) card_id, review_time, review_rating",
        ),
        ("card_id,review_time,review_rating\n", "line 2: no reviews"),
    ],
)
def test_files_without_a_usable_header_or_rows_are_refused(text, message) -> None:
    with pytest.raises(RevlogError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_revlog_csv(text)
