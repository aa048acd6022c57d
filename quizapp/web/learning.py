"""Answering on a question page, the Review page, the dashboard, mistakes and data export."""

from __future__ import annotations

import json
import time
import uuid

from flask import Blueprint, Flask, Response, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError

from quizapp.domain.grading import MAX_ANSWER_CHARS, InvalidResponse, check_kind
from quizapp.services import learning as learning_service
from quizapp.services import personal_data
from quizapp.services import progress as progress_service
from quizapp.services import questions as question_service
from quizapp.services import reports as report_service
from quizapp.services.errors import InvalidInput
from quizapp.web import practice_sessions, session_answers
from quizapp.web.charts import accuracy_chart
from quizapp.web.check_views import (
    ANONYMOUS,
    check_views,
    clear_progress,
    learner_key,
    learner_question,
    save_progress,
    saved_progress,
)
from quizapp.web.errors import stale_form_response
from quizapp.web.question_page import question_parts, render_question_page

learning = Blueprint("learning", __name__)


def init_learning(app: Flask) -> None:
    @app.context_processor
    def inject_due_count():
        if "due_count" in g:  # counted already by the page (the review screen's queue)
            return {"due_count": g.due_count}
        if current_user.is_authenticated:
            return {"due_count": learning_service.due_count(current_user)}
        return {"due_count": 0}

    @app.context_processor
    def inject_check_views():
        def views_of(question, result=None, pending=None, problem=None, personal=True, kept=None):
            # A page cached for every cookie-less visitor must not read or start a session.
            key = learner_key() if personal else ANONYMOUS
            return check_views(question, key, result, pending, problem, personal, kept)

        return {"check_views": views_of}

    @app.context_processor
    def inject_form_helpers():
        return {"new_form_key": lambda: uuid.uuid4().hex, "now_ms": lambda: int(time.time() * 1000)}


def _form_response(check: dict) -> object:
    """Read the learner's answer from the form in the shape the check kind expects."""
    try:
        return check_kind(check).parse_form(check, request.form)
    except InvalidResponse as error:
        raise InvalidInput(str(error), field="response") from None


def elapsed_ms_from_form() -> int | None:
    """Milliseconds since the page showed the card: the form's started_ms (now_ms when the
    page was rendered) to now; None without it. The review screen reads it too."""
    started = request.form.get("started_ms", "")
    if not started.isdecimal():
        return None
    return int(time.time() * 1000) - int(started)


@learning.post("/questions/<slug>/answer")
def answer(slug: str):
    # The cached, read-only copy: the service loads its own to record the answer.
    question = question_parts(slug).question
    raw_index = request.form.get("check", "")
    if not raw_index.isdecimal() or int(raw_index) >= len(question.checks):
        raise InvalidInput("That check does not exist on this question.", field="check")
    check_index = int(raw_index)
    check = question.checks[check_index]
    return_to = request.form.get("return_to")
    # The form says how far the learner got; the session's record wins if it says more.
    saved = saved_progress(slug, check_index)
    progress = {name: max(_form_count(name), saved[name]) for name in saved}
    if request.form.get("action") == "hint":
        # Reveal one more hint and give the learner the form back as they left it.
        progress["hints_used"] = min(progress["hints_used"] + 1, len(check.get("hints") or ()))
        save_progress(slug, check_index, **progress)
        return _render_question(
            slug, problem={"check": check_index, "entered": _entered(), **progress},
            return_to=return_to,
        )  # fmt: skip
    rating = request.form.get("rating") or None
    try:
        # A self-rated answer is graded once the learner has seen the model answer and rated.
        if not check_kind(check).automatic and rating is None:
            text = _form_response(check)
            if len(text.strip()) > MAX_ANSWER_CHARS:
                raise InvalidInput(
                    f"answer too long: at most {MAX_ANSWER_CHARS:,} characters", field="response"
                )
            return _render_question(
                slug, pending={"check": check_index, "text": text}, return_to=return_to
            )
        response = _form_response(check)
        elapsed_ms = elapsed_ms_from_form()
        key = learner_key(remember=True)
        result = learning_service.submit_answer(
            current_user if current_user.is_authenticated else None,
            slug,
            check_index,
            response,
            rating=rating,
            elapsed_ms=elapsed_ms,
            idempotency_key=request.form.get("form_key") or None,
            learner_key=key,
            hints_used=progress["hints_used"],
            tries_used=progress["tries_used"] + 1,
        )
    except InvalidInput as error:
        if error.field not in ("response", "rating"):
            raise
        # The same question again, with what the learner entered and the problem beside it.
        problem = {"check": check_index, "message": _sentence(error.message),
                   "entered": _entered(), **progress}  # fmt: skip
        return _render_question(slug, problem=problem, return_to=return_to), 422
    if not result.grade.final:
        # Wrong with tries left: the same form again, filled in, the answer still hidden.
        save_progress(slug, check_index, result.grade.hints_used, result.grade.tries_used)
        retry = {"check": check_index, "entered": _entered()}
        return _render_question(slug, result=result, problem=retry, return_to=return_to)
    clear_progress(slug, check_index)
    session_answers.remember(result, response, elapsed_ms, key)
    practice_sessions.mark_answered(slug)
    if return_to == "review":
        return render_template("learning/review_result.html", result=result)
    return _render_question(slug, result=result, return_to=return_to)


