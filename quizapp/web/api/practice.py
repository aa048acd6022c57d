"""What to answer next, topic practice sessions and the learner's state per card."""

from __future__ import annotations

from flask_login import current_user, login_required
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from quizapp.services import practice as practice_service
from quizapp.services import progress as progress_service
from quizapp.web.api.documented import API_SECURITY, documented_errors, no_such, signed_in

blp = Blueprint(
    "api_practice", __name__, description="Next question, practice sessions, card states"
)


class CardStateOut(Schema):
    status = fields.String(metadata={"description": "new, answered or due"})
    level = fields.String(metadata={"description": "mastery level, e.g. not_started, familiar"})
    label = fields.String()
    due_at = fields.DateTime(allow_none=True)
    last_answered_at = fields.DateTime(allow_none=True)


class PlannedQuestionOut(Schema):
    question = fields.String()
    title = fields.String()
    url = fields.String()
    state = fields.Nested(CardStateOut)


class NextArgs(Schema):
    after = fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "The question just answered: never suggested again at once"},
    )


class NextOut(Schema):
    question = fields.Nested(PlannedQuestionOut, allow_none=True)
    reason = fields.String(
        metadata={"description": "due, weakest_topic, new, start_here, or done (nothing left)"}
    )
    topic = fields.String(allow_none=True)


class PracticeArgs(Schema):
    size = fields.Integer(
        load_default=practice_service.DEFAULT_SESSION_SIZE,
        validate=validate.Range(min=1, max=practice_service.MAX_SESSION_SIZE),
    )


class PracticeOut(Schema):
    topic = fields.String()
    title = fields.String()
    size = fields.Integer()
    questions = fields.List(fields.Nested(PlannedQuestionOut))


class CardOut(CardStateOut):
    question = fields.String()


def _learner():
    return current_user if current_user.is_authenticated else None


def _planned(question, state) -> dict:
    return {
        "question": question.slug,
        "title": question.title,
        "url": f"/questions/{question.slug}",
        "state": state,
    }


@blp.get("/next-question")
@blp.doc(security=API_SECURITY)
@blp.arguments(NextArgs, location="query")
@blp.response(200, NextOut)
def next_question(args: dict):
    """The question to answer next: due first, then the weakest topic, then new ones.

    Without sign-in every question counts as new, so it suggests where to start."""
    after = args.get("after")
    suggestion = practice_service.next_question(_learner(), skip={after} if after else ())
    if suggestion is None:
        return {"question": None, "reason": "done", "topic": None}
    return {
        "question": _planned(suggestion.question, suggestion.state),
        "reason": suggestion.reason,
        "topic": suggestion.topic.slug if suggestion.topic else None,
    }


@blp.get("/topics/<slug>/practice")
@blp.doc(security=API_SECURITY)
@blp.arguments(PracticeArgs, location="query")
@blp.response(200, PracticeOut)
@documented_errors(blp, no_such("topic"))
def topic_practice(args: dict, slug: str):
    """A practice session on one topic: due questions first, then the weakest, then new."""
    plan = practice_service.plan_topic_practice(_learner(), slug, size=args["size"])
    return {
        "topic": plan.topic.slug,
        "title": plan.topic.title,
        "size": len(plan.items),
        "questions": [_planned(question, state) for question, state in plan.items],
    }


@blp.get("/me/cards")
@signed_in(blp)
@blp.response(200, CardOut(many=True))
@login_required
def my_cards():
    """Your state on every question you have answered (questions not listed are new)."""
    states = progress_service.card_states(current_user)
    slugs = progress_service.question_slugs(list(states))
    return [
        {"question": slugs[question_id], **vars(state)}
        for question_id, state in states.items()
        if question_id in slugs
    ]
