"""The review screen: one card at a time, keyboard first, plain forms that JavaScript enhances.

Every action is a form post. Without JavaScript each answer is a full page (reveal renders
the back of the card, rate redirects to the next card). With JavaScript the same endpoints
answer with just the review screen fragment (header `X-Review-Fragment: 1`), which the
script swaps in: no full reload between cards.
"""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required

from quizapp.domain.exercises import VERDICTS
from quizapp.domain.grading import InvalidResponse, check_kind
from quizapp.domain.scheduling import RATING_NAMES, RATINGS, format_interval, retrievability
from quizapp.models import Exercise
from quizapp.models.base import utcnow
from quizapp.services import exercise_cards
from quizapp.services import lab as lab_service
from quizapp.services import review as review_service
from quizapp.services.errors import InvalidInput
from quizapp.services.exercise_cards import ExerciseReveal
from quizapp.services.learning import current_parameters
from quizapp.services.simulations import get_exercise
from quizapp.services.variants import question_for_user
from quizapp.web.check_views import card_check_view
from quizapp.web.learning import elapsed_ms_from_form

review = Blueprint("review", __name__)

FRAGMENT_HEADER = "X-Review-Fragment"
# The review forms' own fields; any other field is the learner's answer to the card's check.
REVIEW_FIELDS = frozenset({"csrf_token", "form_key", "question", "check", "started_ms", "rating"})
SESSION_KEY = "review_session"
_UNKNOWN = object()
RECENT_RATINGS = 20  # the ratings of this session an undo button may still offer
RUN_WAIT = 5.0  # seconds the review waits for a run started from it to be recorded


def _progress() -> dict:
    """This browser's review session today (UTC): ratings made, by rating, and the latest ones
    (enough to undo), kept small because it lives in the session cookie."""
    today = utcnow().date().isoformat()
    state = session.get(SESSION_KEY)
    if not state or state.get("day") != today or "counts" not in state:
        state = {"day": today, "counts": {}, "recent": [], "started": int(time.time())}
    return state


def _record_progress(log_id: int, rating: str) -> None:
    state = _progress()
    if any(entry[0] == log_id for entry in state["recent"]):
        return  # counted already (a run's rating, back from its page twice)
    state["counts"] = {**state["counts"], rating: state["counts"].get(rating, 0) + 1}
    state["recent"] = [*state["recent"], [log_id, rating]][-RECENT_RATINGS:]
    session[SESSION_KEY] = state


def _forget_progress(log_id: int) -> None:
    state = _progress()
    for entry in state["recent"]:
        if entry[0] == log_id:
            rating = entry[1]
            state["counts"] = {**state["counts"], rating: max(0, state["counts"][rating] - 1)}
    state["recent"] = [entry for entry in state["recent"] if entry[0] != log_id]
    session[SESSION_KEY] = state


def _summary(state: dict) -> dict:
    counts = {rating: state["counts"].get(rating, 0) for rating in RATINGS}
    done = sum(counts.values())
    return {
        "done": done,
        "counts": counts,
        "recalled": (done - counts["again"]) / done if done else None,
        "minutes": max(1, round((time.time() - state["started"]) / 60)),
    }


def _entered() -> dict[str, list[str]]:
    """What the learner entered into the card's check (its kind's own form fields), if any."""
    return {
        name: values
        for name, values in request.form.lists()
        if name not in REVIEW_FIELDS and any(value.strip() for value in values)
    }


def _response_value(check_index: str | None, question):
    """The answer to the card's check, read by its kind's form parser (in shown positions,
    as the kind's partial drew them); None when the learner only recalled it."""
    if check_index in (None, "") or not _entered():
        return None
    if not (check_index.isdecimal() and int(check_index) < len(question.checks)):
        return request.form.get("response") or "?"  # the service refuses the check
    check = question.checks[int(check_index)]
    try:
        return check_kind(check).parse_form(check, request.form)
    except InvalidResponse as error:
        raise InvalidInput(str(error), field="response") from None


def _check_view(question, check_index, reveal, problem: str | None):
    """The card's check for its partial: answered on the back, or waiting on the front (with
    what was entered when it could not be graded)."""
    if question is None or check_index is None:
        return None
    if reveal is not None:
        if reveal.grade is None or reveal.check_index != check_index:
            return None
        return card_check_view(question, check_index, grade=reveal.grade)
    entered = _entered() if problem else None
    return card_check_view(question, check_index, entered=entered, problem=problem)


