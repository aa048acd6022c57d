"""Answer checking for every check kind, including the inputs a learner should be refused."""

from __future__ import annotations

import pytest

from quizapp.domain.grading import (
    AUTOMATIC_KINDS,
    CHECK_KINDS,
    CheckKind,
    Grade,
    InvalidResponse,
    grade_response,
)

SINGLE = {
    "kind": "single_choice",
    "prompt": "Which activation's derivative never exceeds 1/4?",
    "options": [
        {"text": "ReLU", "feedback": "Its derivative is 1 for positive inputs."},
        {"text": "Sigmoid", "feedback": "Right, sigma' <= 1/4."},
        {"text": "Tanh", "feedback": "Its derivative reaches 1 at zero."},
        {"text": "Identity", "feedback": "Its derivative is always 1."},
    ],
    "correct": 1,
    "feedback": "The sigmoid saturates.",
}

MULTIPLE = {
    "kind": "multiple_choice",
    "prompt": "Which techniques mitigate vanishing gradients?",
    "options": [
        {"text": "He initialisation", "feedback": "He: keeps variance."},
        {"text": "Sigmoid everywhere", "feedback": "Sigmoid: derivative at most 1/4."},
        {"text": "Residual connections", "feedback": "Residual: identity path."},
        {"text": "Batch normalisation", "feedback": "BatchNorm: rescales activations."},
    ],
    "correct": [3, 0, 2],
    "scoring": "partial",
}

NUMERIC = {
    "kind": "numeric",
    "prompt": "What is the maximum of the sigmoid's derivative?",
    "answer": 0.25,
    "tolerance": 0.01,
    "feedback": "sigma'(0) = 1/4.",
}

SELF_RATED = {
    "kind": "self_rated",
    "prompt": "Explain why deep sigmoid networks train slowly.",
    "model_answer": "Gradients shrink by up to 1/4 per layer.",
}


def test_registry_lists_every_kind_and_separates_self_rated() -> None:
    assert tuple(CHECK_KINDS)[:4] == ("single_choice", "multiple_choice", "numeric", "self_rated")
    assert "self_rated" not in AUTOMATIC_KINDS
    assert set(AUTOMATIC_KINDS) | {"self_rated"} == set(CHECK_KINDS)
    assert all(
        isinstance(kind, CheckKind) and kind.name == name for name, kind in CHECK_KINDS.items()
    )


def test_unknown_kind_is_a_content_error_not_an_invalid_response() -> None:
    with pytest.raises(ValueError, match="unknown check kind 'essay'") as info:
        grade_response({"kind": "essay"}, "text")
    assert not isinstance(info.value, InvalidResponse)


# single_choice


def test_single_choice_right_option_scores_one_with_its_feedback_then_the_checks() -> None:
    grade = grade_response(SINGLE, 1)
    assert grade == Grade(
        score=1.0,
        correct=True,
        feedback=["Right, sigma' <= 1/4.", "The sigmoid saturates."],
        expected=1,
        normalized_response=1,
        verdicts=("left_out", "picked_right", "left_out", "left_out"),
    )


def test_single_choice_wrong_option_scores_zero_and_explains_that_option() -> None:
    grade = grade_response(SINGLE, 0)
    assert (grade.score, grade.correct, grade.expected) == (0.0, False, 1)
    assert grade.feedback[0] == "Its derivative is 1 for positive inputs."
    assert grade.rating is None


def test_single_choice_accepts_a_numeric_string() -> None:
    grade = grade_response(SINGLE, " 1 ")
    assert grade.normalized_response == 1
    assert grade.correct


@pytest.mark.parametrize("response", ["abc", "1.0", 1.0, None, [1], ""])
def test_single_choice_rejects_what_is_not_an_option_number(response: object) -> None:
    with pytest.raises(InvalidResponse):
        grade_response(SINGLE, response)


@pytest.mark.parametrize("response", [True, False])
def test_single_choice_rejects_booleans(response: bool) -> None:
    with pytest.raises(InvalidResponse, match="choose an option by its number"):
        grade_response(SINGLE, response)


