"""What the check partials need per check: this learner's layout, the grade, the problem.

Every practice form (question page, review) is built from `CheckView`s, so the learner
sees the same option order on the page, in the feedback and on review.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from flask import session
from flask_login import current_user

from quizapp.domain.grading import ResolvedCheck, account_key, check_id, resolve_check
from quizapp.web.question_page import has_session_cookie

# A visitor with no cookie gets the page cached for every such visitor: one shared layout.
ANONYMOUS = "anonymous"


def learner_key(*, remember: bool = False) -> str:
    """Whose layout to show: the account's, else this session's, else the shared anonymous one.

    `remember` pins the anonymous layout to a session that is about to be created (the
    answer page sets a cookie), so the order does not change on the visitor's next page.
    """
    if current_user.is_authenticated:
        return account_key(current_user.id)
    key = session.get("learner_key")
    if isinstance(key, str) and key:
        return key
    if has_session_cookie():
        key = f"visitor:{secrets.token_hex(8)}"
    elif remember:
        key = ANONYMOUS
    else:
        return ANONYMOUS
    session["learner_key"] = key
    return key


@dataclass(frozen=True)
class CheckView:
    index: int
    resolved: ResolvedCheck
    graded: Any = None  # the AnswerResult of this check, once answered
    waiting: dict | None = None  # a self-rated answer waiting for its rating
    problem: str | None = None  # why the last submission could not be graded
    entered: Any = None  # what the learner sent, to fill the form in again

    @property
    def check(self) -> dict:
        return self.resolved.check  # type: ignore[return-value]

    @property
    def kind(self):
        return self.resolved.kind


def check_views(question, key: str, result=None, pending=None, problem=None) -> list[CheckView]:
    """One view per check of `question` for the learner `key`."""
    views = []
    for index, check in enumerate(question.checks):
        graded = result if result is not None and result.check_index == index else None
        if graded is not None:
            resolved = graded.resolved  # the layout the answer was graded in
        else:
            resolved = resolve_check(check, key, check_id(question.slug, index))
        waiting = pending if pending and pending.get("check") == index else None
        mine = problem if problem and problem.get("check") == index else None
        views.append(
            CheckView(
                index=index,
                resolved=resolved,
                graded=graded,
                waiting=waiting,
                problem=mine["message"] if mine else None,
                entered=mine.get("entered") if mine else None,
            )
        )
    return views