def render_review(
    reveal=None, front=None, status=None, code: int = 200, problem=None, last=_UNKNOWN
):
    """The review screen (whole page, or the fragment the script asked for). `problem`: why
    the answer on the front could not be graded; `last`: the learner's newest rating when
    the caller has it (the one just made)."""
    now = utcnow()
    queue = review_service.review_queue(current_user, now)
    g.due_count = queue.due_total  # the navigation's badge, without counting again
    parameters = current_parameters(current_user)
    current = queue.current
    exercise = _shown_exercise(reveal, front, current)
    question = card = None
    if exercise is not None:
        if isinstance(reveal, ExerciseReveal):
            card = reveal.card
        elif current is not None and _is(current, "exercise", exercise.id):
            card = current.card
        else:
            card = exercise_cards.exercise_card(current_user, exercise)
    elif front is not None:
        question = front
    elif reveal is not None:
        question = reveal.question
    elif current is not None:
        question = review_service.get_question(current.question.slug)
    if question is not None:
        # A card with params shows the learner's numbers of its current variant epoch.
        question = question_for_user(question, current_user.id)
        if current is not None and _is(current, "question", question.id):
            card = current.card
        else:
            card = review_service.learner_card(current_user, question)
    state = _progress()
    summary = _summary(state)
    remaining = len(queue.cards)
    shown = ("exercise", exercise.id) if exercise else ("question", question.id if question else 0)
    if (card is not None or question is not None) and not any(_is(c, *shown) for c in queue.cards):
        remaining += 1  # a card shown out of the queue (undone, or due again in minutes)
    if last is _UNKNOWN:
        last = review_service.last_rating(current_user)
    check_index = review_service.review_check(question) if question else None
    context = {
        "queue": queue,
        "current": current,
        "question": question,
        "card": card,
        "reveal": reveal,
        "check_index": check_index,
        "check_view": _check_view(question, check_index, reveal, problem),
        # The answer given on the front goes with the rating, exactly as it was sent (an
        # exercise card's reveal has no graded check).
        "entered": _entered() if getattr(reveal, "grade", None) is not None else {},
        "recall": retrievability(card.state, now, parameters) if card else None,
        "progress": {"done": summary["done"], "total": summary["done"] + remaining},
        "summary": summary,
        "status": status,
        "undo": last if last and any(entry[0] == last.id for entry in state["recent"]) else None,
        "now": now,
        "exercise": exercise,
        "choices": exercise_cards.described_choices(exercise, card.choices) if exercise else None,
        "verdicts": VERDICTS,
        "screen": "learning/_review_exercise.html" if exercise else "learning/_review_screen.html",
    }
    try:
        if request.headers.get(FRAGMENT_HEADER) == "1":
            return render_template(context["screen"], **context), code
        return render_template("learning/review.html", **context), code
    finally:
        g.pop("due_count", None)  # this page's count only


def _is(item, kind: str, id_: int) -> bool:
    return item.question.kind == kind and item.question.id == id_


def _shown_exercise(reveal, front, current):
    """The exercise whose card the screen shows, if it shows one."""
    if isinstance(front, Exercise):
        return front
    if isinstance(reveal, ExerciseReveal):
        return reveal.exercise
    if front is None and reveal is None and current and current.question.kind == "exercise":
        return get_exercise(current.question.slug)
    return None


def review_page():
    """GET /review; `?card=<slug>` (a question) or `?exercise=<slug>` shows that card first
    (after an undo without JavaScript); `?ran=<run id>`: back from running an exercise card
    again, the run's rating counts in this session."""
    if run_id := request.args.get("ran"):
        return _back_from_run(run_id)
    if slug := request.args.get("exercise"):
        return render_review(front=get_exercise(slug))
    slug = request.args.get("card")
    return render_review(front=review_service.get_question(slug) if slug else None)