def test_single_choice_out_of_range_names_the_valid_range() -> None:
    with pytest.raises(InvalidResponse, match="option 7 does not exist; choose 0–3"):
        grade_response(SINGLE, 7)
    with pytest.raises(InvalidResponse, match="option -1 does not exist"):
        grade_response(SINGLE, -1)


def test_single_choice_refuses_a_huge_digit_string_without_crashing() -> None:
    with pytest.raises(InvalidResponse):
        grade_response(SINGLE, "9" * 5000)


# multiple_choice


def test_multiple_choice_partial_all_correct_scores_one_and_sorts_the_response() -> None:
    grade = grade_response(MULTIPLE, [3, 0, 2])
    assert grade.score == 1.0
    assert grade.correct
    assert grade.normalized_response == [0, 2, 3]
    assert grade.expected == [0, 2, 3]
    assert grade.feedback == [
        "He: keeps variance.",
        "Residual: identity path.",
        "BatchNorm: rescales activations.",
    ]


def test_multiple_choice_partial_subtracts_wrong_choices() -> None:
    # two right, one wrong, three correct options: (2 - 1) / 3
    grade = grade_response(MULTIPLE, [0, 1, 2])
    assert grade.score == pytest.approx(1 / 3)
    assert not grade.correct
    assert grade.feedback[1] == "Sigmoid: derivative at most 1/4."


def test_multiple_choice_partial_missing_one_is_not_correct() -> None:
    grade = grade_response(MULTIPLE, [0, 2])
    assert grade.score == pytest.approx(2 / 3)
    assert not grade.correct


def test_multiple_choice_partial_is_floored_at_zero() -> None:
    check = {**MULTIPLE, "correct": [0]}
    grade = grade_response(check, [1, 2, 3])
    assert grade.score == 0.0


def test_multiple_choice_empty_selection_scores_zero() -> None:
    grade = grade_response(MULTIPLE, [])
    assert grade.score == 0.0
    assert grade.normalized_response == []
    assert grade.feedback == []


def test_multiple_choice_exact_is_all_or_nothing() -> None:
    check = {**MULTIPLE, "scoring": "exact"}
    assert grade_response(check, [0, 2]).score == 0.0
    assert grade_response(check, [2, 3, 0]).score == 1.0
    default_scoring = {key: value for key, value in MULTIPLE.items() if key != "scoring"}
    assert grade_response(default_scoring, [0, 2]).score == 0.0


def test_multiple_choice_accepts_numeric_strings_as_sent_by_forms() -> None:
    assert grade_response(MULTIPLE, ["0", "2", "3"]).normalized_response == [0, 2, 3]


def test_multiple_choice_rejects_duplicates() -> None:
    with pytest.raises(InvalidResponse, match="option 2 is chosen more than once"):
        grade_response(MULTIPLE, [2, 0, 2])


@pytest.mark.parametrize("response", [[0, 4], [True], ["x"], None, 2, "0,2"])
def test_multiple_choice_rejects_bad_lists(response: object) -> None:
    with pytest.raises(InvalidResponse):
        grade_response(MULTIPLE, response)


def test_multiple_choice_rejects_more_than_a_hundred_items() -> None:
    with pytest.raises(InvalidResponse, match="answer too long"):
        grade_response(MULTIPLE, [0] * 101)


# numeric


@pytest.mark.parametrize("response", [0.26, 0.24, "0.26", 0.25, "  2.5e-1 "])
def test_numeric_within_or_exactly_at_the_tolerance_passes(response: object) -> None:
    grade = grade_response(NUMERIC, response)
    assert grade.correct
    assert grade.score == 1.0
    assert grade.expected == 0.25
    assert grade.feedback == ["sigma'(0) = 1/4."]


