"""ordering: put items in order; partial credit by Kendall's tau."""

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
    check_feedback,
    integer_choice,
    shuffled_positions,
    text_field,
    valid_layout,
)


class OrderingSchema(CheckBaseSchema):
    items = fields.List(
        text_field(max_length=500),
        required=True,
        validate=validate.Length(min=2, max=10, error="needs 2 to 10 items"),
    )

    @validates_schema(skip_on_field_errors=True)
    def items_differ(self, data: dict[str, Any], **_: Any) -> None:
        if len(set(data["items"])) != len(data["items"]):
            raise ValidationError("an item is listed twice", "items")


def kendall_tau(order: list[int]) -> float:
    """Kendall's tau between `order` and 0, 1, 2, ...: 1 in order, -1 reversed."""
    n = len(order)
    pairs = n * (n - 1) // 2
    if pairs == 0:
        return 1.0
    concordant = sum(1 for a in range(n) for b in range(a + 1, n) if order[a] < order[b])
    return (2 * concordant - pairs) / pairs


class Ordering(CheckKind):
    """The items are written in the right order and shown shuffled; the learner gives each
    shown item its position. Score: Kendall's tau floored at 0 (1 in order, 0 for a random
    or reversed order)."""

    name = "ordering"
    label = "ordering"
    schema = OrderingSchema
    shuffled = ("items",)
    verdicts_follow = "items"
    format_hint = "Give each item its position, 1 for the first; use each position once."
    public_fields: ClassVar[dict[str, fields.Field]] = {
        # Not "items": a dict's .items method would stand in for it where it is absent.
        "items_to_order": fields.List(
            fields.Dict(),
            metadata={
                "description": "Items as shown to you ({text, text_html}); answer with "
                "the list of their shown indexes in the right order"
            },
        )
    }

    def markdown_fields(self, check: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str]]:
        yield from super().markdown_fields(check)
        for index, item in enumerate(check.get("items") or ()):
            yield ("items", index), item

    def present(self, check: Mapping[str, Any], rng: Random) -> Layout:
        return {"items": shuffled_positions(len(check["items"]), rng)}

    def public_extra(self, check: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
        items, rendered = check["items"], check.get("items_html") or check["items"]
        order = valid_layout(layout, "items", len(items))
        return {"items_to_order": [{"text": items[i], "text_html": rendered[i]} for i in order]}

    def parse_form(self, check: Mapping[str, Any], form: FormData) -> object:
        count = len(check["items"])
        positions: dict[int, int] = {}
        for shown in range(count):
            value = (form.get(f"position-{shown}") or "").strip()
            if not value.isdecimal() or not 1 <= int(value) <= count:
                raise InvalidResponse(f"Give every item a position from 1 to {count}.")
            positions[shown] = int(value)
        if len(set(positions.values())) != count:
            raise InvalidResponse(f"Use each position from 1 to {count} once.")
        return sorted(positions, key=positions.__getitem__)

    def from_display(self, check: Mapping[str, Any], layout: Layout, response: object) -> object:
        order = valid_layout(layout, "items", len(check["items"]))
        shown = self._permutation(check, response)
        return [order[i] for i in shown]

    def to_display(self, check: Mapping[str, Any], layout: Layout, value: object) -> object:
        order = valid_layout(layout, "items", len(check["items"]))
        if not isinstance(value, list):
            return value
        return [order.index(i) for i in value]

    def _permutation(self, check: Mapping[str, Any], response: object) -> list[int]:
        count = len(check["items"])
        if not isinstance(response, (list, tuple)) or len(response) != count:
            raise InvalidResponse(f"send the {count} items' indexes as a list, in your order")
        order = [integer_choice(value, count, "item") for value in response]
        if len(set(order)) != count:
            raise InvalidResponse("list each item once")
        return order

    def grade(self, check: Mapping[str, Any], response: object, rating: str | None) -> Grade:
        order = self._permutation(check, response)
        score = max(0.0, kendall_tau(order))
        return Grade(
            score=score,
            correct=order == sorted(order),
            feedback=check_feedback(check),
            expected=list(range(len(order))),
            normalized_response=order,
            # Per authored item: in its right place or not.
            verdicts=tuple(
                "right" if order.index(item) == item else "wrong" for item in range(len(order))
            ),
        )

    def key_response(self, check: Mapping[str, Any]) -> object:
        return list(range(len(check["items"])))
