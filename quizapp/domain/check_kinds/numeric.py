"""numeric: a number within an absolute and/or relative tolerance of the answer."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import fields, validate

from quizapp.domain.check_kinds.base import (
    CheckKind,
    Grade,
    InvalidResponse,
    Layout,
    RetriesSchema,
    check_feedback,
)


class NumericSchema(RetriesSchema):
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
    # Whether "25%" may be typed for 0.25.
    percent = fields.Boolean(load_default=False)


MAX_NUMBER_TEXT = 60
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_FRACTION = re.compile(rf"({_NUMBER})/({_NUMBER})")
# 2.5×10^-3, 2.5x10^-3, 2.5*10^-3, 2.5·10^-3 (and 2.5×10⁻³, which NFKC turns into 10-3)
_TIMES_TEN = re.compile(rf"({_NUMBER})[x×*·]10(?:\^|\*\*)?\(?([+-]?\d{{1,4}})\)?")


def parse_number(response: object, *, unit: str | None = None, percent: bool = False) -> float:
    """A finite number from a JSON number or the text a learner typed: 0.25, 0,25, 1/4,
    2.5e-3, 2.5×10^-3; a trailing `%` divides by 100 when `percent` is allowed, and the
    check's own unit may be typed after the number."""
    # bool is an int subclass; True is a client bug, not the number 1.
    if isinstance(response, bool) or not isinstance(response, (int, float, str)):
        raise InvalidResponse("enter a number")
    if isinstance(response, str):
        value = _parse_number_text(response, unit=unit, percent=percent)
    else:
        try:
            value = float(response)
        except OverflowError:
            raise InvalidResponse("that number is too large") from None
    if not math.isfinite(value):
        raise InvalidResponse("enter a finite number (not NaN or infinity)")
    return value


def _parse_number_text(text: str, *, unit: str | None, percent: bool) -> float:
    original = text.strip()
    if not original:
        raise InvalidResponse("enter a number")
    if len(original) > MAX_NUMBER_TEXT:
        raise InvalidResponse(f"a number is at most {MAX_NUMBER_TEXT} characters")
    text = unicodedata.normalize("NFKC", original).replace("\u2212", "-").replace("\u2044", "/")
    text = "".join(text.split())
    if unit and unit != "%" and text.endswith("".join(unit.split())):
        text = text[: -len("".join(unit.split()))]
    scale = 1.0
    if text.endswith("%"):
        text = text[:-1]
        if unit == "%":
            pass  # the answer is itself in percent: "25%" is 25
        elif percent:
            scale = 0.01
        else:
            raise InvalidResponse("give a plain number here, not a percentage (leave out the %)")
    if "," in text and "." not in text and text.count(",") == 1:
        text = text.replace(",", ".")  # a decimal comma: 0,25
    try:
        if match := _FRACTION.fullmatch(text):
            denominator = float(match.group(2))
            if denominator == 0:
                raise InvalidResponse("a fraction cannot divide by zero")
            return float(match.group(1)) / denominator * scale
        if match := _TIMES_TEN.fullmatch(text):
            return float(match.group(1)) * 10.0 ** int(match.group(2)) * scale
        return float(text) * scale
    except (ValueError, OverflowError):
        raise InvalidResponse(
            f"not a number: {original[:40]!r} (write e.g. 0.25, 1/4 or 2.5e-3)"
        ) from None


class Numeric(CheckKind):
    """A number within an absolute and/or relative tolerance of the answer (bounds inclusive)."""

    name = "numeric"
    label = "numeric"
    schema = NumericSchema
    public_fields: ClassVar[dict[str, fields.Field]] = {
        "unit": fields.String(metadata={"description": "Unit of the answer, if any"})
    }
    allows_retries = True
    empty_message = "Enter a number."
    format_hint = "A number: 0.25, 0,25, 1/4, 2.5e-3 or 2.5×10^-3."

    def public_extra(self, check: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
        return {"unit": check["unit"]} if check.get("unit") else {}

    def grade(self, check: Mapping[str, Any], response: object, rating: str | None) -> Grade:
        value = parse_number(response, unit=check.get("unit"), percent=bool(check.get("percent")))
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

    def key_response(self, check: Mapping[str, Any]) -> object:
        return float(check["answer"])