@learning.get("/questions/<slug>/answer")
def answer_address(slug: str):
    """The address bar reads this after an answer: opened again (Enter, a bookmark, a shared
    link), it is the question, not "405 Method not allowed"."""
    return redirect(url_for("pages.question", slug=slug))


@learning.errorhandler(CSRFError)
def answer_from_a_stale_page(error: CSRFError):
    """A visitor's page is served without a token while they have no session; once an answer
    in another tab starts one, this page's answers are refused. Nothing is recorded: the
    question comes back with the answer kept, the reason beside it and a fresh token."""
    raw_index = request.form.get("check", "")
    slug = (request.view_args or {}).get("slug")
    if request.endpoint != "learning.answer" or not raw_index.isdecimal():
        return stale_form_response(error)
    question = question_parts(slug).question
    check_index = int(raw_index)
    if check_index >= len(question.checks):
        return stale_form_response(error)
    problem = {"check": check_index, "message": "this page was opened before your visit "
               "began in another tab. Check your answer and send it again.",
               "entered": _entered(), **saved_progress(slug, check_index)}  # fmt: skip
    return _render_question(slug, problem=problem, return_to=request.form.get("return_to")), 400


def _form_count(name: str) -> int:
    value = request.form.get(name, "")
    return min(int(value), 100) if value.isdecimal() else 0


def _entered() -> dict[str, list[str]]:
    """The learner's own fields, to put back in the form (not tokens or bookkeeping)."""
    skip = {"csrf_token", "form_key", "started_ms", "check", "return_to", "action"}
    return {key: values for key, values in request.form.lists() if key not in skip}


def _sentence(message: str) -> str:
    message = message.strip()
    return (message[:1].upper() + message[1:]).rstrip(".") + "."


def _render_question(slug: str, result=None, pending=None, problem=None, return_to=None):
    # The self-rating step of a card reviewed on /review must return there once rated.
    extra = {"return_to": return_to} if return_to == "review" else {}
    finished = result is not None and result.grade.final
    shown = result.check_index if result is not None else pending["check"] if pending else None
    return render_question_page(
        slug,
        reveal=finished,
        result=result,
        pending=pending,
        problem=problem,
        # The feedback of the card's other checks answered a moment ago stays on the page.
        kept=session_answers.kept_results(slug, except_check=shown),
        **extra,
    )


@learning.get("/questions/<slug>/worksheet")
def worksheet(slug: str):
    """The question's checks on paper, in the order this learner sees them on screen."""
    question = learner_question(question_service.get_question(slug))
    views = check_views(question, learner_key())
    return render_template("learning/worksheet.html", question=question, views=views)


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
