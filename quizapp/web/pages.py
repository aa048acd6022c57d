"""HTML pages of the question bank: catalog, question, topics."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from quizapp.content.schemas import DIFFICULTIES
from quizapp.services import progress as progress_service
from quizapp.services import questions as question_service
from quizapp.services.errors import InvalidInput, ServiceError
from quizapp.services.practice import START_HERE
from quizapp.web.question_page import render_question_page

pages = Blueprint("pages", __name__)


# Far beyond any catalog; a larger number would overflow the database's integer offset.
MAX_PAGE = 100_000


def _page_number() -> int:
    raw = request.args.get("page", "1")
    # isdigit() alone accepts "²", which int() rejects.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidInput(f"page must be a whole number from 1 to {MAX_PAGE}", field="page")
    return int(raw)


@pages.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page declares (its icon is an SVG)."""
    # 302: the target is the fingerprinted address, which changes with the icon.
    return redirect(url_for("static", filename="favicon.svg"))


@pages.get("/")
def catalog():
    topic = request.args.get("topic") or None
    difficulty = request.args.get("difficulty") or None
    search = request.args.get("q", "").strip() or None
    result = question_service.list_questions(
        topic=topic,
        difficulty=difficulty,
        search=search,
        page=_page_number(),
        per_page=current_app.config["QUIZAPP_PAGE_SIZE"],
    )
    filtered = bool(topic or difficulty or search)
    return render_template(
        "catalog.html",
        result=result,
        topics=question_service.list_topics(),
        difficulties=DIFFICULTIES,
        selected={"topic": topic, "difficulty": difficulty, "q": search or ""},
        start_here=None if filtered or result.page > 1 else _start_here(),
        states=_learner_states(),
    )


def _start_here():
    try:
        return question_service.get_question(START_HERE)
    except ServiceError:  # retired or not imported: the catalog goes on without it
        return None


def _learner_states():
    """The signed-in learner's state per question, for the cards on a listing."""
    if not current_user.is_authenticated:
        return {}
    return progress_service.card_states(current_user)


@pages.get("/questions/<slug>")
def question(slug: str):
    return render_question_page(slug, reveal=request.args.get("reveal") == "1")


@pages.get("/topics")
def topics():
    return render_template("topics.html", topics=question_service.list_topics())


@pages.get("/topics/<slug>")
def topic(slug: str):
    found = question_service.get_topic(slug)
    result = question_service.list_questions(topic=slug, per_page=100)
    return render_template("topic.html", topic=found, result=result, states=_learner_states())


@pages.get("/api/docs")
def api_docs():
    return render_template("api_docs.html")
