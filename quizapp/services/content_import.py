"""Import the content folder into the database: validate everything, then one transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select, update

from quizapp.content.loader import (
    Bank,
    ContentError,
    SourceDocument,
    exercise_markdown_fields,
    load_bank,
    markdown_fields,
    texts_that_parse,
)
from quizapp.content.rendering import (
    RenderFailed,
    render_exercise,
    render_problems,
    render_question,
)
from quizapp.content.variant_check import IMPORT_SAMPLES, variant_problems
from quizapp.domain.variants import has_template
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
    """Every problem of every file in one pass: parse, schema, links, every text that would
    not render and, given a simulator, whether each otherwise valid exercise can be solved
    but not by every choice. Sorted by file and line."""
    bank = load_bank(root)
    for texts, documents, invalid in (
        (markdown_fields, bank.documents, bank.invalid_documents),
        (exercise_markdown_fields, bank.exercise_documents, bank.invalid_exercises),
    ):
        for document in documents.values():
            # Texts with `{{ }}` are rendered per variant by variant_problems below.
            bank.errors.extend(render_problems(document, partial(_plain_texts, texts)))
        for document in invalid.values():
            bank.errors.extend(render_problems(document, partial(texts_that_parse, texts)))
    with_problems = {error.path for error in bank.errors}
    for document in bank.documents.values():
        if document.path not in with_problems:
            bank.errors.extend(variant_problems(document))
    if simulate is not None:
        from quizapp.services.exercise_lint import lint_exercises

        with_problems = {error.path for error in bank.errors}
        clean = [doc for doc in bank.exercise_documents.values() if doc.path not in with_problems]
        bank.errors.extend(lint_exercises(clean, simulate))
    bank.errors = sorted(set(bank.errors))  # a text can fail the lint and the renderer alike
    return bank


def _plain_texts(texts, data):
    return ((path, text) for path, text in texts(data) if not has_template(text))


def import_content(root: Path, progress: Progress | None = None) -> ImportReport:
    """Bring the database in line with `root`; raise ContentInvalid and write nothing on errors."""
    bank = load_bank(root)
    if not bank.errors:
        # A variant that fails for some learner must not reach the database either.
        for document in bank.documents.values():
            bank.errors.extend(variant_problems(document, IMPORT_SAMPLES))
    if bank.errors:
        raise ContentInvalid(sorted(bank.errors))
    return _import_bank(bank, progress or _no_progress)


def _import_bank(
    bank: Bank, progress: Progress, keep: frozenset[str] = frozenset()
) -> ImportReport:
    """Write `bank` in one transaction; rows of slugs in `keep` stay as they are, not retired."""
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
            rows = _sync_rows(model, existing[model], documents, rendered[model], now, report, keep)
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


def import_what_is_valid(root: Path) -> Bank:
    """Import every file of `root` that has no problem and keep the last good version of the
    others (for the author's preview); returns the checked bank with every problem."""
    bank = check_content(root)
    broken = {error.path for error in bank.errors}
    known_topics = {topic["slug"] for topic in bank.topics} | set(
        db.session.scalars(select(Topic.slug))
    )
    bank.topics = bank.topics or [
        {"slug": topic.slug, "title": topic.title, "description": topic.description}
        for topic in db.session.scalars(select(Topic).order_by(Topic.position))
    ]
    questions = {
        slug: document
        for slug, document in bank.documents.items()
        if document.path not in broken and set(document.data["topics"]) <= known_topics
    }
    exercises = {
        slug: document
        for slug, document in bank.exercise_documents.items()
        if document.path not in broken
    }
    keep = frozenset(
        (set(bank.documents) - set(questions))
        | (set(bank.exercise_documents) - set(exercises))
        | set(bank.invalid_documents)
        | set(bank.invalid_exercises)
    )
    bank.documents, bank.exercise_documents = questions, exercises
    _import_bank(bank, _no_progress, keep)
    return bank


def _sync_rows(
    model: type[Question] | type[Exercise],
    existing: dict[str, Question | Exercise],
    documents: dict[str, SourceDocument],
    rendered: list[dict[str, Any]],
    now: datetime,
    report: ImportReport,
    keep: frozenset[str] = frozenset(),
) -> dict[str, Question | Exercise]:
    """Insert or update the rendered rows, retire rows whose file is gone (unless in `keep`);
    returns the changed rows."""
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
        elif row.retired_at is None and slug not in keep:
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
