"""numeric: a number within an absolute and/or relative tolerance of the answer."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from marshmallow import ValidationError, fields, validate

from quizapp.domain.check_kinds.base import (
    CheckKind,
    FieldPath,
    Grade,
    InvalidResponse,
    Layout,
    RetriesSchema,
    check_feedback,
)
from quizapp.domain.variants import VariantError, parse_expression


class NumberOrExpression(fields.Field):
    """A number, or an expression of the question's params as text (e.g. "n * (k*k*c + 1)"):
    its syntax is checked here, its names against the question's params by the question's
    schema, and its values over sampled variants by `content check`."""

    def __init__(self, *, low: float | None = None, high: float | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.low, self.high = low, high

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            try:
                parse_expression(value)
            except VariantError as error:
                raise ValidationError(str(error)) from None
            return value.strip()
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("must be a number or an expression (text)")
        if not math.isfinite(value):
            raise ValidationError("must be a finite number")
        if self.low is not None and value < self.low:
            raise ValidationError(_range_message(self.low, self.high))
        if self.high is not None and value > self.high:
            raise ValidationError(_range_message(self.low, self.high))
        return float(value)


def _range_message(low: float | None, high: float | None) -> str:
    if high is None:
        return "must be zero or more"
    return f"must be between {low:g} and {high:g}"


class NumericSchema(RetriesSchema):
    answer = NumberOrExpression(required=True)
    tolerance = NumberOrExpression(load_default=0.0, low=0)
    relative_tolerance = NumberOrExpression(low=0, high=1)
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


# Sense of a variant's tolerance: an answer with more significant digits than a learner
# types needs a tolerance of at least this relative size; one this large accepts too much.
TIGHTEST_RELATIVE = 1e-6
LOOSEST_RELATIVE = 0.1
TYPED_DIGITS = 6


def _digits(value: float) -> int:
    """Significant digits needed to write `value` exactly (up to 17)."""
    for digits in range(1, 18):
        if float(f"{value:.{digits}g}") == value:
            return digits
    return 17


class Numeric(CheckKind):
    """A number within an absolute and/or relative tolerance of the answer (bounds inclusive)."""

    name = "numeric"
    label = "numeric"
    schema = NumericSchema
    public_fields: ClassVar[dict[str, fields.Field]] = {
        "unit": fields.String(metadata={"description": "Unit of the answer, if any"})
    }
    allows_retries = True
    number_fields = ("answer", "tolerance", "relative_tolerance")
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
        # at the written bound must still pass. The slack scales with the answer: a fixed
        # 1e-12 would accept anything below it for a tiny answer such as 0.25 ** 30.
        slack = 1e-12 * max(abs(answer), tolerance)
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

    def variant_problems(self, check: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str]]:
        answer = float(check["answer"])
        tolerance = float(check.get("tolerance") or 0.0)
        relative = float(check.get("relative_tolerance") or 0.0)
        if tolerance < 0:
            yield ("tolerance",), f"is negative ({tolerance:g})"
            return
        if not 0 <= relative <= 1:
            yield ("relative_tolerance",), "must be from 0 to 1"
            return
        allowed = max(tolerance, relative * abs(answer))
        name = "tolerance" if tolerance >= relative * abs(answer) else "relative_tolerance"
        if answer != 0 and allowed >= LOOSEST_RELATIVE * abs(answer):
            yield (
                (name,),
                f"accepts ±{allowed:g}, {allowed / abs(answer):.0%} of the answer {answer:g}: "
                f"at most {LOOSEST_RELATIVE:.0%}",
            )
        elif (
            answer != int(answer)
            and _digits(answer) > TYPED_DIGITS
            and allowed < TIGHTEST_RELATIVE * abs(answer)
        ):
            yield (
                (name,),
                f"accepts ±{allowed:g} around {answer!r}: learners round, so allow at least "
                f"{TIGHTEST_RELATIVE:g} of the answer (relative_tolerance)",
            )

    def key_response(self, check: Mapping[str, Any]) -> object:
        return float(check["answer"])

    def key_text(self, check: Mapping[str, Any]) -> str:
        answer = float(check["answer"])
        relative = float(check.get("relative_tolerance") or 0.0)
        allowed = max(float(check.get("tolerance") or 0.0), relative * abs(answer))
        unit = f" {check['unit']}" if check.get("unit") else ""
        return f"{answer:.10g}{unit} (± {allowed:.3g})"
