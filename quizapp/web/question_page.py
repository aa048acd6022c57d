"""The question page: its learner-independent parts are rendered once per content version.

Each request checks the content version (one small query; in production at most once a
second per process), so an import is visible everywhere at once, or within a second in
production; only the practice forms are rendered per learner.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from flask import current_app, get_template_attribute, render_template, request
from flask_login import current_user
from markupsafe import Markup

from quizapp.models import Question
from quizapp.services import questions as question_service
from quizapp.services import simulations as sim_service

CACHE_SIZE = 512


@dataclass(frozen=True)
class QuestionParts:
    question: Question  # detached, fully loaded: read-only from here on
    related: list[Question]
    head: Markup
    tail: Markup
    # Whole pages for visitors without cookies, by `reveal`: nothing in them is personal.
    anonymous_pages: dict[bool, str] = field(default_factory=dict)


_cache: OrderedDict[tuple, QuestionParts] = OrderedDict()
_lock = threading.Lock()


# The content version a process read last, and when. QUIZAPP_CONTENT_VERSION_TTL (1 s in
# production, 0 elsewhere) is how long it is trusted: an import shows on every worker within
# that time, and a busy page is served without touching the database.
_version: tuple[float, tuple] = (float("-inf"), ())


def _content_version() -> tuple:
    global _version
    checked_at, version = _version
    now = time.monotonic()
    if now - checked_at >= current_app.config["QUIZAPP_CONTENT_VERSION_TTL"]:
        version = question_service.content_version()
        _version = (now, version)
    return version


def question_parts(slug: str) -> QuestionParts:
    """The question and its pre-rendered parts; NotFound/Gone as `get_question` raises them."""
    key = (slug, _content_version())
    with _lock:
        parts = _cache.get(key)
        if parts is not None:
            _cache.move_to_end(key)
            return parts
    question = question_service.get_question(slug)
    related = question_service.related_questions(question)
    exercises = sim_service.exercises_for_question(question)
    parts = QuestionParts(
        question=question,
        related=related,
        head=get_template_attribute("_question_parts.html", "head")(question),
        tail=get_template_attribute("_question_parts.html", "tail")(question, related, exercises),
    )
    question_service.detach(question, *related)
    with _lock:
        _cache[key] = parts
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return parts


def has_session_cookie() -> bool:
    """Whether the request carries a session or remember-me cookie (so it may be personal)."""
    names = (
        current_app.config["SESSION_COOKIE_NAME"],
        current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token"),
    )
    return any(name in request.cookies for name in names)


def render_question_page(slug: str, reveal: bool = False, **context):
    """The full page: cached parts around the learner's own practice section.

    A visitor with no cookie and nothing to show but the page itself gets a page rendered
    once per content version: its forms carry no token because nothing they send is stored.
    """
    parts = question_parts(slug)
    personal = (
        bool(context)
        or has_session_cookie()
        or current_user.is_authenticated
        or bool(current_app.config.get("QUIZAPP_PREVIEW_DIR"))  # the banner changes per save
    )
    if not personal:
        page = parts.anonymous_pages.get(reveal)
        if page is None:
            page = parts.anonymous_pages[reveal] = render_template(
                "question.html", question=parts.question, parts=parts, reveal=reveal,
                practice_tokens=False,
            )  # fmt: skip
        return page
    return render_template(
        "question.html",
        question=parts.question,
        parts=parts,
        reveal=reveal,
        practice_tokens=True,
        **context,
    )
