"""Import the content folder into the database: validate everything, then one transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select, update

from quizapp.content.loader import Bank, ContentError, SourceDocument, load_bank
from quizapp.content.rendering import RenderFailed, render_exercise, render_question
from quizapp.extensions import db
from quizapp.models import Attempt, Exercise, Question, Topic
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
    renamed: list[str] = field(default_factory=list)  # "old -> new"
    topics_changed: int = 0

    def summary(self) -> str:
        text = (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.retired)} retired"
        )
        if self.restored:
            text += f", {len(self.restored)} restored"
        if self.renamed:
            text += f", {len(self.renamed)} renamed"
        return text


def _no_progress(items: list[T]) -> Iterable[T]:
    return items


def check_content(root: Path, simulate: Callable[[dict], dict] | None = None) -> Bank:
    """Validate the folder, render every text (bad math is found before import) and, given
    a simulator, check that each exercise can be solved but not by every choice."""
    bank = load_bank(root)
    for render, documents in (
        (render_question, bank.documents),
        (render_exercise, bank.exercise_documents),
    ):
        for document in documents.values():
            try:
                render(document)
            except RenderFailed as failure:
                bank.errors.append(failure.error)
    if simulate is not None and not bank.errors:
        from quizapp.services.exercise_lint import lint_exercises

        bank.errors.extend(lint_exercises(bank.exercise_documents.values(), simulate))
    bank.errors.sort()
    return bank


def import_content(root: Path, progress: Progress | None = None) -> ImportReport:
    """Bring the database in line with `root`; raise ContentInvalid and write nothing on errors."""
    progress = progress or _no_progress
    bank = load_bank(root)
    if bank.errors:
        raise ContentInvalid(bank.errors)

    kinds = [
        (Question, bank.documents, render_question),
        (Exercise, bank.exercise_documents, render_exercise),
    ]
    existing = {model: {row.slug: row for row in db.session.scalars(select(model))}
                for model, _, _ in kinds}  # fmt: skip
    renames = {model: _plan_renames(existing[model], documents) for model, documents, _ in kinds}
    for model, planned in renames.items():
        for old, new in planned.items():
            existing[model][new] = existing[model].pop(old)
    work = [
        (model, render, document)
        for model, documents, render in kinds
        for slug, document in documents.items()
        if slug not in existing[model]
        or existing[model][slug].content_hash != document.content_hash
    ]
    rendered: dict[type, list[dict[str, Any]]] = {model: [] for model, _, _ in kinds}
    errors: list[ContentError] = []
    for model, render, document in progress(work):
        try:
            rendered[model].append(render(document))
        except RenderFailed as failure:
            errors.append(failure.error)
    if errors:
        raise ContentInvalid(sorted(errors))

    report = ImportReport()
    try:
        for model, planned in renames.items():
            for old, new in planned.items():
                report.renamed.append(f"{old} -> {new}")
                if model is Exercise:
                    db.session.execute(
                        update(Attempt)
                        .where(Attempt.exercise_slug == old)
                        .values(exercise_slug=new)
                    )
        topics = _sync_topics(bank.topics, report)
        now = utcnow()
        for model, documents, _ in kinds:
            rows = _sync_rows(model, existing[model], documents, rendered[model], now, report)
            if model is Question:
                for slug, question in rows.items():
                    question.topics = [topics[name] for name in documents[slug].data["topics"]]
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report


def _plan_renames(
    existing: dict[str, Question | Exercise], documents: dict[str, SourceDocument]
) -> dict[str, str]:
    """Old slug -> new slug for each file that lists a stored row's slug among its aliases:
    that row is renamed (keeping its attempts and history) rather than retired and replaced."""
    planned: dict[str, str] = {}
    for slug, document in documents.items():
        if slug in existing:
            continue
        for alias in document.data["aliases"]:
            if alias in existing and alias not in documents and alias not in planned:
                planned[alias] = slug
                break
    return planned


def _sync_rows(
    model: type[Question] | type[Exercise],
    existing: dict[str, Question | Exercise],
    documents: dict[str, SourceDocument],
    rendered: list[dict[str, Any]],
    now: datetime,
    report: ImportReport,
) -> dict[str, Question | Exercise]:
    """Insert or update the rendered rows, retire rows whose file is gone; returns changed rows."""
    changed: dict[str, Question | Exercise] = {}
    for fields in rendered:
        row = existing.get(fields["slug"])
        if row is None:
            row = model(**fields, updated_at=now)
            db.session.add(row)
            report.added.append(fields["slug"])
        else:
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = now
            if row.retired_at is not None:
                row.retired_at = None
                report.restored.append(fields["slug"])
            report.updated.append(fields["slug"])
        changed[fields["slug"]] = row
    for slug, row in existing.items():
        if slug in documents:
            if slug in changed:
                continue
            if row.retired_at is not None:
                row.retired_at = None
                report.restored.append(slug)
            else:
                report.unchanged.append(slug)
        elif row.retired_at is None:
            row.retired_at = now
            report.retired.append(slug)
    return changed


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
