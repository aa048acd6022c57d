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

from quizapp.domain.grading import (
    ANONYMOUS_LEARNER,
    ResolvedCheck,
    account_key,
    check_id,
    resolve_check,
    stored_check,
)
from quizapp.services.variants import learner_epoch, shown_question
from quizapp.web.question_page import has_session_cookie

# A visitor with no cookie gets the page cached for every such visitor: one shared layout.
ANONYMOUS = ANONYMOUS_LEARNER


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


def learner_question(question, key: str | None = None):
    """The question as this learner sees it: in their variant when it has params (an
    account's at its card's variant epoch, a visitor's at epoch 0)."""
    if not getattr(question, "variant_spec", None):
        return question
    epoch = learner_epoch(current_user.id, question.id) if current_user.is_authenticated else 0
    return shown_question(question, key or learner_key(), epoch)


# Hints revealed and tries used on checks not answered for good yet, kept in the session
# (signed, so it cannot be edited) so a reload neither hides a hint's cost nor resets tries.
PROGRESS = "check_progress"
MAX_CHECKS_IN_PROGRESS = 20


def saved_progress(slug: str, index: int) -> dict[str, int]:
    """{"hints_used", "tries_used"} this session has on record for a check (zeros if none)."""
    entry = session.get(PROGRESS, {}).get(check_id(slug, index), {})
    return {"hints_used": int(entry.get("h", 0)), "tries_used": int(entry.get("t", 0))}


def save_progress(slug: str, index: int, hints_used: int, tries_used: int) -> None:
    progress = dict(session.get(PROGRESS, {}))
    progress.pop(check_id(slug, index), None)
    progress[check_id(slug, index)] = {"h": hints_used, "t": tries_used}
    # Oldest first: a learner who leaves many checks half done keeps the cookie small.
    session[PROGRESS] = dict(list(progress.items())[-MAX_CHECKS_IN_PROGRESS:])


def clear_progress(slug: str, index: int) -> None:
    if check_id(slug, index) in session.get(PROGRESS, {}):
        progress = dict(session[PROGRESS])
        del progress[check_id(slug, index)]
        session[PROGRESS] = progress


@dataclass(frozen=True)
class CheckView:
    index: int
    resolved: ResolvedCheck
    graded: Any = None  # the final AnswerResult of this check, once answered
    retry: Any = None  # a wrong AnswerResult with tries left: the form stays open
    waiting: dict | None = None  # a self-rated answer waiting for its rating
    problem: str | None = None  # why the last submission could not be graded
    entered: Any = None  # what the learner sent (form field -> values), to fill in again
    hints_shown: int = 0
    tries_used: int = 0  # answers already given to this check on this page

    @property
    def check(self) -> dict:
        return self.resolved.check  # type: ignore[return-value]

    @property
    def kind(self):
        return self.resolved.kind

    @property
    def tries_left(self) -> int:
        return max(0, self.resolved.tries - self.tries_used)


def check_views(
    question,
    key: str,
    result=None,
    pending=None,
    problem=None,
    personal: bool = True,
    kept=None,
) -> list[CheckView]:
    """One view per check of `question` for the learner `key`; `kept` holds the results of
    other checks answered a moment ago in this session, so their feedback stays in view."""
    views = []
    for index, check in enumerate(question.checks):
        answered = result if result is not None and result.check_index == index else None
        if answered is None and kept:
            answered = kept.get(index)
        mine = problem if problem and problem.get("check") == index else {}
        if not mine and answered is None and personal:
            mine = saved_progress(question.slug, index)
        if answered is not None:
            resolved = answered.resolved  # the layout the answer was graded in
        else:
            # A question with params comes as the learner's variant, with its epoch.
            epoch = getattr(question, "variant_epoch", 0)
            resolved = resolve_check(check, key, check_id(question.slug, index), epoch=epoch)
            shown = getattr(question, "variant", None)
            if shown and resolved.variant is not None and resolved.variant != shown:
                # The checks show the numbers the question text shows, whoever drew them.
                resolved = stored_check(check, resolved.layout, shown)
        final = answered is not None and answered.grade.final
        views.append(
            CheckView(
                index=index,
                resolved=resolved,
                graded=answered if final else None,
                retry=answered if answered is not None and not final else None,
                waiting=pending if pending and pending.get("check") == index else None,
                problem=mine.get("message"),
                entered=mine.get("entered"),
                hints_shown=answered.grade.hints_used if answered else mine.get("hints_used", 0),
                tries_used=answered.grade.tries_used if answered else mine.get("tries_used", 0),
            )
        )
    return views


@dataclass(frozen=True)
class Graded:
    """A final grade shown without a stored answer around it (the review card's check)."""

    grade: Any


def card_check_view(
    question, index: int, grade=None, entered=None, problem: str | None = None
) -> CheckView:
    """The review card's check as this learner sees it (the same stable order as on the
    question page), graded once the card is turned over: drawn by the kind's own partial."""
    check = question.checks[index]
    # A card with params is drawn at the variant epoch its question was shown in (the
    # review grades in that one too), not at epoch 0.
    epoch = getattr(question, "variant_epoch", 0)
    resolved = resolve_check(check, learner_key(), check_id(question.slug, index), epoch=epoch)
    return CheckView(
        index=index,
        resolved=resolved,
        graded=Graded(grade) if grade is not None else None,
        problem=problem,
        entered=entered,
    )
