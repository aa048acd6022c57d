"""Marshmallow schemas for content files: the contract documented in content/README.md."""

from __future__ import annotations

from functools import cache
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from quizapp.domain.check_kinds import CHECK_KINDS
from quizapp.domain.check_kinds.base import StrictSchema, text_field
from quizapp.domain.variants import VariantError, check_names, parse_expression, parse_spec

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
DIFFICULTIES = ("easy", "medium", "hard")
SLUG = validate.Regexp(
    SLUG_PATTERN, error="must be lowercase letters, digits and single dashes (e.g. my-question)"
)
NOT_BLANK = validate.Length(min=1, error="must not be empty")


def _text(required: bool = True, max_length: int = 50_000) -> fields.String:
    return text_field(required, max_length)


def _former_slugs() -> fields.List:
    """Slugs a question or exercise had before a rename: their URLs redirect to the new one."""
    return fields.List(fields.String(validate=[SLUG, validate.Length(max=120)]), load_default=list)


# A check's schema is its kind's: one entry per kind in the registry of check kinds.
CHECK_SCHEMAS: dict[str, type[Schema]] = {name: kind.schema for name, kind in CHECK_KINDS.items()}


class CheckField(fields.Field):
    """A check whose schema is chosen by its `kind`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError("must be a mapping with a 'kind'")
        kind = value.get("kind")
        schema = CHECK_SCHEMAS.get(kind) if isinstance(kind, str) else None
        if schema is None:
            raise ValidationError(
                {"kind": [f"must be one of {', '.join(CHECK_SCHEMAS)} (got {kind!r})"]}
            )
        return shared_schema(schema).load(value)


@cache
def shared_schema(schema: type[Schema]) -> Schema:
    """One reusable instance of `schema`: building one costs more than a load with it."""
    return schema()


class ReferenceSchema(StrictSchema):
    title = _text(max_length=300)
    url = fields.Url(
        required=True,
        schemes={"http", "https"},
        error_messages={"invalid": "not a valid http(s) URL"},
    )
    authors = fields.String(validate=validate.Length(max=300))
    year = fields.Integer(strict=True, validate=validate.Range(min=1800, max=2100))


class TopicSchema(StrictSchema):
    slug = fields.String(required=True, validate=SLUG)
    title = _text(max_length=200)
    description = fields.String(load_default="")


class QuestionSchema(StrictSchema):
    slug = fields.String(required=True, validate=[SLUG, validate.Length(max=120)])
    title = _text(max_length=200)
    difficulty = fields.String(
        required=True,
        validate=validate.OneOf(DIFFICULTIES, error="must be one of easy, medium, hard"),
    )
    topics = fields.List(
        fields.String(validate=SLUG),
        required=True,
        validate=validate.Length(min=1, max=5, error="needs 1 to 5 topics"),
    )
    question = _text()
    answer = _text()
    explanation = _text()
    references = fields.List(
        fields.Nested(ReferenceSchema),
        required=True,
        validate=validate.Length(min=1, error="needs at least one reference"),
    )
    aliases = _former_slugs()
    related = fields.List(fields.String(validate=SLUG), load_default=list)
    exercises = fields.List(fields.String(validate=SLUG), load_default=list)
    checks = fields.List(
        CheckField(),
        required=True,
        validate=validate.Length(min=1, max=20, error="needs 1 to 20 checks"),
    )
    # Variants: each learner gets their own numbers (see content/README.md, "Variants").
    params = fields.Dict(keys=fields.String(), values=fields.Raw())
    derived = fields.Dict(keys=fields.String(), values=fields.Raw())

    @validates_schema
    def variants(self, data: dict[str, Any], **_: Any) -> None:
        """Ranges and choices, derived expressions and the numeric checks' expressions, each
        error at its own key. The `{{ }}` in texts are checked by the loader, by line."""
        errors: dict[str, Any] = {}
        spec, problems = parse_spec(data.get("params"), data.get("derived"))
        for problem in problems:
            node = errors
            for part in problem.path[:-1]:
                node = node.setdefault(part, {})
            node.setdefault(problem.path[-1], []).append(problem.message)
        names = spec.names if spec is not None else _declared_names(data)
        for index, check in enumerate(data.get("checks") or ()):
            kind = CHECK_KINDS.get(check.get("kind"))
            for name in kind.number_fields if kind else ():
                source = check.get(name)
                if not isinstance(source, str):
                    continue
                try:
                    check_names(parse_expression(source), names)
                except VariantError as error:
                    errors.setdefault("checks", {}).setdefault(index, {})[name] = [str(error)]
        if errors:
            raise ValidationError(errors)


def _declared_names(data: dict[str, Any]) -> frozenset[str]:
    """The names a question declares, even when its spec has problems (reported apart)."""
    names = [*(data.get("params") or {}), *(data.get("derived") or {})]
    return frozenset(name for name in names if isinstance(name, str))


class ChoiceValueField(fields.Field):
    """A choice is a value (`xavier_uniform`) or a mapping {value, label}."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, dict):
            unknown = set(value) - {"value", "label"}
            if unknown or "value" not in value:
                raise ValidationError("must be a value or a mapping with 'value' and 'label'")
            label = value.get("label", str(value["value"]))
            if not isinstance(label, str) or not label.strip():
                raise ValidationError("label must be text")
            return {"value": _choice_scalar(value["value"]), "label": label}
        return {"value": _choice_scalar(value), "label": str(value)}


def _choice_scalar(value: Any) -> Any:
    if isinstance(value, str | int | float | bool):
        return value
    raise ValidationError("a choice value must be text, a number or true/false")


GOAL_OPERATORS = ("equals", "at_least", "at_most")


class GoalSchema(StrictSchema):
    metric = fields.String(required=True)
    equals = fields.Raw()
    at_least = fields.Float(allow_nan=False)
    at_most = fields.Float(allow_nan=False)
    label = fields.String(validate=validate.Length(max=200))

    @validates_schema(skip_on_field_errors=True)
    def one_operator(self, data: dict[str, Any], **_: Any) -> None:
        if not any(name in data for name in GOAL_OPERATORS):
            raise ValidationError("needs one of equals, at_least, at_most", "metric")


class ExerciseSchema(StrictSchema):
    slug = fields.String(required=True, validate=[SLUG, validate.Length(max=120)])
    title = _text(max_length=200)
    difficulty = fields.String(
        load_default="medium",
        validate=validate.OneOf(DIFFICULTIES, error="must be one of easy, medium, hard"),
    )
    questions = fields.List(
        fields.String(validate=SLUG),
        required=True,
        validate=validate.Length(min=1, max=5, error="link 1 to 5 questions"),
    )
    aliases = _former_slugs()
    prompt = _text()
    network = fields.Dict(required=True, keys=fields.String(), values=fields.Raw())
    choices = fields.Dict(
        required=True,
        keys=fields.String(),
        values=fields.List(
            ChoiceValueField(), validate=validate.Length(min=2, error="offer at least 2 options")
        ),
        validate=validate.Length(min=1, max=4, error="offer 1 to 4 choices"),
    )
    goals = fields.List(
        fields.Nested(GoalSchema),
        required=True,
        validate=validate.Length(min=1, max=5, error="needs 1 to 5 goals"),
    )
    feedback = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    hints = fields.List(fields.String(validate=NOT_BLANK), load_default=list)
    explanation = _text()
    reference_solution = fields.Dict(required=True, keys=fields.String(), values=fields.Raw())
    wrong_choice = fields.Dict(keys=fields.String(), values=fields.Raw())
