"""Marshmallow schemas of API responses and query arguments."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from quizapp.content.schemas import DIFFICULTIES
from quizapp.domain.check_kinds import CHECK_KINDS


class TopicOut(Schema):
    slug = fields.String()
    title = fields.String()
    description = fields.String()
    question_count = fields.Integer()


class ReferenceOut(Schema):
    title = fields.String()
    url = fields.String()
    authors = fields.String()
    year = fields.Integer()


class QuestionSummaryOut(Schema):
    slug = fields.String()
    title = fields.String()
    difficulty = fields.String()
    topics = fields.Method("topic_slugs")
    url = fields.Method("page_url")

    def topic_slugs(self, question) -> list[str]:
        return [topic.slug for topic in question.topics]

    def page_url(self, question) -> str:
        return f"/questions/{question.slug}"


def _check_fields() -> dict[str, fields.Field]:
    """The fields every check shows, then each kind's own (from the registry of kinds)."""
    common: dict[str, fields.Field] = {
        "index": fields.Integer(metadata={"description": "Send it back as `check`"}),
        "kind": fields.String(metadata={"enum": list(CHECK_KINDS)}),
        "prompt": fields.String(),
        "prompt_html": fields.String(),
        "format": fields.String(metadata={"description": "What to enter, in words"}),
        "tries": fields.Integer(
            metadata={"description": "Answers allowed before the answer is revealed"}
        ),
        "hints_html": fields.List(
            fields.String(),
            metadata={"description": "Hints, to reveal one at a time; send hints_used"},
        ),
        "hint_penalty": fields.Float(metadata={"description": "Score taken off per hint used"}),
    }
    for kind in CHECK_KINDS.values():
        for name, field in kind.public_fields.items():
            common.setdefault(name, field)
    return common


# Lists are in the order shown to the requesting learner; answers refer to those positions.
CheckOut = Schema.from_dict(_check_fields(), name="CheckOut")


class RelatedOut(Schema):
    slug = fields.String()
    title = fields.String()
    difficulty = fields.String()


class QuestionOut(QuestionSummaryOut):
    question_md = fields.String(data_key="question")
    question_html = fields.String()
    answer_md = fields.String(data_key="answer")
    answer_html = fields.String()
    explanation_md = fields.String(data_key="explanation")
    explanation_html = fields.String()
    references = fields.List(fields.Nested(ReferenceOut))
    related = fields.List(fields.Nested(RelatedOut))
    exercises = fields.List(fields.String(), attribute="exercise_slugs")
    aliases = fields.List(
        fields.String(), metadata={"description": "Former slugs; their URLs redirect here."}
    )
    # The key (`correct`, `answer`) is withheld: it is revealed only by grading.
    checks = fields.List(fields.Nested(CheckOut), attribute="public_checks")
    variant = fields.Dict(
        allow_none=True,
        metadata={
            "description": "For a question with params: the values drawn for you (texts and "
            "checks above are already in them); answers are graded in this variant"
        },
    )


class QuestionListArgs(Schema):
    topic = fields.String(validate=validate.Length(max=80))
    difficulty = fields.String(
        validate=validate.OneOf(DIFFICULTIES, error="must be one of easy, medium, hard")
    )
    q = fields.String(validate=validate.Length(max=200))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=24, validate=validate.Range(min=1, max=100))


class QuestionListOut(Schema):
    items = fields.List(fields.Nested(QuestionSummaryOut))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()
