"""matching: pair each item on the left with one on the right."""

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


class PairSchema(StrictSchema):
    left = text_field(max_length=500)
    right = text_field(max_length=500)


class MatchingSchema(CheckBaseSchema):
    pairs = fields.List(
        fields.Nested(PairSchema),
        required=True,
        validate=validate.Length(min=2, max=10, error="needs 2 to 10 pairs"),
    )
    # Extra right-hand items that match nothing, so the last pair is not given away.
    distractors = fields.List(
        text_field(max_length=500), validate=validate.Length(max=5, error="at most 5")
    )

    @validates_schema(skip_on_field_errors=True)
    def sides_differ(self, data: dict[str, Any], **_: Any) -> None:
        lefts = [pair["left"] for pair in data["pairs"]]
        rights = [pair["right"] for pair in data["pairs"]] + data.get("distractors", [])
        if len(set(lefts)) != len(lefts):
            raise ValidationError("a left item is listed twice", "pairs")
        if len(set(rights)) != len(rights):
            raise ValidationError("a right item (or distractor) is listed twice", "pairs")


def right_items(check: Mapping[str, Any], rendered: bool = False) -> list[str]:
    """The right-hand items in authored order: each pair's, then the distractors."""
    suffix = "_html" if rendered else ""
    pairs = [pair.get(f"right{suffix}", pair["right"]) for pair in check["pairs"]]
    extra = check.get(f"distractors{suffix}") or check.get("distractors") or []
    return pairs + list(extra)


class Matching(CheckKind):
    """Left items in the authored order, right items shuffled; the learner picks a right item
    for each left one. Score: the share of left items matched correctly."""

    name = "matching"
    label = "matching"
    schema = MatchingSchema
    shuffled = ("rights",)
    format_hint = "Choose the matching item for each one on the left."
    public_fields: ClassVar[dict[str, fields.Field]] = {
        "lefts": fields.List(fields.Dict(), metadata={"description": "{text, text_html}"}),
        "rights": fields.List(
            fields.Dict(),
            metadata={
                "description": "Right items as shown to you; answer with, for each "
                "left item, the shown index of its right item"
            },
        ),
    }

    def markdown_fields(self, check: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str]]:
        yield from super().markdown_fields(check)
        for index, pair in enumerate(check.get("pairs") or ()):
            for side in ("left", "right"):
                yield ("pairs", index, side), pair[side]
        for index, text in enumerate(check.get("distractors") or ()):
            yield ("distractors", index), text

    def present(self, check: Mapping[str, Any], rng: Random) -> Layout:
        return {"rights": shuffled_positions(len(right_items(check)), rng)}

    def variant_problems(self, check: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str]]:
        shown = right_items(check, rendered=True)
        pairs = len(check["pairs"])
        for index, html in enumerate(shown[pairs:]):
            if html in shown[:pairs]:
                yield (
                    ("distractors", index),
                    f"shows the same as the right side of pair {shown.index(html)}",
                )

    def public_extra(self, check: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
        rights, rendered = right_items(check), right_items(check, rendered=True)
        order = valid_layout(layout, "rights", len(rights))
        return {
            "lefts": [
                {"text": pair["left"], "text_html": pair.get("left_html", pair["left"])}
                for pair in check["pairs"]
            ],
            "rights": [{"text": rights[i], "text_html": rendered[i]} for i in order],
        }

    def parse_form(self, check: Mapping[str, Any], form: FormData) -> object:
        chosen = []
        for index in range(len(check["pairs"])):
            value = (form.get(f"match-{index}") or "").strip()
            if not value:
                raise InvalidResponse("Choose a match for every item.")
            chosen.append(value)
        return chosen

    def _choices(self, check: Mapping[str, Any], response: object) -> list[int]:
        count, rights = len(check["pairs"]), len(right_items(check))
        if not isinstance(response, (list, tuple)) or len(response) != count:
            raise InvalidResponse(f"send a list of {count} right-item indexes, one per left item")
        return [integer_choice(value, rights, "right item") for value in response]

    def from_display(self, check: Mapping[str, Any], layout: Layout, response: object) -> object:
        order = valid_layout(layout, "rights", len(right_items(check)))
        return [order[shown] for shown in self._choices(check, response)]

    def to_display(self, check: Mapping[str, Any], layout: Layout, value: object) -> object:
        order = valid_layout(layout, "rights", len(right_items(check)))
        if not isinstance(value, list):
            return value
        return [order.index(i) for i in value]

    def grade(self, check: Mapping[str, Any], response: object, rating: str | None) -> Grade:
        chosen = self._choices(check, response)
        verdicts = tuple("right" if right == left else "wrong" for left, right in enumerate(chosen))
        hits = verdicts.count("right")
        return Grade(
            score=hits / len(chosen),
            correct=hits == len(chosen),
            feedback=check_feedback(check),
            expected=list(range(len(chosen))),
            normalized_response=chosen,
            verdicts=verdicts,
        )

    def key_response(self, check: Mapping[str, Any]) -> object:
        return list(range(len(check["pairs"])))
