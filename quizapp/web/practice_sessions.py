""" "Next question" and "Practise this topic": pages and the practice session's progress.

A topic session is a short list of question slugs kept in the session cookie with the
ones answered so far, so each question page can show "3 / 10" and where to go next.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from quizapp.services import practice as practice_service
from quizapp.web import session_answers

practice = Blueprint("practice", __name__)

SESSION_KEY = "practice"


def _learner():
    return current_user if current_user.is_authenticated else None


def _current() -> dict[str, Any] | None:
    data = session.get(SESSION_KEY)
    return data if isinstance(data, dict) and isinstance(data.get("slugs"), list) else None


def mark_answered(slug: str) -> None:
    """Count an answer towards the running topic session, if the question is part of it."""
    data = _current()
    if data and slug in data["slugs"] and slug not in data.get("done", []):
        data["done"] = [*data.get("done", []), slug]
        session[SESSION_KEY] = data


def progress_for(slug: str) -> dict[str, Any] | None:
    """The session's progress as seen from this question's page, or None outside a session."""
    data = _current()
    if not data or slug not in data["slugs"]:
        return None
    slugs = data["slugs"]
    position = slugs.index(slug)
    return {
        "topic": data.get("topic"),
        "title": data.get("title"),
        "position": position + 1,
        "total": len(slugs),
        "answered": len(data.get("done", [])),
        "next": slugs[position + 1] if position + 1 < len(slugs) else None,
    }


def init_practice(app: Flask) -> None:
    app.jinja_env.globals["practice_progress"] = progress_for


@practice.get("/practice/next")
def next_question():
    """Go to the next question: due first, then the weakest topic, then something new."""
    after = request.args.get("after", "")
    suggestion = practice_service.next_question(
        _learner(), answered=session_answers.answered_slugs(), skip={after} if after else ()
    )
    if suggestion is None:
        flash("You have seen every question. Come back when reviews are due.", "info")
        return redirect(url_for("pages.catalog"))
    return redirect(url_for("pages.question", slug=suggestion.question.slug))


@practice.get("/practice/topics/<slug>")
def start_topic(slug: str):
    """Start (or restart) a practice session on one topic."""
    plan = practice_service.plan_topic_practice(
        _learner(), slug, answered=session_answers.answered_slugs()
    )
    if not plan.items:
        flash("This topic has no questions yet.", "info")
        return redirect(url_for("pages.topic", slug=slug))
    session[SESSION_KEY] = {
        "topic": plan.topic.slug,
        "title": plan.topic.title,
        "slugs": [question.slug for question, _ in plan.items],
        "done": [],
    }
    return redirect(url_for("pages.question", slug=plan.items[0][0].slug))


@practice.get("/practice/finish")
def finish():
    """The end of a topic session: how far the learner got, and where to go from there."""
    data = session.pop(SESSION_KEY, None) if _current() else None
    return render_template("learning/practice_done.html", summary=data)
