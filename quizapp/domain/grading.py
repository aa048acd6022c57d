"""Answer checking: one checker per check kind, looked up in the `CHECKERS` registry.

A check is the plain dict written in a question's YAML `checks:` list. Adding a kind
means writing one `Checker` subclass and adding one entry to `CHECKERS`.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_ANSWER_CHARS = 10_000
MAX_ANSWER_ITEMS = 100
SELF_RATINGS = ("again", "hard", "good", "easy")

# A self-rating becomes a score so self-rated checks feed the same accuracy figures as
# automatic ones; "hard" is a recall that needed effort, so it earns half.
SELF_RATING_SCORES = {"again": 0.0, "hard": 0.5, "good": 1.0, "easy": 1.0}

# Bounded so int() never meets a huge digit string (Python refuses over 4,300 digits).
_INTEGER_TEXT = re.compile(r"[+-]?\d{1,18}")


class InvalidResponse(ValueError):
    """The learner's response cannot be graded; the message says why in plain words."""


@dataclass(frozen=True)
class Grade:
    """The result of grading one response to one check."""

    score: float
    correct: bool
    feedback: list[str] = field(default_factory=list)
    expected: object = None
    normalized_response: object = None
    rating: str | None = None


class Checker(ABC):
    """Grades responses to one kind of check."""

    @abstractmethod
    def grade(self, check: Mapping[str, Any], response: object, rating: str | None) -> Grade:
        """Grade `response` against `check`; raise InvalidResponse if it cannot be graded."""


def _check_feedback(check: Mapping[str, Any]) -> list[str]:
    text = check.get("feedback")
    return [text] if isinstance(text, str) and text.strip() else []


def _option_feedback(check: Mapping[str, Any], index: int) -> list[str]:
    option = _options(check)[index]
    text = option.get("feedback") if isinstance(option, Mapping) else None
    return [text] if isinstance(text, str) and text.strip() else []


def _options(check: Mapping[str, Any]) -> list[object]:
    options = check.get("options")
    return list(options) if isinstance(options, (list, tuple)) else []


def _option_index(value: object, option_count: int) -> int:
    """Turn one chosen option (an int or a string of digits) into an index in range."""
    # bool is an int subclass, but True as "option 1" is a client bug, not an answer.
    if isinstance(value, bool):
        raise InvalidResponse(f"choose an option by its number (0–{option_count - 1}), not {value}")
    if isinstance(value, int):
        index = value
    elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        index = int(value.strip())
    else:
        raise InvalidResponse(
            f"choose an option by its number (0–{option_count - 1}), not {str(value)[:40]!r}"
        )
    if not 0 <= index < option_count:
        raise InvalidResponse(f"option {index} does not exist; choose 0–{option_count - 1}")
    return index


class SingleChoiceChecker(Checker):
    """Exactly one option is correct; the response is that option's index."""

    def grade(self, check: Mapping[str, Any], response: object, rating: str | None) -> Grade:
        if response is None:
            raise InvalidResponse("choose one option")
        chosen = _option_index(response, len(_options(check)))
        expected = int(check["correct"])
        score = 1.0 if chosen == expected else 0.0
        return Grade(
            score=score,
            correct=score == 1.0,
            feedback=_option_feedback(check, chosen) + _check_feedback(check),
            expected=expected,
            normalized_response=chosen,
        )


class MultipleChoiceChecker(Checker):
    """Any number of options are correct; the response is the list of chosen indices."""

    def grade(self, check: Mapping[str, Any], response: object, rating: str | None) -> Grade:
        if not isinstance(response, (list, tuple)):
            raise InvalidResponse("send the chosen options as a list of numbers (it may be empty)")
        option_count = len(_options(check))
        chosen: list[int] = []
        for value in response:
            index = _option_index(value, option_count)
            if index in chosen:
                raise InvalidResponse(f"option {index} is chosen more than once")
            chosen.append(index)
        chosen.sort()
        expected = sorted(int(i) for i in check["correct"])
        correct_set = set(expected)
        if check.get("scoring", "exact") == "partial":
            hits = sum(1 for i in chosen if i in correct_set)
            misses = len(chosen) - hits
            score = max(0.0, (hits - misses) / len(correct_set))
        else:
            score = 1.0 if set(chosen) == correct_set else 0.0
        feedback = [line for i in chosen for line in _option_feedback(check, i)]
        return Grade(
            score=score,
            correct=score == 1.0,
            feedback=feedback + _check_feedback(check),
            expected=expected,
            normalized_response=chosen,
        )


