"""Answer checking: resolve a check for a learner, then grade their response to it.

The kinds themselves (schema, grader, markdown fields, layout, form parser) live in
`quizapp.domain.check_kinds`, one module each, listed once in `CHECK_KINDS`.

Grading happens in two steps so that everything personal is decided in one place:
`resolve_check` fixes how one learner sees a check (the order of its options today,
a variant's values later), and `ResolvedCheck.grade` grades a response given in what the
learner saw, translating it back to the authored indexes that are stored.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from random import Random
from typing import Any

from quizapp.content.markdown import render_markdown
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
from quizapp.domain.variants import (
    Values,
    VariantSpec,
    evaluate_number,
    parse_spec,
    store_text,
    substitute,
    variant_seed,
)

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
    "stored_check",
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
    # The parameter values of this learner's variant (None: the check has no params).
    variant: dict[str, Any] | None = None

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


# Visitors with no session share one layout: their page is cached for all of them.
ANONYMOUS_LEARNER = "anonymous"


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


def question_of(check_id: str) -> str:
    """The question slug of a check id ("slug#2" -> "slug")."""
    return check_id.rpartition("#")[0] or check_id


# -- variants: a check whose question declares params is stored with its template ---------

VARIANT_SPEC = "variant_spec"  # {"params": ..., "derived": ...} as written in the YAML
VARIANT_TEMPLATE = "variant_template"  # the check as written, `{{ }}` and expressions kept


@lru_cache(maxsize=1024)
def _spec(spec_json: str) -> VariantSpec:
    stored = json.loads(spec_json)
    spec, problems = parse_spec(stored.get("params"), stored.get("derived"))
    if spec is None:  # the import validated it; a hand-edited row is a content error
        raise ValueError("; ".join(problem.message for problem in problems) or "no params")
    return spec


def variant_spec(stored: Mapping[str, Any] | None) -> VariantSpec | None:
    """The parsed spec stored with a question or check (None when it has no params)."""
    if not stored:
        return None
    # Not sorted: derived values are evaluated in the order they are written.
    return _spec(json.dumps(stored))


def draw_variant(
    stored: Mapping[str, Any] | None, learner_key: str, question_slug: str, epoch: int = 0
) -> dict[str, Any] | None:
    """The parameter values `learner_key` gets for a question at `epoch` (stable)."""
    spec = variant_spec(stored)
    if spec is None:
        return None
    return spec.draw(variant_seed(learner_key, question_slug, epoch))


def variant_values(stored: Mapping[str, Any] | None, params: Mapping[str, Any]) -> Values:
    """Parameter values with the derived ones added."""
    spec = variant_spec(stored)
    return spec.complete(params) if spec is not None else {}


def instantiate_check(template: Mapping[str, Any], values: Values) -> dict[str, Any]:
    """The check as written with `values` put in: texts substituted and rendered, number
    expressions evaluated. Raises VariantError or MarkdownError for a broken template."""
    kind = check_kind(template)
    check = copy.deepcopy(dict(template))
    for path, text in list(kind.markdown_fields(template)):
        shown = substitute(text, values)
        store_text(check, path, shown, render_markdown(shown))
    for name in kind.number_fields:
        if check.get(name) is not None:
            check[name] = evaluate_number(check[name], values)
    return check


def variant_check(check: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A stored variant check for the parameter values `params`."""
    values = variant_values(check[VARIANT_SPEC], params)
    instance = instantiate_check(check[VARIANT_TEMPLATE], values)
    instance[VARIANT_SPEC] = check[VARIANT_SPEC]
    instance[VARIANT_TEMPLATE] = check[VARIANT_TEMPLATE]
    return instance


def variant_texts(
    texts: Mapping[str, str], stored: Mapping[str, Any] | None, params: Mapping[str, Any]
) -> dict[str, str]:
    """Question-level markdown texts (name -> template) rendered for one variant."""
    values = variant_values(stored, params)
    return {name: render_markdown(substitute(text, values)) for name, text in texts.items()}


def resolve_check(
    check: Mapping[str, Any], learner_key: str, check_id: str, *, epoch: int = 0
) -> ResolvedCheck:
    """How the learner `learner_key` sees the check `check_id` (e.g. "slug#0"): stable.

    A check whose question declares params is shown in the learner's variant, drawn from
    their key, the question and `epoch` (advanced when a review of the card is rated)."""
    kind = check_kind(check)
    variant = None
    if check.get(VARIANT_SPEC):
        variant = draw_variant(check[VARIANT_SPEC], learner_key, question_of(check_id), epoch)
        if variant is not None:
            check = variant_check(check, variant)
    layout = kind.present(check, Random(layout_seed(learner_key, check_id)))
    return ResolvedCheck(check, kind, layout, variant)


def stored_check(
    check: Mapping[str, Any], layout: Layout | None, variant: Mapping[str, Any] | None = None
) -> ResolvedCheck:
    """A check with the layout and variant recorded beside an attempt (authored order, and
    the stored reference variant, when none was or the params have changed since)."""
    spec = variant_spec(check.get(VARIANT_SPEC))
    recorded = dict(variant) if variant else None
    if spec is not None and recorded is not None and spec.accepts(recorded):
        check = variant_check(check, recorded)
    else:
        recorded = None
    return ResolvedCheck(check, check_kind(check), dict(layout or {}), recorded)
