"""Answers, progress, due reviews and export, for the signed-in learner (session or API token)."""

from __future__ import annotations

from flask import request
from flask_login import current_user, login_required
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from quizapp.services import learning as learning_service
from quizapp.services import personal_data
from quizapp.services import progress as progress_service

blp = Blueprint("api_learning", __name__, description="Answering questions and your progress")

API_SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]


class AttemptIn(Schema):
    check = fields.Raw(required=True, metadata={"description": "Index of the check (0-based)"})
    response = fields.Raw(
        required=True,
        metadata={"description": "Option index, list of indices, number or text"},
    )
    rating = fields.String(
        validate=validate.OneOf(["again", "hard", "good", "easy"]),
        metadata={"description": "Self-rating, for self_rated checks"},
    )
    elapsed_ms = fields.Integer(validate=validate.Range(min=0))
    idempotency_key = fields.String(validate=validate.Length(max=64))


class AttemptOut(Schema):
    question = fields.String()
    check = fields.Integer()
    kind = fields.String()
    score = fields.Float()
    correct = fields.Boolean()
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
@blp.alt_response(400, description="Bad check index or response")
@blp.alt_response(404, description="No such question")
@blp.alt_response(410, description="The question has been retired")
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
    )
    grade = result.grade
    return {
        "question": result.question.slug,
        "check": result.check_index,
        "kind": result.check["kind"],
        "score": grade.score,
        "correct": grade.correct,
        "rating": grade.rating,
        "feedback": grade.feedback,
        "expected": grade.expected,
        "stored": result.stored,
        "duplicate": result.duplicate,
        "attempt_id": result.attempt_id,
        "next_review_at": result.next_review_at,
    }


@blp.get("/me/progress")
@blp.doc(security=API_SECURITY)
@blp.response(200, ProgressOut)
@blp.alt_response(401, description="Not signed in")
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
@blp.doc(security=API_SECURITY)
@blp.response(200, DueOut(many=True))
@blp.alt_response(401, description="Not signed in")
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
@blp.doc(security=API_SECURITY)
@blp.response(200)
@blp.alt_response(401, description="Not signed in")
@login_required
def my_export():
    """Everything stored about you, as JSON."""
    return personal_data.export_user_data(current_user)
