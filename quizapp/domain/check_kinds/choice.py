"""single_choice and multiple_choice: pick options from a list."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from random import Random
from typing import Any, ClassVar

from marshmallow import ValidationError, fields, validate, validates_schema

from quizapp.domain.check_kinds.base import (
    CheckBaseSchema,
    CheckKind,
    FieldPath,
    FormData,
    Grade,
    InvalidResponse,
    Layout,
    StrictSchema,
    check_feedback,
    integer_choice,
    shuffled_positions,
    text_field,
    valid_layout,
)


class OptionSchema(StrictSchema):
    text = text_field(max_length=1_000)
    feedback = text_field(required=False, max_length=2_000)
    # Keeps its written place when the options are shuffled (e.g. "None of the above").
    fixed = fields.Boolean()


def _options_field() -> fields.List:
    return fields.List(
        fields.Nested(OptionSchema),
        required=True,
        validate=validate.Length(min=2, max=10, error="needs 2 to 10 options"),
    )


class SingleChoiceSchema(CheckBaseSchema):
    options = _options_field()
    correct = fields.Integer(required=True, strict=True)

    @validates_schema(skip_on_field_errors=True)
    def correct_is_an_option(self, data: dict[str, Any], **_: Any) -> None:
        if not 0 <= data["correct"] < len(data["options"]):
            raise ValidationError(
                f"must be an option index from 0 to {len(data['options']) - 1}", "correct"
            )


class MultipleChoiceSchema(CheckBaseSchema):
    options = _options_field()
    correct = fields.List(
        fields.Integer(strict=True),
        required=True,
        validate=validate.Length(min=1, error="needs at least one correct option"),
    )
    scoring = fields.String(
        load_default="exact",
        validate=validate.OneOf(["exact", "partial"], error="must be exact or partial"),
    )

    @validates_schema(skip_on_field_errors=True)
    def correct_are_options(self, data: dict[str, Any], **_: Any) -> None:
        count = len(data["options"])
        if any(not 0 <= index < count for index in data["correct"]):
            raise ValidationError(f"option indices must be from 0 to {count - 1}", "correct")
        if len(set(data["correct"])) != len(data["correct"]):
            raise ValidationError("an option is listed twice", "correct")


def options_of(check: Mapping[str, Any]) -> list[Any]:
    options = check.get("options")
    return list(options) if isinstance(options, (list, tuple)) else []


def option_feedback(check: Mapping[str, Any], index: int) -> list[str]:
    option = options_of(check)[index]
    text = option.get("feedback") if isinstance(option, Mapping) else None
    return [text] if isinstance(text, str) and text.strip() else []


class ChoiceKind(CheckKind):
    """What both choice kinds share: options, their markdown and their order."""

    verdicts_follow = "options"
    shuffled = ("options",)

    def present(self, check: Mapping[str, Any], rng: Random) -> Layout:
        options = options_of(check)
        pinned = [i for i, option in enumerate(options) if option.get("fixed")]
        return {"options": shuffled_positions(len(options), rng, pinned)}

    def _shown(self, check: Mapping[str, Any], layout: Layout) -> list[int]:
        return valid_layout(layout, "options", len(options_of(check)))

    def from_display(self, check: Mapping[str, Any], layout: Layout, response: object) -> object:
        order = self._shown(check, layout)
        count = len(order)
        if isinstance(response, (list, tuple)):
            return [order[integer_choice(value, count)] for value in response]
        if response is None:
            return None
        return order[integer_choice(response, count)]

    def to_display(self, check: Mapping[str, Any], layout: Layout, value: object) -> object:
        order = self._shown(check, layout)

        def shown(index: object) -> object:
            valid = isinstance(index, int) and not isinstance(index, bool)
            return order.index(index) if valid and 0 <= index < len(order) else index

        if isinstance(value, list):
            positions = [shown(i) for i in value]
            return sorted(positions) if all(isinstance(p, int) for p in positions) else positions
        return shown(value)

    public_fields: ClassVar[dict[str, fields.Field]] = {
        "options": fields.List(
            fields.Dict(),
            metadata={"description": "Options in the order shown to you: {text, text_html}"},
        )
    }

    def markdown_fields(self, check: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str]]:
        yield from super().markdown_fields(check)
        for index, option in enumerate(options_of(check)):
            for name in ("text", "feedback"):
                if option.get(name):
                    yield ("options", index, name), option[name]

    def variant_problems(self, check: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str]]:
        options = options_of(check)
        correct = check["correct"]
        keys = set(correct) if isinstance(correct, list) else {correct}
        shown = {key: options[key].get("text_html", options[key]["text"]) for key in keys}
        for index, option in enumerate(options):
            html = option.get("text_html", option["text"])
            same = [key for key, key_html in shown.items() if key_html == html]
            if index not in keys and same:
                yield ("options", index, "text"), f"shows the same as the key (option {same[0]})"

    def key_text(self, check: Mapping[str, Any]) -> str:
        key = self.key_response(check)
        options = options_of(check)
        return " | ".join(options[i]["text"] for i in (key if isinstance(key, list) else [key]))

    def public_extra(self, check: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
        options = options_of(check)
        return {
            "options": [
                {"text": options[i]["text"], "text_html": options[i].get("text_html", "")}
                for i in self._shown(check, layout)
            ]
        }


class SingleChoice(ChoiceKind):
    """Exactly one option is correct; the response is that option's index."""

    name = "single_choice"
    label = "single choice"
    schema = SingleChoiceSchema
    empty_message = "Choose one of the options."
    format_hint = "Choose one option."

    def grade(self, check: Mapping[str, Any], response: object, rating: str | None) -> Grade:
        if response is None:
            raise InvalidResponse("choose one option")
        count = len(options_of(check))
        chosen = integer_choice(response, count)
        expected = int(check["correct"])
        score = 1.0 if chosen == expected else 0.0
        return Grade(
            score=score,
            correct=score == 1.0,
            feedback=option_feedback(check, chosen) + check_feedback(check),
            expected=expected,
            normalized_response=chosen,
            verdicts=_verdicts(count, {chosen}, {expected}),
        )

    def key_response(self, check: Mapping[str, Any]) -> object:
        return int(check["correct"])