def _back_from_run(run_id: str):
    """The learner ran an exercise card again from the review screen: that run rated the
    card (record_run), so it is the card's review in this session, not one still to make."""
    view = lab_service.wait_for_run(run_id, current_user, RUN_WAIT)
    title = view.exercise.title if view.exercise else "the lab"
    log = exercise_cards.rating_by_run(current_user, view.run)
    if log is not None:
        rating = RATING_NAMES[log.rating]
        _record_progress(log.id, rating)
        card = exercise_cards.exercise_card(current_user, view.exercise)
        flash(
            f"Your run counted as the review of “{title}”: rated {rating.capitalize()}, it comes "
            f"back in {format_interval(card.due_at - utcnow())}.",
            "info",
        )
    elif view.pending:
        flash(f"Your run of “{title}” is still going; its outcome reschedules the card.", "info")
    else:
        flash(f"Your run of “{title}” did not rate its card; rate it here.", "info")
    return redirect(url_for("learning.review"))


@review.get("/review/reveal")
@review.get("/review/rate")
@review.get("/review/undo")
def form_address():
    """Without JavaScript the address bar reads a form's address after a reveal, rating or
    undo: opened again (Enter, a reload after a restart, a bookmark) it is the review screen,
    not "405 Method not allowed"."""
    return redirect(url_for("learning.review"))


@review.post("/review/reveal")
@login_required
def reveal():
    if exercise_slug := request.form.get("exercise"):
        revealed = exercise_cards.reveal_exercise(
            current_user, get_exercise(exercise_slug), request.form.get("prediction") or None
        )
        return render_review(reveal=revealed)
    slug = request.form.get("question", "")
    question = review_service.get_question(slug)
    check_index = request.form.get("check") or None
    try:
        revealed = review_service.reveal_card(
            current_user,
            question,
            check_index,
            _response_value(check_index, question),
            elapsed_ms=elapsed_ms_from_form(),
        )
    except InvalidInput as error:
        if error.field != "response":
            raise
        # The same card again, with what was entered and the problem beside it.
        return render_review(front=question, problem=error.message, code=422)
    return render_review(reveal=revealed)


@review.post("/review/rate")
@login_required
def rate():
    if exercise_slug := request.form.get("exercise"):
        return _rate_exercise(get_exercise(exercise_slug))
    slug = request.form.get("question", "")
    question = review_service.get_question(slug, topics=False)
    check_index = request.form.get("check") or None
    result = review_service.rate_card(
        current_user,
        question,
        request.form.get("rating", ""),
        check_index=check_index,
        response=_response_value(check_index, question),
        elapsed_ms=elapsed_ms_from_form(),
        idempotency_key=request.form.get("form_key") or None,
    )
    if not result.duplicate:
        _record_progress(result.log.id, result.rating)
    status = (
        f"Rated {result.rating.capitalize()}: “{question.title}” comes back in "
        f"{format_interval(result.card.due_at - utcnow())}."
    )
    if result.card.leech and result.card.suspended_at is not None:
        status += " It has become a leech and is suspended; see Leeches."
    if request.headers.get(FRAGMENT_HEADER) == "1":
        return render_review(status=status, last=_UNKNOWN if result.duplicate else result.log)
    flash(status, "info")
    return redirect(url_for("learning.review"), 303)


def _rate_exercise(exercise):
    result = exercise_cards.rate_exercise(
        current_user,
        exercise,
        request.form.get("rating", ""),
        elapsed_ms=elapsed_ms_from_form(),
        card_version=request.form.get("card_version"),
    )
    if not result.duplicate:
        _record_progress(result.log.id, result.rating)
    status = (
        f"Rated {result.rating.capitalize()}: the exercise “{exercise.title}” comes back in "
        f"{format_interval(result.card.due_at - utcnow())}."
    )
    if request.headers.get(FRAGMENT_HEADER) == "1":
        return render_review(status=status, last=_UNKNOWN if result.duplicate else result.log)
    flash(status, "info")
    return redirect(url_for("learning.review"), 303)


@review.post("/review/undo")
@login_required
def undo():
    review_id = request.form.get("review") or None
    question = review_service.undo_rating(current_user, review_id)
    if review_id:
        _forget_progress(int(review_id))
    status = f"Undone: “{question.title}” is back as it was."
    if request.headers.get(FRAGMENT_HEADER) == "1":
        return render_review(front=question, status=status)
    flash(status, "info")
    if isinstance(question, Exercise):
        return redirect(url_for("learning.review", exercise=question.slug), 303)
    return redirect(url_for("learning.review", card=question.slug), 303)


@review.get("/review/leeches")
@login_required
def leeches():
    return render_template(
        "learning/leeches.html",
        leeches=review_service.leeches(current_user),
        threshold=current_user.leech_threshold,
    )


