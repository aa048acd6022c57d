"""Questions and topics, read-only."""

from __future__ import annotations

from flask_smorest import Blueprint

from quizapp.domain.grading import check_id, resolve_check
from quizapp.services import questions as question_service
from quizapp.web.api.documented import MOVED, RETIRED_QUESTION, documented_errors, no_such
from quizapp.web.api.schemas import QuestionListArgs, QuestionListOut, QuestionOut, TopicOut
from quizapp.web.check_views import learner_key, learner_question


class _QuestionWithRelated:
    """The question as the response schema reads it, with its related cards beside it."""

    def __init__(self, question, related, learner: str) -> None:
        # A question with params comes in this learner's variant: texts, checks, numbers.
        question = learner_question(question, learner)
        self._question = question
        self.related = related
        epoch = getattr(question, "variant_epoch", 0)
        resolved = [
            resolve_check(check, learner, check_id(question.slug, index), epoch=epoch)
            for index, check in enumerate(question.checks)
        ]
        self.public_checks = [
            {**check.public(), "index": index} for index, check in enumerate(resolved)
        ]
        self.variant = next((check.variant for check in resolved if check.variant), None)

    def __getattr__(self, name: str):
        return getattr(self._question, name)


blp = Blueprint("api_questions", __name__, description="The question bank")


@blp.get("/questions")
@blp.arguments(QuestionListArgs, location="query")
@blp.response(200, QuestionListOut)
def list_questions(args: dict):
    """List active questions, filtered by topic, difficulty and a text search."""
    page = question_service.list_questions(
        topic=args.get("topic"),
        difficulty=args.get("difficulty"),
        search=args.get("q"),
        page=args["page"],
        per_page=args["per_page"],
    )
    return {
        "items": page.items,
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "pages": page.pages,
    }


@blp.get("/questions/<slug>")
@blp.response(200, QuestionOut)
@documented_errors(blp, MOVED, no_such("question"), RETIRED_QUESTION)
def get_question(slug: str):
    """One question with its rendered HTML, references, related questions and checks."""
    question = question_service.get_question(slug)
    return _QuestionWithRelated(
        question, question_service.related_questions(question), learner_key()
    )


@blp.get("/topics")
@blp.response(200, TopicOut(many=True))
def list_topics():
    """Every topic with its number of active questions."""
    return [
        {
            "slug": summary.topic.slug,
            "title": summary.topic.title,
            "description": summary.topic.description,
            "question_count": summary.question_count,
        }
        for summary in question_service.list_topics()
    ]
