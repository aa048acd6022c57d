"""Answer checking: resolve a check for a learner, then grade their response to it.

The kinds themselves (schema, grader, markdown fields, layout, form parser) live in
`quizapp.domain.check_kinds`, one module each, listed once in `CHECK_KINDS`.

Grading happens in two steps so that everything personal is decided in one place:
`resolve_check` fixes how one learner sees a check (the order of its options today,
a variant's values later), and `ResolvedCheck.grade` grades a response given in what the
learner saw, translating it back to the authored indexes that are stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from random import Random
from typing import Any

from quizapp.domain.check_kinds import AUTOMATIC_KINDS, CHECK_KINDS
from quizapp.domain.check_kinds.base import (
    MAX_ANSWER_CHARS,
    MAX_ANSWER_ITEMS,
    CheckKind,
    Grade,
    InvalidResponse,
    Layout,
    allowed_tries,
    hint_penalty,
)
from quizapp.domain.check_kinds.self_rated import SELF_RATING_SCORES, SELF_RATINGS

__all__ = [
    "AUTOMATIC_KINDS",
    "CHECK_KINDS",
    "MAX_ANSWER_CHARS",
    "MAX_ANSWER_ITEMS",
    "SELF_RATINGS",
    "SELF_RATING_SCORES",
    "CheckKind",
    "Grade",
    "InvalidResponse",
    "ResolvedCheck",
    "check_kind",
    "grade_response",
    "resolve_check",
]


def check_kind(check: Mapping[str, Any]) -> CheckKind:
    """The registered kind of `check`; ValueError (a content error) for an unknown kind."""
    kind = check.get("kind")
    unit = CHECK_KINDS.get(kind) if isinstance(kind, str) else None
    if unit is None:
        # A content error, not the learner's: the schema should have refused it.
        raise ValueError(f"unknown check kind {kind!r}; known kinds: {', '.join(CHECK_KINDS)}")
    return unit


def _refuse_oversized(response: object) -> None:
    # Size limits come first so no grader ever parses an oversized payload.
    if isinstance(response, str) and len(response.strip()) > MAX_ANSWER_CHARS:
        raise InvalidResponse(f"answer too long: at most {MAX_ANSWER_CHARS:,} characters")
    if isinstance(response, (list, tuple)) and len(response) > MAX_ANSWER_ITEMS:
        raise InvalidResponse(f"answer too long: at most {MAX_ANSWER_ITEMS} items")


def grade_response(check: Mapping[str, Any], response: object, rating: str | None = None) -> Grade:
    """Grade a response in authored terms; raise InvalidResponse for unusable input.

    `rating` (again/hard/good/easy) is required for self_rated checks and ignored otherwise.
    """
    kind = check_kind(check)
    _refuse_oversized(response)
    return kind.grade(check, response, rating)


@dataclass(frozen=True)
class ResolvedCheck:
    """One check as one learner sees it: the authored check and this learner's layout."""

    check: Mapping[str, Any]
    kind: CheckKind
    layout: Layout = field(default_factory=dict)

    def order(self, name: str) -> list[int]:
        """Authored indexes of the list `name` in the order this learner sees them."""
        items = self.check.get(name) or ()
        return self.layout.get(name) or list(range(len(items)))

    def from_display(self, response: object) -> object:
        """A response given in displayed positions, in authored indexes."""
        _refuse_oversized(response)
        return self.kind.from_display(self.check, self.layout, response)

    def to_display(self, value: object) -> object:
        """An authored value (a stored response, the key) in displayed positions."""
        return self.kind.to_display(self.check, self.layout, value)

    def grade(
        self,
        response: object,
        rating: str | None = None,
        *,
        hints_used: int = 0,
        tries_used: int = 1,
    ) -> Grade:
        """Grade a response given in displayed positions, as the `tries_used`-th try after
        `hints_used` hints were revealed."""
        grade = grade_response(self.check, self.from_display(response), rating)
        return apply_hints_and_tries(self.check, self.kind, grade, hints_used, tries_used)

    def display_verdicts(self, grade: Grade) -> list[str]:
        """The grade's per-item verdicts in the order this learner saw the items."""
        if not grade.verdicts:
            return []
        name = self.kind.verdicts_follow
        order = self.order(name) if name else range(len(grade.verdicts))
        return [grade.verdicts[i] for i in order]

    @property
    def hints_html(self) -> list[str]:
        return list(self.check.get("hints_html") or self.check.get("hints") or [])

    @property
    def tries(self) -> int:
        return allowed_tries(self.check, self.kind)

    @property
    def hint_penalty(self) -> float:
        return hint_penalty(self.check)

    def public(self) -> dict[str, Any]:
        """The check as the learner's client may see it (no key), in displayed order."""
        return self.kind.public(self.check, self.layout)


def apply_hints_and_tries(
    check: Mapping[str, Any], kind: CheckKind, grade: Grade, hints_used: int, tries_used: int
) -> Grade:
    """Take each revealed hint's penalty off the score, and decide whether the learner may
    try again (a wrong answer with tries left is not final: its key stays hidden)."""
    hints = max(0, min(int(hints_used or 0), len(check.get("hints") or ())))
    allowed = allowed_tries(check, kind)
    tries = max(1, min(int(tries_used or 1), allowed))
    final = grade.correct or tries >= allowed or not kind.automatic
    score = grade.score
    if hints:
        score = max(0.0, round(score - hints * hint_penalty(check), 6))
    return replace(
        grade,
        score=score,
        raw_score=grade.score if hints else None,
        hints_used=hints,
        tries_used=tries,
        tries_left=0 if final else allowed - tries,
        final=final,
        expected=grade.expected if final else None,
    )


def account_key(user_id: int) -> str:
    """The learner key of an account: its layouts follow it on every device."""
    return f"user:{user_id}"


def check_id(slug: str, index: int) -> str:
    """Names one check of one question for layout seeds."""
    return f"{slug}#{index}"


def layout_seed(learner_key: str, check_id: str) -> int:
    """A stable seed per learner and check, the same in every process and after restarts."""
    digest = hashlib.sha256(f"{learner_key}\0{check_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def resolve_check(check: Mapping[str, Any], learner_key: str, check_id: str) -> ResolvedCheck:
    """How the learner `learner_key` sees the check `check_id` (e.g. "slug#0"): stable."""
    kind = check_kind(check)
    layout = kind.present(check, Random(layout_seed(learner_key, check_id)))
    return ResolvedCheck(check, kind, layout)


def stored_check(check: Mapping[str, Any], layout: Layout | None) -> ResolvedCheck:
    """A check with the layout recorded beside an attempt (authored order when none was)."""
    return ResolvedCheck(check, check_kind(check), dict(layout or {}))
