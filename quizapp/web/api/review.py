"""The review session, memory, review log and schedule fits as JSON, for the signed-in learner."""

from __future__ import annotations

from flask import Response, jsonify, request
from flask_login import current_user, login_required
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from quizapp.domain.scheduling import RATINGS, format_interval, retrievability
from quizapp.models.base import utcnow
from quizapp.services import exercise_cards
from quizapp.services import memory as memory_service
from quizapp.services import review as review_service
from quizapp.services import revlog as revlog_service
from quizapp.services import schedule_fits as fit_service
from quizapp.services.card_kinds import kind_of_content
from quizapp.services.learning import current_parameters
from quizapp.services.simulations import get_exercise
from quizapp.web.api.documented import bad_request, no_such, signed_in

blp = Blueprint("api_review", __name__, description="Reviewing cards, your memory and schedule")

# login_required sits right under each route, so a visitor gets 401 before any body check.


class QueueCardOut(Schema):
    question = fields.String(metadata={"description": "The question's slug, or the exercise's"})
    kind = fields.String(metadata={"description": "question, or exercise (run it and predict)"})
    title = fields.String()
    topic = fields.String()
    new = fields.Boolean()
    due_at = fields.DateTime(allow_none=True)
    retrievability = fields.Float(allow_none=True)


class QueueOut(Schema):
    cards = fields.List(fields.Nested(QueueCardOut))
    due_total = fields.Integer()
    new_available = fields.Integer()
    reviews_done_today = fields.Integer()
    new_done_today = fields.Integer()
    new_cards_per_day = fields.Integer()
    max_reviews_per_day = fields.Integer()
    next_due_at = fields.DateTime(allow_none=True)


class AnswerIn(Schema):
    question = fields.String(required=True, metadata={"description": "Question slug"})
    check = fields.Integer(metadata={"description": "Index of the card's automatic check"})
    response = fields.Raw(
        metadata={
            "description": "Answer to that check, by the positions this learner is shown (the "
            "order GET /api/v1/questions/{slug} gives them), as for an attempt"
        }
    )
    elapsed_ms = fields.Integer(validate=validate.Range(min=0))


class RatingOptionOut(Schema):
    rating = fields.String()
    key = fields.String()
    interval = fields.String(metadata={"description": 'Next interval if rated so, e.g. "3 d"'})


class RevealOut(Schema):
    question = fields.String()
    check = fields.Integer(allow_none=True)
    score = fields.Float(allow_none=True)
    correct = fields.Boolean(allow_none=True)
    feedback = fields.List(fields.String())
    suggested = fields.String(allow_none=True)
    answer_html = fields.String()
    options = fields.List(fields.Nested(RatingOptionOut))
    exercises = fields.List(fields.String())


class RateIn(AnswerIn):
    rating = fields.String(required=True, validate=validate.OneOf(RATINGS))
    idempotency_key = fields.String(validate=validate.Length(max=64))


class RateOut(Schema):
    review_id = fields.Integer()
    question = fields.String()
    rating = fields.String()
    next_review_at = fields.DateTime()
    interval = fields.String()
    leech = fields.Boolean()
    suspended = fields.Boolean()
    duplicate = fields.Boolean()


class ExerciseRevealIn(Schema):
    prediction = fields.String(
        allow_none=True, metadata={"description": "vanishing, healthy or exploding"}
    )


class ExerciseRevealOut(Schema):
    exercise = fields.String()
    choices = fields.Dict(metadata={"description": "The configuration the card asks about"})
    prediction = fields.String(allow_none=True)
    verdict = fields.String(allow_none=True, metadata={"description": "None: never run"})
    correct = fields.Boolean(allow_none=True)
    suggested = fields.String(allow_none=True)
    feedback_html = fields.String(allow_none=True)
    card_version = fields.Integer()
    options = fields.List(fields.Nested(RatingOptionOut))


class ExerciseRateIn(Schema):
    rating = fields.String(required=True, validate=validate.OneOf(RATINGS))
    elapsed_ms = fields.Integer(validate=validate.Range(min=0))
    card_version = fields.Integer(
        metadata={"description": "The card_version revealed: a repeated rating counts once"}
    )


class ExerciseRateOut(Schema):
    review_id = fields.Integer()
    exercise = fields.String()
    rating = fields.String()
    next_review_at = fields.DateTime()
    interval = fields.String()
    duplicate = fields.Boolean()


