"""The question page: its learner-independent parts are rendered once per content version.

Every request checks the content version (one small query), so an import is visible at
once in every worker process; only the practice forms are rendered per learner.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from flask import get_template_attribute, render_template
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


_cache: OrderedDict[tuple, QuestionParts] = OrderedDict()
_lock = threading.Lock()


def question_parts(slug: str) -> QuestionParts:
    """The question and its pre-rendered parts; NotFound/Gone as `get_question` raises them."""
    key = (slug, question_service.content_version())
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


def render_question_page(slug: str, **context):
    """The full page: cached parts around the learner's own practice section."""
    parts = question_parts(slug)
    return render_template("question.html", question=parts.question, parts=parts, **context)
