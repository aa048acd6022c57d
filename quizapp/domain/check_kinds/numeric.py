"""numeric: a number within an absolute and/or relative tolerance of the answer."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import fields, validate

from quizapp.domain.check_kinds.base import (
    CheckBaseSchema,
    CheckKind,
    Grade,
    InvalidResponse,
    Layout,
    check_feedback,
)


class NumericSchema(CheckBaseSchema):
    answer = fields.Float(required=True, allow_nan=False)
    tolerance = fields.Float(
        load_default=0.0,
        allow_nan=False,
        validate=validate.Range(min=0, error="must be zero or more"),
    )
    relative_tolerance = fields.Float(
        allow_nan=False, validate=validate.Range(min=0, max=1, error="must be between 0 and 1")
    )
    unit = fields.String(validate=validate.Length(max=40))


def parse_number(response: object) -> float:
    """A finite number from a JSON number or the text a learner typed."""
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


class Numeric(CheckKind):
    """A number within an absolute and/or relative tolerance of the answer (bounds inclusive)."""

    name = "numeric"
    label = "numeric"
    schema = NumericSchema
    public_fields: ClassVar[dict[str, fields.Field]] = {
        "unit": fields.String(metadata={"description": "Unit of the answer, if any"})
    }
    empty_message = "Enter a number."
    format_hint = "A number, e.g. 0.25."

    def public_extra(self, check: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
        return {"unit": check["unit"]} if check.get("unit") else {}

    def grade(self, check: Mapping[str, Any], response: object, rating: str | None) -> Grade:
        value = parse_number(response)
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
            feedback=check_feedback(check),
            expected=answer,
            normalized_response=value,
        )