def _finite_number(response: object) -> float:
    # bool is an int subclass; True is a client bug, not the number 1.
    if isinstance(response, bool) or not isinstance(response, (int, float, str)):
        raise InvalidResponse("enter a number")
    if isinstance(response, str) and not response.strip():
        raise InvalidResponse("enter a number")
    try:
        value = float(response.strip() if isinstance(response, str) else response)
    except (ValueError, OverflowError):
        raise InvalidResponse(f"not a number: {str(response)[:40]!r}") from None
    if not math.isfinite(value):
        raise InvalidResponse("enter a finite number (not NaN or infinity)")
    return value


class NumericChecker(Checker):
    """A number within an absolute and/or relative tolerance of the answer (bounds inclusive)."""

    def grade(self, check: Mapping[str, Any], response: object, rating: str | None) -> Grade:
        value = _finite_number(response)
        answer = float(check["answer"])
        tolerance = float(check.get("tolerance") or 0.0)
        relative = check.get("relative_tolerance")
        # 0.26 - 0.25 is 0.010000000000000009 in binary floating point; a response exactly
        # at the written bound must still pass.
        slack = 1e-12 * max(1.0, abs(answer))
        error = abs(value - answer)
        passed = error <= tolerance + slack
        if relative is not None:
            passed = passed or error <= float(relative) * abs(answer) + slack
        score = 1.0 if passed else 0.0
        return Grade(
            score=score,
            correct=passed,
            feedback=_check_feedback(check),
            expected=answer,
            normalized_response=value,
        )


class SelfRatedChecker(Checker):
    """An open answer the learner rates after seeing the model answer."""

    def grade(self, check: Mapping[str, Any], response: object, rating: str | None) -> Grade:
        if not isinstance(response, str) or not response.strip():
            raise InvalidResponse("write an answer before rating yourself")
        text = response.strip()
        if rating is None:
            raise InvalidResponse("rate your answer: again, hard, good or easy")
        if not isinstance(rating, str) or rating.strip().lower() not in SELF_RATINGS:
            raise InvalidResponse(f"unknown rating {rating!r}; choose again, hard, good or easy")
        rating = rating.strip().lower()
        return Grade(
            score=SELF_RATING_SCORES[rating],
            correct=rating in ("good", "easy"),
            feedback=_check_feedback(check),
            # None when the check omits it: the caller substitutes the question's answer.
            expected=check.get("model_answer"),
            normalized_response=text,
            rating=rating,
        )


CHECKERS: dict[str, Checker] = {
    "single_choice": SingleChoiceChecker(),
    "multiple_choice": MultipleChoiceChecker(),
    "numeric": NumericChecker(),
    "self_rated": SelfRatedChecker(),
}
CHECK_KINDS = tuple(CHECKERS)
AUTOMATIC_KINDS = tuple(kind for kind in CHECKERS if kind != "self_rated")


def grade_response(check: Mapping[str, Any], response: object, rating: str | None = None) -> Grade:
    """Grade a learner's response to one check; raise InvalidResponse for unusable input.

    `rating` (again/hard/good/easy) is required for self_rated checks and ignored otherwise.
    """
    kind = check.get("kind")
    checker = CHECKERS.get(kind) if isinstance(kind, str) else None
    if checker is None:
        # A content error, not the learner's: the schema should have refused it.
        raise ValueError(f"unknown check kind {kind!r}; known kinds: {', '.join(CHECK_KINDS)}")
    # Size limits come first so no checker ever parses an oversized payload.
    if isinstance(response, str) and len(response.strip()) > MAX_ANSWER_CHARS:
        raise InvalidResponse(f"answer too long: at most {MAX_ANSWER_CHARS:,} characters")
    if isinstance(response, (list, tuple)) and len(response) > MAX_ANSWER_ITEMS:
        raise InvalidResponse(f"answer too long: at most {MAX_ANSWER_ITEMS} items")
    return checker.grade(check, response, rating)
