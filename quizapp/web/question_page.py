"""The question page: its learner-independent parts are rendered once per content version.

Each request checks the content version (one small query; in production at most once a
second per process), so an import is visible everywhere at once, or within a second in
production; only the practice forms are rendered per learner.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from flask import current_app, get_template_attribute, render_template
from flask_login import current_user
from markupsafe import Markup

from quizapp.models import Question
from quizapp.services import progress as progress_service
from quizapp.services import questions as question_service
from quizapp.services import simulations as sim_service
from quizapp.services.progress import NEW_CARD
from quizapp.services.variants import reference_question
from quizapp.web.page_cache import content_version, has_session_cookie

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


def question_parts(slug: str) -> QuestionParts:
    """The question and its pre-rendered parts; NotFound/Gone as `get_question` raises them."""
    key = (slug, content_version())
    with _lock:
        parts = _cache.get(key)
        if parts is not None:
            _cache.move_to_end(key)
            return parts
    row = question_service.get_question(slug)
    related = question_service.related_questions(row)
    exercises = sim_service.exercises_for_question(row)
    # A question with params: the reference variant, which visitors without a cookie see.
    question = reference_question(row)
    parts = QuestionParts(
        question=question,
        related=related,
        head=get_template_attribute("_question_parts.html", "head")(question),
        tail=get_template_attribute("_question_parts.html", "tail")(question, related, exercises),
    )
    question_service.detach(row, *related)
    with _lock:
        _cache[key] = parts
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return parts


_variant_heads: OrderedDict[tuple, Markup] = OrderedDict()


def _variant_parts(slug: str, parts: QuestionParts) -> QuestionParts:
    """The parts with the question in this learner's variant: its head (the question text)
    is rendered once per content version and variant, like the shared one."""
    from quizapp.web.check_views import learner_question  # check_views imports this module

    question = parts.question
    shown = learner_question(question)
    if shown is question:
        return parts
    key = (slug, content_version(), tuple(shown.variant.items()))
    with _lock:
        head = _variant_heads.get(key)
        if head is not None:
            _variant_heads.move_to_end(key)
    if head is None:
        head = get_template_attribute("_question_parts.html", "head")(shown)
        with _lock:
            _variant_heads[key] = head
            while len(_variant_heads) > CACHE_SIZE:
                _variant_heads.popitem(last=False)
    return replace(parts, question=shown, head=head, anonymous_pages={})


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
    if current_user.is_authenticated:
        states = progress_service.card_states(current_user, [parts.question.id])
        context.setdefault("card_state", states.get(parts.question.id, NEW_CARD))
    if parts.question.variant_spec:
        parts = _variant_parts(slug, parts)
    return render_template(
        "question.html",
        question=parts.question,
        parts=parts,
        reveal=reveal,
        practice_tokens=True,
        **context,
    )
