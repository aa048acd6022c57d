"""What every check kind shares: the grade, the refusal, the schema building blocks and the
`CheckKind` interface that each kind module implements once.

A kind is one unit: its YAML schema, its grader, the markdown fields it renders, how it is
laid out for a learner (shuffling), its form parser, its public (API) view and its template
partial `checks/<name>.html`. The registry in `quizapp.domain.check_kinds` lists the units;
every dispatch point loops over it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import Any, ClassVar, Protocol

from marshmallow import RAISE, Schema, fields, validate

MAX_ANSWER_CHARS = 10_000
MAX_ANSWER_ITEMS = 100
# Bounded so int() never meets a huge digit string (Python refuses over 4,300 digits).
_INTEGER_TEXT = re.compile(r"[+-]?\d{1,18}")

# A path inside a check, e.g. ("options", 2, "text"); the loader prefixes ("checks", i).
FieldPath = tuple[str | int, ...]
# How one learner sees one check: display position -> authored index, per shuffled list.
Layout = dict[str, list[int]]


class InvalidResponse(ValueError):
    """The learner's response cannot be graded; the message says why in plain words."""


@dataclass(frozen=True)
class Grade:
    """The result of grading one response to one check.

    `normalized_response` and `expected` are in authored terms (option indexes as written in
    the YAML), whatever order the learner saw; `verdicts` says, per authored option or item,
    how the learner fared ("picked_right", "picked_wrong", "missed", "left_out", "right",
    "wrong").
    """

    score: float
    correct: bool
    feedback: list[str] = field(default_factory=list)
    expected: object = None
    normalized_response: object = None
    rating: str | None = None
    verdicts: tuple[str, ...] = ()
    raw_score: float | None = None  # before hint penalties; None when no hint was used
    hints_used: int = 0
    tries_used: int = 1
    tries_left: int = 0
    # False while the learner may still try again: the answer is not revealed or recorded.
    final: bool = True