@review.post("/review/leeches/<slug>")
@login_required
def resolve_leech(slug: str):
    action = request.form.get("action", "")
    review_service.resolve_leech(current_user, slug, action)
    messages = {
        "resume": "Back in review.",
        "reset": "Forgotten: it comes back as a new card.",
        "keep": "Kept suspended.",
    }
    flash(messages[action], "info")
    return redirect(url_for("review.leeches"), 303)


@review.post("/account/review-settings")
@login_required
def settings():
    try:
        review_service.update_review_settings(current_user, request.form.to_dict())
    except InvalidInput as error:
        flash(str(error), "error")
        return redirect(url_for("auth.account") + "#review-settings", 303)
    flash("Review limits saved.", "info")
    return redirect(url_for("auth.account") + "#review-settings", 303)


def init_review(app) -> None:
    """Template filters for memory shown anywhere: relative times and recall percentages."""
    from markupsafe import Markup, escape

    from quizapp.web.relative_time import describe

    @app.template_filter("relative_time")
    def relative_time_filter(moment, now=None):
        if moment is None:
            return ""
        now = now or utcnow()
        exact = moment.strftime("%d %b %Y, %H:%M UTC")
        return Markup(
            f'<time datetime="{escape(moment.isoformat())}" title="{escape(exact)}">'
            f"{escape(describe(moment, now))}</time>"
        )

    @app.template_filter("recall_percent")
    def recall_percent(value):
        return "–" if value is None else f"{round(value * 100)} %"

    # Memory sections are partials that other pages include as they are (dashboard, question
    # page), so they fetch their own data through these, for the signed-in learner only.
    @app.template_global("learner_memory")
    def learner_memory():
        from quizapp.services.memory import memory_overview
        from quizapp.web.review_charts import calendar_cells, forecast_chart

        overview = memory_overview(current_user)
        return {
            "overview": overview,
            "forecast_chart": forecast_chart(overview.forecast),
            "calendar": calendar_cells(overview.calendar),
        }

    @app.template_global("card_memory")
    def card_memory(question_id: int):
        from quizapp.services.memory import question_memory

        return question_memory(current_user, question_id)

    @app.template_global("cal_weeks_reversed")
    def cal_weeks_reversed(weeks):
        return [list(reversed(week)) for week in reversed(weeks)]


# -- schedule fitting and the review log -----------------------------------------------------


@review.get("/account/schedule")
@login_required
def schedule():
    from quizapp.services.schedule_fits import fit_status

    status = fit_status(current_user)
    return render_template("learning/schedule.html", status=status)


@review.post("/account/schedule")
@login_required
def start_schedule_fit():
    from quizapp.services.schedule_fits import start_fit

    fit = start_fit(current_user)
    flash(f"Fitting version {fit.version} of your schedule; this page updates by itself.", "info")
    return redirect(url_for("review.schedule"), 303)


@review.post("/account/schedule/retention")
@login_required
def use_recommended_retention():
    from quizapp.services.accounts import set_desired_retention

    try:
        value = float(request.form.get("desired_retention", ""))
    except ValueError:
        raise InvalidInput("desired retention must be a number", "desired_retention") from None
    set_desired_retention(current_user, value)
    flash(f"Desired retention set to {value:.2f}.", "info")
    return redirect(url_for("review.schedule"), 303)


@review.get("/account/review-log.csv")
@login_required
def export_revlog():
    from quizapp.services.revlog import export_revlog as build_csv

    filename = f"quizapp-{current_user.username}-revlog.csv"
    return Response(
        build_csv(current_user),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@review.route("/account/review-log/import", methods=["GET", "POST"])
@login_required
def import_revlog():
    from quizapp.services.revlog import RevlogInvalid
    from quizapp.services.revlog import import_revlog as load_csv

    if request.method == "GET":
        return render_template("learning/revlog_import.html", problems=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template(
            "learning/revlog_import.html", problems=["Choose a CSV file to import."]
        ), 400
    try:
        result = load_csv(current_user, upload.read())
    except RevlogInvalid as error:
        return render_template("learning/revlog_import.html", problems=error.problems), 400
    flash(
        f"Imported {result.imported} reviews ({result.skipped} already here); "
        f"{result.cards} cards rescheduled from their history.",
        "info",
    )
    return redirect(url_for("review.import_revlog"), 303)
