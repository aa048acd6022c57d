"""Answers, progress, due reviews and export, for the signed-in learner (session or API token)."""

from __future__ import annotations

from flask import request
from flask_login import current_user, login_required
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from quizapp.services import learning as learning_service
from quizapp.services import personal_data
from quizapp.services import progress as progress_service
from quizapp.web.api.documented import (
    MOVED_REPEAT,
    RETIRED_QUESTION,
    bad_request,
    documented_errors,
    no_such,
    signed_in,
)
from quizapp.web.check_views import learner_key

blp = Blueprint("api_learning", __name__, description="Answering questions and your progress")


class AttemptIn(Schema):
    check = fields.Raw(required=True, metadata={"description": "Index of the check (0-based)"})
    response = fields.Raw(
        required=True,
        metadata={
            "description": "By kind: single_choice the shown position of the option; "
            "multiple_choice a list of shown positions; numeric a number or text (0.25, 1/4, "
            "0,25, 2.5e-3, 2.5×10^-3); short_text and self_rated text; ordering the shown "
            "indexes of the items in your order; matching, per left item, the shown index of "
            "its right item. Positions are those of GET /questions/<slug> for you."
        },
    )
    rating = fields.String(
        validate=validate.OneOf(["again", "hard", "good", "easy"]),
        metadata={"description": "Self-rating, for self_rated checks"},
    )
    elapsed_ms = fields.Integer(validate=validate.Range(min=0))
    hints_used = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=10),
        metadata={"description": "How many of the check's hints you revealed"},
    )
    tries_used = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=10),
        metadata={"description": "Which try this is (1 the first); see `tries` of the check"},
    )
    idempotency_key = fields.String(validate=validate.Length(max=64))


class AttemptOut(Schema):
    question = fields.String()
    check = fields.Integer()
    kind = fields.String()
    response = fields.Raw(metadata={"description": "Your response as graded, in shown positions"})
    score = fields.Float(metadata={"description": "After hint penalties"})
    raw_score = fields.Float(
        allow_none=True, metadata={"description": "Before hint penalties (null: no hint used)"}
    )
    correct = fields.Boolean()
    final = fields.Boolean(
        metadata={"description": "False: wrong with tries left; not stored, answer not shown"}
    )
    tries_left = fields.Integer()
    hints_used = fields.Integer()
    verdicts = fields.List(
        fields.String(),
        metadata={
            "description": "Per option or item in shown order: picked_right, picked_wrong, "
            "missed, left_out (choices) or right, wrong (ordering, matching)"
        },
    )
    rating = fields.String(allow_none=True)
    feedback = fields.List(fields.String())
    expected = fields.Raw()
    stored = fields.Boolean()
    duplicate = fields.Boolean()
    attempt_id = fields.Integer(allow_none=True)
    next_review_at = fields.DateTime(allow_none=True)


class TopicProgressOut(Schema):
    topic = fields.String()
    title = fields.String()
    level = fields.String()
    label = fields.String()
    question_count = fields.Integer()
    answered = fields.Integer(metadata={"description": "questions of the topic answered"})
    mastered = fields.Integer(metadata={"description": "questions of the topic mastered"})


class DayOut(Schema):
    day = fields.Date()
    accuracy = fields.Float()
    answers = fields.Integer()


class ProgressOut(Schema):
    topics = fields.List(fields.Nested(TopicProgressOut))
    accuracy = fields.List(fields.Nested(DayOut))
    streak = fields.Integer()
    due_now = fields.Integer()
    due_today = fields.Integer()
    attempts_total = fields.Integer()
    accuracy_total = fields.Float(allow_none=True)


class DueOut(Schema):
    question = fields.String()
    title = fields.String()
    due_at = fields.DateTime()
    reviews = fields.Integer()


@blp.post("/questions/<slug>/attempts")
@blp.arguments(AttemptIn)
@blp.response(201, AttemptOut)
@documented_errors(
    blp,
    MOVED_REPEAT,
    bad_request("Bad check index or response"),
    no_such("question"),
    RETIRED_QUESTION,
)
def create_attempt(body: dict, slug: str):
    """Grade an answer; a signed-in learner's answer is stored and reschedules the card."""
    key = body.get("idempotency_key") or request.headers.get("Idempotency-Key")
    result = learning_service.submit_answer(
        current_user if current_user.is_authenticated else None,
        slug,
        body["check"],
        body["response"],
        rating=body.get("rating"),
        elapsed_ms=body.get("elapsed_ms"),
        idempotency_key=key,
        learner_key=learner_key(),
        hints_used=body["hints_used"],
        tries_used=body["tries_used"],
    )
    grade = result.grade
    resolved = result.resolved
    return {
        "question": result.question.slug,
        "check": result.check_index,
        "kind": result.check["kind"],
        "response": resolved.to_display(grade.normalized_response),
        "score": grade.score,
        "raw_score": grade.raw_score,
        "correct": grade.correct,
        "final": grade.final,
        "tries_left": grade.tries_left,
        "hints_used": grade.hints_used,
        "verdicts": resolved.display_verdicts(grade),
        "rating": grade.rating,
        "feedback": grade.feedback,
        # In the positions this learner was shown, like the response they sent.
        "expected": resolved.to_display(grade.expected),
        "stored": result.stored,
        "duplicate": result.duplicate,
        "attempt_id": result.attempt_id,
        "next_review_at": result.next_review_at,
    }


@blp.get("/me/progress")
@signed_in(blp)
@blp.response(200, ProgressOut)
@login_required
def my_progress():
    """Mastery per topic, accuracy per day, streak and due counts."""
    progress = progress_service.learner_progress(current_user)
    return {
        "topics": [
            {
                "topic": row.topic.slug,
                "title": row.topic.title,
                "level": row.level,
                "label": row.label,
                "question_count": row.question_count,
                "answered": row.question_count - row.levels.get("not_started", 0),
                "mastered": row.levels.get("mastered", 0),
            }
            for row in progress.topics
        ],
        "accuracy": [
            {"day": day, "accuracy": acc, "answers": count} for day, acc, count in progress.accuracy
        ],
        "streak": progress.streak,
        "due_now": progress.due_now,
        "due_today": progress.due_today,
        "attempts_total": progress.attempts_total,
        "accuracy_total": progress.accuracy_total,
    }


@blp.get("/me/reviews/due")
@signed_in(blp)
@blp.response(200, DueOut(many=True))
@login_required
def my_due_reviews():
    """Cards due now, most overdue first."""
    return [
        {
            "question": card.question.slug,
            "title": card.question.title,
            "due_at": card.due_at,
            "reviews": card.reviews,
        }
        for card in learning_service.due_cards(current_user)
    ]


@blp.get("/me/export")
@signed_in(blp)
@blp.response(200)
@login_required
def my_export():
    """Everything stored about you, as JSON."""
    return personal_data.export_user_data(current_user)