@pytest.mark.parametrize("response", [0.2601, 0.2399, 1, "-0.25"])
def test_numeric_just_outside_the_tolerance_fails(response: object) -> None:
    grade = grade_response(NUMERIC, response)
    assert not grade.correct
    assert grade.score == 0.0


def test_numeric_default_tolerance_is_exact() -> None:
    check = {"kind": "numeric", "answer": 3}
    assert grade_response(check, 3).correct
    assert grade_response(check, "3.0").normalized_response == 3.0
    assert not grade_response(check, 3.001).correct


def test_numeric_relative_tolerance_passes_within_either_bound() -> None:
    check = {
        "kind": "numeric",
        "answer": 200.0,
        "tolerance": 0.5,
        "relative_tolerance": 0.01,
    }
    assert grade_response(check, 202).correct  # exactly 1% away
    assert not grade_response(check, 202.01).correct
    assert grade_response(check, 199.6).correct  # within the absolute tolerance as well


def test_numeric_absolute_tolerance_still_counts_when_relative_is_tighter() -> None:
    check = {
        "kind": "numeric",
        "answer": 0.0,
        "tolerance": 0.1,
        "relative_tolerance": 0.5,
    }
    assert grade_response(check, 0.1).correct
    assert not grade_response(check, 0.11).correct


@pytest.mark.parametrize(
    "response",
    ["nan", "inf", "-Infinity", float("nan"), float("inf"), 10**400, "abc", "", None],
)
def test_numeric_rejects_what_is_not_a_finite_number(response: object) -> None:
    with pytest.raises(InvalidResponse):
        grade_response(NUMERIC, response)


def test_numeric_rejects_booleans() -> None:
    with pytest.raises(InvalidResponse, match="enter a number"):
        grade_response(NUMERIC, True)


def test_too_long_text_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidResponse, match="answer too long"):
        grade_response(NUMERIC, "1" * 10_001)


# self_rated


def test_self_rated_good_is_correct_and_shows_the_model_answer() -> None:
    grade = grade_response(SELF_RATED, "  Each sigmoid layer multiplies by at most 1/4.\n", "good")
    assert grade.correct
    assert grade.score == 1.0
    assert grade.rating == "good"
    assert grade.expected == "Gradients shrink by up to 1/4 per layer."
    assert grade.normalized_response == "Each sigmoid layer multiplies by at most 1/4."


@pytest.mark.parametrize(
    ("rating", "score", "correct"),
    [
        ("again", 0.0, False),
        ("hard", 0.5, False),
        ("good", 1.0, True),
        ("easy", 1.0, True),
    ],
)
def test_self_rated_rating_sets_score_and_correctness(
    rating: str, score: float, correct: bool
) -> None:
    grade = grade_response(SELF_RATED, "an answer", rating)
    assert (grade.score, grade.correct, grade.rating) == (score, correct, rating)


def test_self_rated_without_a_model_answer_leaves_expected_to_the_caller() -> None:
    grade = grade_response({"kind": "self_rated", "prompt": "Explain."}, "text", "hard")
    assert grade.expected is None


def test_self_rated_requires_a_rating() -> None:
    with pytest.raises(InvalidResponse, match="rate your answer"):
        grade_response(SELF_RATED, "an answer")
    with pytest.raises(InvalidResponse, match="unknown rating 'perfect'"):
        grade_response(SELF_RATED, "an answer", "perfect")


@pytest.mark.parametrize("response", ["", "   \n ", None, 42])
def test_self_rated_requires_some_text(response: object) -> None:
    with pytest.raises(InvalidResponse, match="write an answer"):
        grade_response(SELF_RATED, response, "good")


def test_self_rated_length_limit_counts_characters_after_stripping() -> None:
    assert grade_response(SELF_RATED, " " * 50 + "x" * 10_000 + " " * 50, "good").correct
    with pytest.raises(InvalidResponse, match="answer too long"):
        grade_response(SELF_RATED, "x" * 10_001, "good")


def test_rating_is_ignored_for_automatic_checks() -> None:
    assert grade_response(SINGLE, 1, "again").rating is None
