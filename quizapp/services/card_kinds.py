"""The two kinds of review card, a question's and an exercise's, described once.

Code that handles "a card" whatever its kind (undo, the review-log CSV, the API's `kind`)
looks the kind up here instead of branching on it, so a third kind would be one entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from quizapp.models import Exercise, ExerciseCard, Question, ReviewCard, ReviewLog


@dataclass(frozen=True)
class CardKind:
    name: str  # "question" or "exercise": the queue's and the API's `kind`
    content: type[Question] | type[Exercise]  # what the card is about
    card: type[ReviewCard] | type[ExerciseCard]  # the learner's FSRS memory of it
    reference: str  # the column naming the content, on the card and on a review log
    # card_id in the review-log CSV is this prefix and the slug. Question slugs never hold a
    # colon (content schema: lowercase letters, digits, dashes), so prefixed ids cannot clash
    # with theirs, and a question's card_id stays its bare slug, as in files exported before.
    revlog_prefix: str

    def content_id(self, row: ReviewLog | ReviewCard | ExerciseCard) -> int | None:
        return getattr(row, self.reference)

    def revlog_card_id(self, slug: str) -> str:
        return self.revlog_prefix + slug


QUESTION_CARDS = CardKind("question", Question, ReviewCard, "question_id", "")
EXERCISE_CARDS = CardKind("exercise", Exercise, ExerciseCard, "exercise_id", "exercise:")
CARD_KINDS = (QUESTION_CARDS, EXERCISE_CARDS)


def kind_of_log(log: ReviewLog) -> CardKind:
    """The kind of card a review log entry rated."""
    return next(kind for kind in CARD_KINDS if kind.content_id(log) is not None)


def kind_of_content(content: Question | Exercise) -> CardKind:
    return next(kind for kind in CARD_KINDS if isinstance(content, kind.content))


def parse_revlog_card_id(card_id: str) -> tuple[CardKind, str]:
    """(kind, slug) of a review-log CSV card_id; the longest matching prefix wins, so the
    bare slug of a question is the fallback."""
    kind = max(
        (kind for kind in CARD_KINDS if card_id.startswith(kind.revlog_prefix)),
        key=lambda kind: len(kind.revlog_prefix),
    )
    return kind, card_id[len(kind.revlog_prefix) :]
