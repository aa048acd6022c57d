"""self_rated: an open answer the learner rates after seeing the model answer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from quizapp.domain.check_kinds.base import (
    CheckBaseSchema,
    CheckKind,
    FieldPath,
    Grade,
    InvalidResponse,
    check_feedback,
    text_field,
)

SELF_RATINGS = ("again", "hard", "good", "easy")

# A self-rating becomes a score so self-rated checks feed the same accuracy figures as
# automatic ones; "hard" is a recall that needed effort, so it earns half.
SELF_RATING_SCORES = {"again": 0.0, "hard": 0.5, "good": 1.0, "easy": 1.0}


class SelfRatedSchema(CheckBaseSchema):
    model_answer = text_field(required=False)


class SelfRated(CheckKind):
    """An open answer the learner rates after seeing the model answer."""

    name = "self_rated"
    label = "self-rated"
    schema = SelfRatedSchema
    automatic = False
    empty_message = "Write your answer first."
    format_hint = "Write your answer in your own words."

    def markdown_fields(self, check: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str]]:
        yield from super().markdown_fields(check)
        if check.get("model_answer"):
            yield ("model_answer",), check["model_answer"]

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
            feedback=check_feedback(check),
            # None when the check omits it: the caller substitutes the question's answer.
            expected=check.get("model_answer"),
            normalized_response=text,
            rating=rating,
        )
