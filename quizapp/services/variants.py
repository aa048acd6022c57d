"""Which variant of a question a learner sees, and the question as they see it.

A question with params shows each learner their own numbers: drawn from their learner key,
the question and their card's `variant_epoch` (advanced when a review of the card is rated),
so a reload shows the same variant and the next review a new one. Visitors without an
account use epoch 0 with their session's key; visitors without a cookie all share the
reference variant, which is the one stored with the question.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from sqlalchemy import select

from quizapp.domain.grading import (
    ANONYMOUS_LEARNER,
    VARIANT_SPEC,
    account_key,
    check_kind,
    draw_variant,
    variant_check,
    variant_spec,
    variant_texts,
    variant_values,
)
from quizapp.domain.variants import distinct_draws, format_value, substitute
from quizapp.extensions import db
from quizapp.models import Question, ReviewCard


def learner_epoch(user_id: int | None, question_id: int) -> int:
    """The variant epoch of the learner's card for the question (0 without a card)."""
    if user_id is None:
        return 0
    epoch = db.session.scalar(
        select(ReviewCard.variant_epoch).where(
            ReviewCard.user_id == user_id, ReviewCard.question_id == question_id
        )
    )
    return int(epoch or 0)


class QuestionVariant:
    """A question as one learner sees it: its texts and checks in their variant; every
    other attribute is the question's own. Read-only, like the cached question it wraps."""

    def __init__(self, question: Question, params: dict[str, Any], epoch: int) -> None:
        if isinstance(question, QuestionVariant):  # always from the stored templates
            question = question._question
        self._question = question
        self.variant = params
        self.variant_epoch = epoch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._question, name)

    def _html(self, name: str) -> str:
        """One text rendered in this variant, on first use: the front of a review card shows
        only the question, and rendering math is most of a rating's time."""
        rendered = self.__dict__.setdefault("_rendered", {})
        if name not in rendered:
            q = self._question
            texts = {name: getattr(q, f"{name}_md")}
            rendered[name] = variant_texts(texts, q.variant_spec, self.variant)[name]
        return rendered[name]

    @property
    def question_html(self) -> str:
        return self._html("question")

    @property
    def answer_html(self) -> str:
        return self._html("answer")

    @property
    def explanation_html(self) -> str:
        return self._html("explanation")

    @cached_property
    def values(self) -> dict[str, Any]:
        return variant_values(self._question.variant_spec, self.variant)

    @property
    def question_md(self) -> str:
        return substitute(self._question.question_md, self.values)

    @property
    def answer_md(self) -> str:
        return substitute(self._question.answer_md, self.values)

    @property
    def explanation_md(self) -> str:
        return substitute(self._question.explanation_md, self.values)

    @cached_property
    def checks(self) -> list[dict[str, Any]]:
        return [
            variant_check(check, self.variant) if check.get(VARIANT_SPEC) else check
            for check in self._question.checks
        ]

    @property
    def variant_label(self) -> str:
        """The parameter values, for authors and exports: "n=17, w=0.5"."""
        return describe_variant(self.variant)


def describe_variant(params: dict[str, Any] | None) -> str:
    return ", ".join(f"{name}={format_value(value)}" for name, value in (params or {}).items())


def shown_question(
    question: Question, learner_key: str, epoch: int = 0
) -> Question | QuestionVariant:
    """The question as `learner_key` sees it at `epoch` (the question itself without params,
    or for visitors without a cookie, who see the stored reference variant)."""
    spec = getattr(question, "variant_spec", None)
    if not spec or (learner_key == ANONYMOUS_LEARNER and epoch == 0):
        return question
    params = draw_variant(spec, learner_key, question.slug, epoch)
    return QuestionVariant(question, params or {}, epoch)


def question_for_user(question: Question, user_id: int) -> Question | QuestionVariant:
    """The question in the variant a signed-in learner sees now."""
    if not getattr(question, "variant_spec", None):
        return question
    return shown_question(question, account_key(user_id), learner_epoch(user_id, question.id))


def stored_question(
    question: Question, params: dict[str, Any] | None
) -> Question | QuestionVariant:
    """The question in a recorded variant (itself when there is none)."""
    if not params or not getattr(question, "variant_spec", None):
        return question
    return QuestionVariant(question, params, epoch=0)


def sample_variants(
    slug: str,
    checks: list[dict[str, Any]],
    spec: dict[str, Any] | None,
    count: int = 5,
) -> list[dict[str, Any]]:
    """`count` variants of a question (stored checks and spec, from the database or a file
    rendered for import), each with its values and every check's prompt and key: what
    `flask content variants` prints and the author API returns."""
    parsed = variant_spec(spec)
    if parsed is None:
        return []
    samples = []
    for params in distinct_draws(parsed, slug, count, "sample"):
        values = parsed.complete(params)
        shown = []
        for index, check in enumerate(checks):
            instance = variant_check(check, params) if check.get(VARIANT_SPEC) else check
            kind = check_kind(instance)
            shown.append(
                {
                    "index": index,
                    "kind": kind.name,
                    "prompt": instance.get("prompt", ""),
                    "key": kind.key_text(instance),
                }
            )
        derived = {name: value for name, value in values.items() if name not in params}
        samples.append({"params": params, "derived": derived, "checks": shown})
    return samples


def reference_question(question: Question) -> Question | QuestionVariant:
    """The question in its reference variant (the one stored, shown to visitors without a
    cookie), with substituted markdown: for exports from the database."""
    spec = getattr(question, "variant_spec", None)
    if not spec:
        return question
    return stored_question(question, draw_variant(spec, ANONYMOUS_LEARNER, question.slug))