class UndoIn(Schema):
    review = fields.Integer(metadata={"description": "The rating to undo: must be the last"})


class UndoOut(Schema):
    question = fields.String(metadata={"description": "The card's question (or exercise) slug"})
    kind = fields.String()


class LeechOut(Schema):
    question = fields.String()
    title = fields.String()
    lapses = fields.Integer()
    suspended = fields.Boolean()
    easier = fields.List(fields.String())
    exercises = fields.List(fields.String())


class LeechActionIn(Schema):
    action = fields.String(required=True, validate=validate.OneOf(review_service.LEECH_ACTIONS))


class SettingsSchema(Schema):
    new_cards_per_day = fields.Integer(validate=validate.Range(0, review_service.MAX_NEW_PER_DAY))
    max_reviews_per_day = fields.Integer(
        validate=validate.Range(0, review_service.MAX_REVIEWS_PER_DAY)
    )
    leech_threshold = fields.Integer(validate=validate.Range(*review_service.LEECH_THRESHOLD_RANGE))


class CardMemoryOut(Schema):
    question = fields.String()
    retrievability = fields.Float(allow_none=True)
    due_at = fields.DateTime()
    last_review_at = fields.DateTime(allow_none=True)
    stability = fields.Float(allow_none=True)
    leech = fields.Boolean()


class DayCountOut(Schema):
    day = fields.Date()
    count = fields.Integer()


class MemoryOut(Schema):
    mean_retrievability = fields.Float(allow_none=True)
    cards = fields.List(fields.Nested(CardMemoryOut))
    forecast = fields.List(fields.Nested(DayCountOut), metadata={"description": "Due per day"})
    activity = fields.List(fields.Nested(DayCountOut), metadata={"description": "Answers per day"})
    leeches = fields.Integer()


class FitOut(Schema):
    id = fields.String()
    version = fields.Integer()
    status = fields.String()
    trigger = fields.String()
    review_count = fields.Integer()
    parameters = fields.List(fields.Float(), allow_none=True)
    log_loss_before = fields.Float(allow_none=True)
    log_loss_after = fields.Float(allow_none=True)
    rmse_before = fields.Float(allow_none=True)
    rmse_after = fields.Float(allow_none=True)
    recommended_retention = fields.Float(allow_none=True)
    error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class ScheduleOut(Schema):
    reviews = fields.Integer()
    spaced_reviews = fields.Integer()
    threshold = fields.Integer()
    ready = fields.Boolean()
    current = fields.Nested(FitOut, allow_none=True)
    fits = fields.List(fields.Nested(FitOut))


class ImportOut(Schema):
    imported = fields.Integer()
    skipped = fields.Integer()
    cards = fields.Integer()


@blp.get("/me/review/queue")
@login_required
@signed_in(blp)
@blp.response(200, QueueOut)
def review_queue():
    """Today's review queue in order: due cards first, then new ones, interleaved by topic."""
    now = utcnow()
    queue = review_service.review_queue(current_user, now)
    parameters = current_parameters(current_user)
    return {
        "cards": [
            {
                "question": item.question.slug,
                "kind": item.question.kind,
                "title": item.question.title,
                "topic": item.topic,
                "new": item.is_new,
                "due_at": item.card.due_at if item.card else None,
                "retrievability": retrievability(item.card.state, now, parameters)
                if item.card
                else None,
            }
            for item in queue.cards
        ],
        "due_total": queue.due_total,
        "new_available": queue.new_available,
        "reviews_done_today": queue.reviews_done_today,
        "new_done_today": queue.new_done_today,
        "new_cards_per_day": current_user.new_cards_per_day,
        "max_reviews_per_day": current_user.max_reviews_per_day,
        "next_due_at": queue.next_due_at,
    }


