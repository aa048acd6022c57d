"""short_text: a typed word or phrase, graded against accepted answers and patterns."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import ValidationError, fields, validate, validates_schema

from quizapp.domain.check_kinds.base import (
    CheckKind,
    Grade,
    InvalidResponse,
    Layout,
    RetriesSchema,
    check_feedback,
    text_field,
)

MAX_SHORT_ANSWER = 200
MAX_EDITS = 3
TYPO_LENGTH = 5  # characters of an accepted answer per typo forgiven
# Punctuation a learner may add around an answer ("ReLU." or "'ReLU'") without meaning it.
_EDGE_PUNCTUATION = " \t\n.,;:!?'\"“”‘’«»()"


class ShortTextSchema(RetriesSchema):
    accepted = fields.List(
        text_field(max_length=MAX_SHORT_ANSWER),
        load_default=list,
        validate=validate.Length(max=20, error="at most 20 accepted answers"),
    )
    patterns = fields.List(
        text_field(max_length=300),
        load_default=list,
        validate=validate.Length(max=10, error="at most 10 patterns"),
    )
    max_edits = fields.Integer(
        strict=True,
        load_default=0,
        validate=validate.Range(min=0, max=MAX_EDITS, error=f"must be from 0 to {MAX_EDITS}"),
    )
    case_sensitive = fields.Boolean(load_default=False)

    @validates_schema(skip_on_field_errors=True)
    def something_is_accepted(self, data: dict[str, Any], **_: Any) -> None:
        if not data["accepted"] and not data["patterns"]:
            raise ValidationError("give at least one accepted answer or pattern", "accepted")
        for index, pattern in enumerate(data["patterns"]):
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValidationError(
                    {"patterns": {index: [f"not a valid regular expression: {error}"]}}
                ) from None


def normalise_text(text: str, case_sensitive: bool = False) -> str:
    """Unicode-normalised (NFKC), single-spaced, without edge punctuation; casefolded unless
    the check is case-sensitive."""
    text = unicodedata.normalize("NFKC", text)
    text = " ".join(text.split()).strip(_EDGE_PUNCTUATION)
    return text if case_sensitive else text.casefold()


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, or limit + 1 as soon as it is known to exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


class ShortText(CheckKind):
    """Right when the normalised answer equals an accepted answer (within `max_edits` typos)
    or fully matches a pattern."""

    name = "short_text"
    label = "short answer"
    schema = ShortTextSchema
    allows_retries = True
    empty_message = "Type your answer."
    format_hint = "A word or short phrase; case and extra spaces do not matter."
    public_fields: ClassVar[dict[str, fields.Field]] = {
        "max_length": fields.Integer(metadata={"description": "Longest answer accepted"})
    }

    def public_extra(self, check: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
        return {"max_length": MAX_SHORT_ANSWER}

    def grade(self, check: Mapping[str, Any], response: object, rating: str | None) -> Grade:
        if not isinstance(response, str) or not response.strip():
            raise InvalidResponse("type your answer")
        if len(response.strip()) > MAX_SHORT_ANSWER:
            raise InvalidResponse(f"answer too long: at most {MAX_SHORT_ANSWER} characters")
        case_sensitive = bool(check.get("case_sensitive"))
        answer = normalise_text(response, case_sensitive)
        limit = int(check.get("max_edits") or 0)
        accepted = [normalise_text(text, case_sensitive) for text in check.get("accepted") or ()]
        # Typos are forgiven only on answers long enough that a typo is unlikely to make
        # another term (GELU is one edit from ReLU): five characters per forgiven edit.
        passed = any(
            answer == text
            or (len(text) >= TYPO_LENGTH * limit and edit_distance(answer, text, limit) <= limit)
            for text in accepted
        )
        flags = 0 if case_sensitive else re.IGNORECASE
        passed = passed or any(
            re.fullmatch(pattern, answer, flags) for pattern in check.get("patterns") or ()
        )
        accepted_raw = check.get("accepted") or []
        return Grade(
            score=1.0 if passed else 0.0,
            correct=passed,
            feedback=check_feedback(check),
            expected=accepted_raw[0] if accepted_raw else None,
            normalized_response=response.strip(),
        )

    def key_response(self, check: Mapping[str, Any]) -> object:
        accepted = check.get("accepted") or []
        return accepted[0] if accepted else None
