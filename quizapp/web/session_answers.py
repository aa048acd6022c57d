"""Answers remembered in the visitor's session cookie.

Two uses: a page answering one check still shows the feedback of the question's other
checks answered a moment ago, and a visitor who answers before signing up keeps those
answers (they are replayed into the new account, FSRS cards included).

The session is a signed cookie, so what is kept is bounded: browsers drop a cookie over
4 KB, and with it the whole session (and the learner's sign-in).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from flask import session

from quizapp.services import learning as learning_service
from quizapp.services.learning import AnswerResult, UnsavedAnswer

SESSION_KEY = "answers"
# JSON bytes before signing and base64 (which adds a third): well inside a 4 KB cookie
# beside the CSRF token, the sign-in and a practice session.
MAX_BYTES = 1800
MAX_TEXT = 300  # a self-rated answer kept for later is cut to this many characters
KEPT_FOR_SECONDS = 2 * 3600  # an answer older than this is not shown beside a new one


def _entries() -> list[dict[str, Any]]:
    entries = session.get(SESSION_KEY)
    return entries if isinstance(entries, list) else []


def remember(result: AnswerResult, response: Any, elapsed_ms: int | None, learner_key: str) -> None:
    """Keep one graded answer (in the positions `learner_key` was shown); a signed-in
    learner's stored ones only for the current card."""
    slug = result.question.slug
    if isinstance(response, str) and len(response) > MAX_TEXT:
        response = response[: MAX_TEXT - 1] + "…"
    entry = {
        "q": slug,
        "c": result.check_index,
        "r": response,
        "t": result.grade.rating,
        "e": elapsed_ms,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "s": result.stored,
        "k": learner_key,
        # The hints and tries it took: graded again or adopted, it stays final and costs the same.
        "h": result.grade.hints_used,
        "n": result.grade.tries_used,
        # The numbers of a question with params, so its feedback is graded again in them.
        "v": result.resolved.variant,
    }
    kept = [
        old
        for old in _entries()
        if not (old.get("q") == slug and old.get("c") == result.check_index)
        # Stored answers are in the database already: only the current card's are shown.
        and not (old.get("s") and old.get("q") != slug)
    ]
    kept.append(entry)
    while kept and len(json.dumps(kept, separators=(",", ":"))) > MAX_BYTES:
        kept.pop(0)
    session[SESSION_KEY] = kept


def kept_results(slug: str, except_check: int | None) -> dict[int, AnswerResult]:
    """The question's other checks answered recently in this session, graded again."""
    now = datetime.now(UTC)
    results: dict[int, AnswerResult] = {}
    for entry in _entries():
        if entry.get("q") != slug or entry.get("c") == except_check:
            continue
        try:
            age = (now - datetime.fromisoformat(entry["at"])).total_seconds()
        except (KeyError, TypeError, ValueError):
            continue
        if age > KEPT_FOR_SECONDS:
            continue
        result = learning_service.grade_again(
            slug,
            entry.get("c"),
            entry.get("r"),
            entry.get("t"),
            entry.get("k"),
            hints_used=entry.get("h", 0),
            tries_used=entry.get("n", 1),
            variant=entry.get("v"),
        )
        if result is not None:
            results[result.check_index] = replace(result, stored=bool(entry.get("s")))
    return results


def take_unsaved() -> list[UnsavedAnswer]:
    """The answers given before signing in, removed from the session (to be adopted once)."""
    unsaved, rest = [], []
    for entry in _entries():
        if entry.get("s"):
            rest.append(entry)
            continue
        try:
            answered_at = datetime.fromisoformat(entry["at"])
        except (KeyError, TypeError, ValueError):
            continue
        unsaved.append(
            UnsavedAnswer(
                slug=str(entry.get("q")),
                check_index=entry.get("c"),
                response=entry.get("r"),
                rating=entry.get("t"),
                elapsed_ms=entry.get("e"),
                answered_at=answered_at,
                learner_key=entry.get("k"),
                hints_used=entry.get("h", 0),
                tries_used=entry.get("n", 1),
            )
        )
    if unsaved:
        session[SESSION_KEY] = rest
    return unsaved


def unsaved_count() -> int:
    """How many answers this visitor gave without an account."""
    return sum(1 for entry in _entries() if not entry.get("s"))


def answered_slugs() -> set[str]:
    """The questions answered in this session (for a visitor's "Next question")."""
    return {str(entry.get("q")) for entry in _entries()}
