"""Marshmallow schemas of API responses and query arguments."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from quizapp.content.schemas import DIFFICULTIES


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


class OptionOut(Schema):
    text = fields.String()
    text_html = fields.String()


class CheckOut(Schema):
    index = fields.Integer()
    kind = fields.String()
    prompt = fields.String()
    prompt_html = fields.String()
    options = fields.List(fields.Nested(OptionOut))
    unit = fields.String()
    scoring = fields.String()


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
    checks = fields.Method("public_checks")

    def public_checks(self, question) -> list[dict]:
        # The key (`correct`, `answer`) is withheld: it is revealed only by grading.
        return CheckOut(many=True).dump(
            [{**check, "index": index} for index, check in enumerate(question.checks)]
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