@blp.post("/me/review/reveal")
@login_required
@signed_in(blp, bad_request("Bad check or response"), no_such("question"))
@blp.arguments(AnswerIn)
@blp.response(200, RevealOut)
def reveal(body: dict):
    """Turn a card over: grade the answer to its check (if given), suggest a rating, and give
    each rating's next interval. Nothing is stored."""
    shown = review_service.reveal_card(
        current_user, body["question"], body.get("check"), body.get("response"),
        body.get("elapsed_ms"),
    )  # fmt: skip
    return {
        "question": shown.question.slug,
        "check": shown.check_index,
        "score": shown.grade.score if shown.grade else None,
        "correct": shown.grade.correct if shown.grade else None,
        "feedback": shown.grade.feedback if shown.grade else [],
        "suggested": shown.suggested,
        "answer_html": shown.question.answer_html,
        "options": [
            {"rating": o.rating, "key": o.key, "interval": o.interval} for o in shown.options
        ],
        "exercises": [exercise.slug for exercise in shown.exercises],
    }


@blp.post("/me/review/ratings")
@login_required
@signed_in(
    blp,
    bad_request("Bad rating, check or response"),
    no_such("question"),
    (409, "The card changed under you; rate again"),
)
@blp.arguments(RateIn)
@blp.response(201, RateOut)
def rate(body: dict):
    """Rate a card Again/Hard/Good/Easy; it is rescheduled and the rating logged."""
    key = body.get("idempotency_key") or request.headers.get("Idempotency-Key")
    result = review_service.rate_card(
        current_user,
        body["question"],
        body["rating"],
        check_index=body.get("check"),
        response=body.get("response"),
        elapsed_ms=body.get("elapsed_ms"),
        idempotency_key=key,
    )
    return {
        "review_id": result.log.id,
        "question": body["question"],
        "rating": result.rating,
        "next_review_at": result.card.due_at,
        "interval": format_interval(result.card.due_at - utcnow()),
        "leech": result.card.leech,
        "suspended": result.card.suspended_at is not None,
        "duplicate": result.duplicate,
    }


@blp.post("/me/review/undo")
@login_required
@signed_in(blp, (404, "Nothing to undo"), (409, "That is not your last rating"))
@blp.arguments(UndoIn)
@blp.response(200, UndoOut)
def undo(body: dict):
    """Undo your last rating: its attempt, the card's state and the log entry."""
    rated = review_service.undo_rating(current_user, body.get("review"))
    return {"question": rated.slug, "kind": kind_of_content(rated).name}


@blp.post("/me/review/exercises/<slug>/reveal")
@login_required
@signed_in(
    blp, bad_request("Bad prediction"), (404, "No such exercise, or it is not in your review")
)
@blp.arguments(ExerciseRevealIn)
@blp.response(200, ExerciseRevealOut)
def reveal_exercise(body: dict, slug: str):
    """Turn an exercise card over: the recorded result of its configuration, whether your
    prediction was right, a suggested rating and each rating's next interval. Nothing stored."""
    shown = exercise_cards.reveal_exercise(current_user, get_exercise(slug), body.get("prediction"))
    return {
        "exercise": slug,
        "choices": shown.card.choices or {},
        "prediction": shown.prediction,
        "verdict": shown.verdict,
        "correct": shown.correct,
        "suggested": shown.suggested,
        "feedback_html": shown.feedback_html,
        "card_version": shown.card.version,
        "options": [
            {"rating": o.rating, "key": o.key, "interval": o.interval} for o in shown.options
        ],
    }


@blp.post("/me/review/exercises/<slug>/ratings")
@login_required
@signed_in(
    blp,
    bad_request("Bad rating"),
    (404, "No such exercise, or it is not in your review"),
    (409, "The card changed under you; rate again"),
)
@blp.arguments(ExerciseRateIn)
@blp.response(201, ExerciseRateOut)
def rate_exercise(body: dict, slug: str):
    """Rate an exercise card Again/Hard/Good/Easy; it is rescheduled and the rating logged."""
    result = exercise_cards.rate_exercise(
        current_user,
        get_exercise(slug),
        body["rating"],
        elapsed_ms=body.get("elapsed_ms"),
        card_version=body.get("card_version"),
    )
    return {
        "review_id": result.log.id,
        "exercise": slug,
        "rating": result.rating,
        "next_review_at": result.card.due_at,
        "interval": format_interval(result.card.due_at - utcnow()),
        "duplicate": result.duplicate,
    }


@blp.get("/me/review/leeches")
@login_required
@signed_in(blp)
@blp.response(200, LeechOut(many=True))
def leeches():
    """Your leeches, with easier related questions and linked exercises."""
    return [
        {
            "question": leech.question.slug,
            "title": leech.question.title,
            "lapses": leech.card.lapses,
            "suspended": leech.card.suspended_at is not None,
            "easier": [q.slug for q in leech.easier],
            "exercises": [e.slug for e in leech.exercises],
        }
        for leech in review_service.leeches(current_user)
    ]


