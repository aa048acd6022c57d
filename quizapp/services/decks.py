"""Anki decks of the imported bank for learners to download: one per topic, or all of it.

A deck is built once per content version and kept as a file; a new import builds the next.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from quizapp.content.interchange import EXPORTERS
from quizapp.content.loader import Bank
from quizapp.extensions import db
from quizapp.models import Question, Topic
from quizapp.services.errors import NotFound
from quizapp.services.questions import content_version
from quizapp.services.variants import reference_question

# Bump when the deck's layout changes, so cached decks are built again.
DECK_FORMAT = "1"


def _cards(topic: Topic | None) -> list[dict]:
    statement = (
        select(Question)
        .where(Question.retired_at.is_(None))
        .options(selectinload(Question.topics))
        .order_by(Question.slug)
    )
    if topic is not None:
        statement = statement.where(Question.topics.any(Topic.id == topic.id))
    cards = []
    for row in db.session.scalars(statement):
        shown = reference_question(row)  # a question with params: its reference variant
        cards.append(
            {
                "slug": row.slug,
                "title": row.title,
                "difficulty": row.difficulty,
                "topics": [t.slug for t in row.topics] or ["general"],
                "question": shown.question_md,
                "answer": shown.answer_md,
                "explanation": shown.explanation_md,
                "references": row.references,
            }
        )
    return cards


def deck_file(topic_slug: str | None, cache_dir: Path) -> tuple[Path, str]:
    """The .apkg of one topic (or the whole bank when None) and the name to download it as."""
    topic = None
    if topic_slug is not None:
        topic = db.session.scalar(select(Topic).where(Topic.slug == topic_slug))
        if topic is None:
            raise NotFound(f"No topic '{topic_slug}'.")
    name = topic.slug if topic else "bank"
    version = repr((content_version(), DECK_FORMAT, name)).encode()
    path = Path(cache_dir) / f"{name}-{hashlib.sha256(version).hexdigest()[:16]}.apkg"
    if not path.exists():
        cards = _cards(topic)
        topics = [
            {"slug": row.slug, "title": row.title, "description": row.description}
            for row in db.session.scalars(select(Topic))
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(descriptor)
        try:
            EXPORTERS["apkg"](Bank(root=path.parent, topics=topics), cards, Path(temporary))
            os.replace(temporary, path)  # atomic: a concurrent download never gets half a deck
        finally:
            Path(temporary).unlink(missing_ok=True)
    return path, f"quizapp-{name}.apkg"