class MultipleChoice(ChoiceKind):
    """Any number of options are correct; the response is the list of chosen indices."""

    name = "multiple_choice"
    label = "multiple choice"
    schema = MultipleChoiceSchema
    format_hint = "Select all that apply."

    public_fields: ClassVar[dict[str, fields.Field]] = {
        **ChoiceKind.public_fields,
        "scoring": fields.String(metadata={"description": "exact or partial credit"}),
    }

    def public_extra(self, check: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
        return {**super().public_extra(check, layout), "scoring": check.get("scoring", "exact")}

    def parse_form(self, check: Mapping[str, Any], form: FormData) -> object:
        # Choosing nothing is an answer here ("none of these"), not an empty form.
        return form.getlist("response")

    def grade(self, check: Mapping[str, Any], response: object, rating: str | None) -> Grade:
        if not isinstance(response, (list, tuple)):
            raise InvalidResponse("send the chosen options as a list of numbers (it may be empty)")
        count = len(options_of(check))
        chosen: list[int] = []
        for value in response:
            index = integer_choice(value, count)
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
        feedback = [line for i in chosen for line in option_feedback(check, i)]
        return Grade(
            score=score,
            correct=score == 1.0,
            feedback=feedback + check_feedback(check),
            expected=expected,
            normalized_response=chosen,
            verdicts=_verdicts(count, set(chosen), correct_set),
        )

    def key_response(self, check: Mapping[str, Any]) -> object:
        return sorted(int(i) for i in check["correct"])


def _verdicts(count: int, chosen: set[int], correct: set[int]) -> tuple[str, ...]:
    """Per option: picked right, picked wrong, missed (a correct option not picked) or left out."""
    return tuple(
        ("picked_right" if i in correct else "picked_wrong")
        if i in chosen
        else ("missed" if i in correct else "left_out")
        for i in range(count)
    )
