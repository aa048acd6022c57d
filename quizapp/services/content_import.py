"""Import the content folder into the database: validate everything, then one transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select

from quizapp.content.loader import Bank, ContentError, load_bank
from quizapp.content.rendering import RenderFailed, render_question
from quizapp.extensions import db
from quizapp.models import Question, Topic
from quizapp.models.base import utcnow

T = TypeVar("T")
Progress = Callable[[list[T]], Iterable[T]]


class ContentInvalid(Exception):
    """The content has errors; nothing was written."""

    def __init__(self, errors: list[ContentError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the content")
        self.errors = errors


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    topics_changed: int = 0

    def summary(self) -> str:
        text = (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.retired)} retired"
        )
        if self.restored:
            text += f", {len(self.restored)} restored"
        return text


def _no_progress(items: list[T]) -> Iterable[T]:
    return items


def check_content(root: Path) -> Bank:
    """Validate the folder and render every question, so bad math is found before import."""
    bank = load_bank(root)
    for document in bank.documents.values():
        try:
            render_question(document)
        except RenderFailed as failure:
            bank.errors.append(failure.error)
    bank.errors.sort()
    return bank


def import_content(root: Path, progress: Progress | None = None) -> ImportReport:
    """Bring the database in line with `root`; raise ContentInvalid and write nothing on errors."""
    progress = progress or _no_progress
    bank = load_bank(root)
    if bank.errors:
        raise ContentInvalid(bank.errors)

    existing = {q.slug: q for q in db.session.scalars(select(Question))}
    changed = [
        document
        for slug, document in bank.documents.items()
        if slug not in existing or existing[slug].content_hash != document.content_hash
    ]
    rendered: list[dict[str, Any]] = []
    errors: list[ContentError] = []
    for document in progress(changed):
        try:
            rendered.append(render_question(document))
        except RenderFailed as failure:
            errors.append(failure.error)
    if errors:
        raise ContentInvalid(sorted(errors))

    report = ImportReport()
    try:
        topics = _sync_topics(bank.topics, report)
        now = utcnow()
        for fields in rendered:
            question = existing.get(fields["slug"])
            topic_slugs = bank.documents[fields["slug"]].data["topics"]
            if question is None:
                question = Question(**fields, created_at=now, updated_at=now)
                db.session.add(question)
                report.added.append(fields["slug"])
            else:
                for name, value in fields.items():
                    setattr(question, name, value)
                question.updated_at = now
                if question.retired_at is not None:
                    question.retired_at = None
                    report.restored.append(fields["slug"])
                report.updated.append(fields["slug"])
            question.topics = [topics[slug] for slug in topic_slugs]
        changed_slugs = {fields["slug"] for fields in rendered}
        for slug, question in existing.items():
            if slug in bank.documents:
                if slug not in changed_slugs:
                    if question.retired_at is not None:
                        question.retired_at = None
                        report.restored.append(slug)
                    else:
                        report.unchanged.append(slug)
            elif question.retired_at is None:
                question.retired_at = now
                report.retired.append(slug)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report


def _sync_topics(declared: list[dict[str, Any]], report: ImportReport) -> dict[str, Topic]:
    topics = {topic.slug: topic for topic in db.session.scalars(select(Topic))}
    for position, data in enumerate(declared):
        topic = topics.get(data["slug"])
        if topic is None:
            topic = Topic(slug=data["slug"])
            db.session.add(topic)
            topics[data["slug"]] = topic
        values = {"title": data["title"], "description": data["description"], "position": position}
        if any(getattr(topic, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(topic, name, value)
            report.topics_changed += 1
    return topics