@blp.post("/me/review/leeches/<slug>")
@login_required
@signed_in(blp, (404, "Not one of your leeches"))
@blp.arguments(LeechActionIn)
@blp.response(204)
def resolve_leech(body: dict, slug: str):
    """resume (back into review), reset (learn anew) or keep (stay suspended)."""
    review_service.resolve_leech(current_user, slug, body["action"])


@blp.get("/me/review/settings")
@login_required
@signed_in(blp)
@blp.response(200, SettingsSchema)
def get_settings():
    """Your daily limits and leech threshold."""
    return review_service.review_settings(current_user)


@blp.put("/me/review/settings")
@login_required
@signed_in(blp, bad_request("A value out of range"))
@blp.arguments(SettingsSchema)
@blp.response(200, SettingsSchema)
def put_settings(body: dict):
    """Change your daily limits and leech threshold (fields left out stay as they are)."""
    return review_service.update_review_settings(current_user, body)


@blp.get("/me/memory")
@login_required
@signed_in(blp)
@blp.response(200, MemoryOut)
def memory():
    """Recall now per card, reviews due per day for 30 days, answers per day for a year."""
    overview = memory_service.memory_overview(current_user)
    return {
        "mean_retrievability": overview.mean_recall,
        "cards": [
            {
                "question": item.question.slug,
                "retrievability": item.recall,
                "due_at": item.card.due_at,
                "last_review_at": item.card.last_review_at,
                "stability": item.card.stability,
                "leech": item.card.leech,
            }
            for item in overview.cards
        ],
        "forecast": [{"day": day, "count": count} for day, count in overview.forecast],
        "activity": [
            {"day": d.day, "count": d.answers}
            for week in overview.calendar
            for d in week
            if d.in_range and d.answers
        ],
        "leeches": overview.leeches,
    }


@blp.get("/me/review-log")
@login_required
@signed_in(blp)
@blp.doc(
    responses={
        "200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
def export_revlog():
    """Your review log as CSV in the FSRS benchmark layout (card_id is the question slug, or
    `exercise:` and the slug for an exercise's card)."""
    return Response(revlog_service.export_revlog(current_user), mimetype="text/csv")


@blp.post("/me/review-log")
@login_required
@signed_in(blp, bad_request("Bad CSV: every problem with its line number"))
@blp.doc(
    requestBody={"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True},
)
@blp.response(200, ImportOut)
def import_revlog():
    """Import a revlog CSV (the request body) for cards that exist here: all or nothing."""
    try:
        result = revlog_service.import_revlog(current_user, request.get_data())
    except revlog_service.RevlogInvalid as error:
        body = {"code": 400, "status": "Bad request", "message": error.message,
                "problems": error.problems}  # fmt: skip
        return jsonify(body), 400
    return {"imported": result.imported, "skipped": result.skipped, "cards": result.cards}


def _fit(fit) -> dict:
    return {name: getattr(fit, name) for name in FitOut().fields}


@blp.get("/me/schedule")
@login_required
@signed_in(blp)
@blp.response(200, ScheduleOut)
def schedule():
    """Your FSRS parameters: reviews counted against the threshold, every fitted version."""
    status = fit_service.fit_status(current_user)
    return {
        "reviews": status.reviews,
        "spaced_reviews": status.spaced_reviews,
        "threshold": status.threshold,
        "ready": status.ready,
        "current": _fit(status.current) if status.current else None,
        "fits": [_fit(fit) for fit in status.fits],
    }


@blp.post("/me/schedule/fits")
@login_required
@signed_in(blp, (409, "Not enough reviews yet"), (503, "Workers busy"))
@blp.response(202, FitOut)
def start_fit():
    """Fit your FSRS parameters to your reviews, in a worker; poll the fit for its result."""
    return _fit(fit_service.start_fit(current_user))


@blp.get("/me/schedule/fits/<fit_id>")
@login_required
@signed_in(blp, no_such("fit"))
@blp.response(200, FitOut)
def get_fit(fit_id: str):
    """One fit: queued, running, done (with its figures) or failed (with the reason)."""
    return _fit(fit_service.get_fit(current_user, fit_id))