class FormData(Protocol):
    """What a form parser reads: werkzeug's MultiDict, or any mapping with getlist."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def getlist(self, key: str) -> list[str]: ...


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


def text_field(required: bool = True, max_length: int = 50_000) -> fields.String:
    """A markdown or plain text field of bounded length."""
    return fields.String(
        required=required,
        validate=validate.Length(
            min=1 if required else 0, max=max_length, error="must be 1 to {max} characters"
        ),
    )


class CheckBaseSchema(StrictSchema):
    """Fields every check has: a prompt, optional feedback and optional hints."""

    kind = fields.String(required=True)
    prompt = text_field(max_length=5_000)
    feedback = text_field(required=False, max_length=5_000)
    # Revealed one at a time on request; each one revealed takes `hint_penalty` off the score.
    hints = fields.List(
        text_field(max_length=2_000), validate=validate.Length(max=5, error="at most 5 hints")
    )
    hint_penalty = fields.Float(
        allow_nan=False, validate=validate.Range(min=0, max=1, error="must be between 0 and 1")
    )


class RetriesSchema(CheckBaseSchema):
    """A check a learner may answer several times before the answer is revealed."""

    tries = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=10, error="must be from 1 to 10")
    )


DEFAULT_TRIES = 2
DEFAULT_HINT_PENALTY = 0.25


def check_feedback(check: Mapping[str, Any]) -> list[str]:
    text = check.get("feedback")
    return [text] if isinstance(text, str) and text.strip() else []


def integer_choice(value: object, count: int, noun: str = "option") -> int:
    """Turn one chosen position (an int or a string of digits) into an index in range."""
    # bool is an int subclass, but True as "option 1" is a client bug, not an answer.
    if isinstance(value, bool):
        raise InvalidResponse(f"choose an {noun} by its number (0–{count - 1}), not {value}")
    if isinstance(value, int):
        index = value
    elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        index = int(value.strip())
    else:
        raise InvalidResponse(
            f"choose an {noun} by its number (0–{count - 1}), not {str(value)[:40]!r}"
        )
    if not 0 <= index < count:
        raise InvalidResponse(f"{noun} {index} does not exist; choose 0–{count - 1}")
    return index


def shuffled_positions(count: int, rng: Random, pinned: Sequence[int] = ()) -> list[int]:
    """A permutation of range(count) drawn from `rng`; indexes in `pinned` keep their place."""
    pinned_set = set(pinned)
    free = [i for i in range(count) if i not in pinned_set]
    moved = free[:]
    rng.shuffle(moved)
    if len(free) > 1 and moved == free:
        # An unshuffled list would show the authored order: rotate so it never does.
        moved = moved[1:] + moved[:1]
    order = list(range(count))
    for slot, index in zip(free, moved, strict=True):
        order[slot] = index
    return order


def valid_layout(layout: object, name: str, count: int) -> list[int]:
    """The layout list `name`, or the authored order when it is missing or does not fit."""
    order = layout.get(name) if isinstance(layout, Mapping) else None
    if isinstance(order, list) and sorted(order) == list(range(count)):
        return order
    return list(range(count))


class CheckKind:
    """One kind of check. Subclasses set `name`, `schema` and override what differs."""

    name: ClassVar[str]
    schema: ClassVar[type[CheckBaseSchema]]
    label: ClassVar[str]  # for authors and the dashboard, e.g. "single choice"
    # Graded by the machine (False: the learner rates themselves against a model answer).
    automatic: ClassVar[bool] = True
    # Whether a wrong answer may be tried again before the answer is revealed.
    allows_retries: ClassVar[bool] = False
    # Lists that are shown to each learner in their own order (names of layout entries).
    shuffled: ClassVar[tuple[str, ...]] = ()
    # The shuffled list that a grade's `verdicts` are indexed by (None: not shuffled).
    verdicts_follow: ClassVar[str | None] = None
    # What the learner is asked to enter, shown beside the field.
    format_hint: ClassVar[str] = ""
    # Number fields that may be written as expressions of a question's params (variants).
    number_fields: ClassVar[tuple[str, ...]] = ()

    @property
    def template(self) -> str:
        return f"checks/{self.name}.html"

    def markdown_fields(self, check: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str]]:
        """Every markdown text of the check, with its path inside the check."""
        for name in ("prompt", "feedback"):
            if check.get(name):
                yield (name,), check[name]
        for index, hint in enumerate(check.get("hints") or ()):
            yield ("hints", index), hint

    def present(self, check: Mapping[str, Any], rng: Random) -> Layout:
        """This learner's layout of the check (empty when nothing is shuffled)."""
        return {}

    def parse_form(self, check: Mapping[str, Any], form: FormData) -> object:
        """The response as the check's form sent it, in displayed terms."""
        value = form.get("response")
        if value is None or not str(value).strip():
            raise InvalidResponse(self.empty_message)
        return value

    empty_message: ClassVar[str] = "Enter your answer."

    def from_display(self, check: Mapping[str, Any], layout: Layout, response: object) -> object:
        """Translate a response in displayed positions into authored indexes."""
        return response

    def to_display(self, check: Mapping[str, Any], layout: Layout, value: object) -> object:
        """Translate an authored value (response or key) into displayed positions."""
        return value

    def grade(self, check: Mapping[str, Any], response: object, rating: str | None) -> Grade:
        """Grade an authored-terms `response`; raise InvalidResponse if it cannot be graded."""
        raise NotImplementedError

    # Fields of the public view beyond the common ones, for the API's schema.
    public_fields: ClassVar[dict[str, fields.Field]] = {}

    def public(self, check: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
        """The check as a learner's client may see it: displayed order, no answer key."""
        return {
            "kind": self.name,
            "prompt": check.get("prompt", ""),
            "prompt_html": check.get("prompt_html", ""),
            "format": self.format_hint,
            "tries": allowed_tries(check, self),
            "hints_html": list(check.get("hints_html") or check.get("hints") or []),
            "hint_penalty": hint_penalty(check),
            **self.public_extra(check, layout),
        }

    def public_extra(self, check: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
        return {}

    def variant_problems(self, check: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str]]:
        """Problems of one drawn variant of the check (texts substituted with their `_html`,
        number fields evaluated), checked by `content check`: e.g. a distractor that renders
        the same as the key. Paths are inside the check."""
        return iter(())

    def key_response(self, check: Mapping[str, Any]) -> object:
        """A response (authored terms) that scores full marks; None if there is none."""
        return None

    def key_text(self, check: Mapping[str, Any]) -> str:
        """The key in words, for authors (e.g. `content variants`)."""
        key = self.key_response(check)
        return "" if key is None else str(key)


def allowed_tries(check: Mapping[str, Any], kind: CheckKind) -> int:
    """How many answers the learner may give before the answer is revealed."""
    if not kind.allows_retries:
        return 1
    return int(check.get("tries") or DEFAULT_TRIES)


def hint_penalty(check: Mapping[str, Any]) -> float:
    """The score each revealed hint takes off."""
    value = check.get("hint_penalty")
    return DEFAULT_HINT_PENALTY if value is None else float(value)
