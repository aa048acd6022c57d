"""Answering on a question page, the Review page, the dashboard, mistakes and data export."""

from __future__ import annotations

import json
import time
import uuid

from flask import Blueprint, Flask, Response, render_template, request
from flask_login import current_user, login_required

from quizapp.domain.grading import MAX_ANSWER_CHARS
from quizapp.services import learning as learning_service
from quizapp.services import personal_data
from quizapp.services import progress as progress_service
from quizapp.services import questions as question_service
from quizapp.services import reports as report_service
from quizapp.services.errors import InvalidInput
from quizapp.web.charts import accuracy_chart
from quizapp.web.question_page import render_question_page

learning = Blueprint("learning", __name__)


def init_learning(app: Flask) -> None:
    @app.context_processor
    def inject_due_count():
        if current_user.is_authenticated:
            return {"due_count": learning_service.due_count(current_user)}
        return {"due_count": 0}

    @app.context_processor
    def inject_form_helpers():
        return {"new_form_key": lambda: uuid.uuid4().hex, "now_ms": lambda: int(time.time() * 1000)}


def _form_response(check: dict) -> object:
    """Read the learner's answer from the form in the shape the check kind expects."""
    kind = check["kind"]
    if kind == "multiple_choice":
        return request.form.getlist("response")
    value = request.form.get("response")
    if value is None or not value.strip():
        if kind == "single_choice":
            raise InvalidInput("Choose one of the options.", field="response")
        if kind == "numeric":
            raise InvalidInput("Enter a number.", field="response")
        raise InvalidInput("Write your answer first.", field="response")
    return value


def _elapsed_ms() -> int | None:
    started = request.form.get("started_ms", "")
    if not started.isdigit():
        return None
    return int(time.time() * 1000) - int(started)


@learning.post("/questions/<slug>/answer")
def answer(slug: str):
    question = question_service.get_question(slug)
    raw_index = request.form.get("check", "")
    if not raw_index.isdigit() or int(raw_index) >= len(question.checks):
        raise InvalidInput("That check does not exist on this question.", field="check")
    check_index = int(raw_index)
    check = question.checks[check_index]
    rating = request.form.get("rating") or None
    # A self-rated answer is graded only once the learner has seen the model answer and rated.
    if check["kind"] == "self_rated" and rating is None:
        text = _form_response(check)
        if len(text.strip()) > MAX_ANSWER_CHARS:
            raise InvalidInput(
                f"answer too long: at most {MAX_ANSWER_CHARS:,} characters", field="response"
            )
        return _render_question(
            slug,
            pending={"check": check_index, "text": text},
            return_to=request.form.get("return_to"),
        )
    result = learning_service.submit_answer(
        current_user if current_user.is_authenticated else None,
        slug,
        check_index,
        _form_response(check),
        rating=rating,
        elapsed_ms=_elapsed_ms(),
        idempotency_key=request.form.get("form_key") or None,
    )
    if request.form.get("return_to") == "review":
        return render_template("learning/review_result.html", result=result)
    return _render_question(slug, result=result)


def _render_question(slug: str, result=None, pending=None, return_to=None):
    # The self-rating step of a card reviewed on /review must return there once rated.
    extra = {"return_to": return_to} if return_to == "review" else {}
    return render_question_page(
        slug, reveal=result is not None, result=result, pending=pending, **extra
    )


@learning.get("/review")
@login_required
def review():
    # The review screen lives in web/review.py; the endpoint keeps its name for the nav.
    from quizapp.web.review import review_page

    return review_page()


@learning.get("/dashboard")
@login_required
def dashboard():
    progress = progress_service.learner_progress(current_user)
    return render_template(
        "learning/dashboard.html",
        progress=progress,
        chart=accuracy_chart(progress.accuracy),
        mistakes=progress_service.recent_mistakes(current_user, limit=5),
        my_reports=report_service.my_reports(current_user, limit=10),
    )


@learning.get("/practice/mistakes")
@login_required
def mistakes():
    return render_template(
        "learning/mistakes.html", questions=progress_service.recent_mistakes(current_user)
    )


@learning.get("/account/export")
@login_required
def export():
    data = personal_data.export_user_data(current_user)
    filename = f"quizapp-{current_user.username}.json"
    return Response(
        json.dumps(data, indent=2),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
