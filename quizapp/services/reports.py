"""Learners report problems with a card or an exercise; authors answer them in an inbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from quizapp.extensions import db
from quizapp.models import (
    REPORT_CATEGORIES,
    REPORT_STATUSES,
    Exercise,
    ProblemReport,
    Question,
    User,
)
from quizapp.models.base import utcnow
from quizapp.services.errors import Forbidden, InvalidInput, NotFound
from quizapp.services.questions import get_question
from quizapp.services.simulations import get_exercise

MAX_MESSAGE_CHARS = 2_000
MAX_REPLY_CHARS = 2_000
# Authors and admins read and answer reports; learners only file their own.
REPORT_READERS = ("author", "admin")
# What a report can be about: one entry per kind of target, the page and API loop over it.
REPORT_TARGETS = {
    "question": (get_question, "question_id"),
    "exercise": (get_exercise, "exercise_id"),
}


@dataclass(frozen=True)
class ReportView:
    """A report with the names a reader needs, without lazy loads in templates."""

    id: int
    target_kind: str
    target_slug: str
    target_title: str
    category: str
    category_label: str
    message: str
    status: str
    status_label: str
    reply: str | None
    reporter: str
    replied_by: str | None
    created_at: datetime
    replied_at: datetime | None


def _clean_text(value: object, limit: int, name: str, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"The {name} must be text.", field=name)
    text = value.replace("\x00", "").strip()
    if required and not text:
        raise InvalidInput(f"Write the {name} first.", field=name)
    if len(text) > limit:
        raise InvalidInput(f"The {name} is longer than {limit} characters.", field=name)
    return text


def report_problem(
    user: User, target_kind: str, slug: str, category: object, message: object
) -> ProblemReport:
    """File a learner's report about a card or an exercise."""
    if target_kind not in REPORT_TARGETS:
        raise NotFound(f"Reports are about {', '.join(REPORT_TARGETS)}.")
    if category not in REPORT_CATEGORIES:
        raise InvalidInput(f"Choose a category: {', '.join(REPORT_CATEGORIES)}.", field="category")
    text = _clean_text(message, MAX_MESSAGE_CHARS, "message")
    load, column = REPORT_TARGETS[target_kind]
    target = load(slug)
    report = ProblemReport(user_id=user.id, category=category, message=text, status="open")
    setattr(report, column, target.id)
    db.session.add(report)
    db.session.commit()
    return report


def _views(statement) -> list[ReportView]:
    reporter, replier = aliased(User), aliased(User)
    rows = db.session.execute(
        statement.add_columns(
            Question.slug,
            Question.title,
            Exercise.slug,
            Exercise.title,
            reporter.username,
            replier.username,
        )  # fmt: skip
        .outerjoin(Question, Question.id == ProblemReport.question_id)
        .outerjoin(Exercise, Exercise.id == ProblemReport.exercise_id)
        .join(reporter, reporter.id == ProblemReport.user_id)
        .outerjoin(replier, replier.id == ProblemReport.replied_by_id)
    )
    views = []
    for report, q_slug, q_title, e_slug, e_title, reporter_name, replier_name in rows:
        is_question = report.question_id is not None
        views.append(
            ReportView(
                id=report.id,
                target_kind="question" if is_question else "exercise",
                target_slug=q_slug if is_question else e_slug,
                target_title=q_title if is_question else e_title,
                category=report.category,
                category_label=REPORT_CATEGORIES.get(report.category, report.category),
                message=report.message,
                status=report.status,
                status_label=REPORT_STATUSES.get(report.status, report.status),
                reply=report.reply,
                reporter=reporter_name,
                replied_by=replier_name,
                created_at=report.created_at,
                replied_at=report.replied_at,
            )
        )
    return views


def _require_reader(user: User) -> None:
    if getattr(user, "role", None) not in REPORT_READERS:
        raise Forbidden("Only authors and admins read reports.")


def list_reports(reader: User, status: str | None = None) -> list[ReportView]:
    """The inbox: open reports first, newest first within a status."""
    _require_reader(reader)
    statement = select(ProblemReport)
    if status is not None:
        if status not in REPORT_STATUSES:
            raise InvalidInput(f"Status is one of {', '.join(REPORT_STATUSES)}.", field="status")
        statement = statement.where(ProblemReport.status == status)
    open_first = (ProblemReport.status != "open").asc()
    return _views(statement.order_by(open_first, ProblemReport.created_at.desc()).limit(500))


def report_counts(reader: User) -> dict[str, int]:
    _require_reader(reader)
    rows = db.session.execute(
        select(ProblemReport.status, func.count()).group_by(ProblemReport.status)
    )
    counts = dict.fromkeys(REPORT_STATUSES, 0)
    counts.update({status: count for status, count in rows})
    return counts


def answer_report(reader: User, report_id: int, status: object, reply: object) -> ReportView:
    """Set a report's status and the reply its learner will see on their dashboard."""
    _require_reader(reader)
    if status not in REPORT_STATUSES:
        raise InvalidInput(f"Status is one of {', '.join(REPORT_STATUSES)}.", field="status")
    text = _clean_text(reply if reply is not None else "", MAX_REPLY_CHARS, "reply", False)
    report = db.session.get(ProblemReport, report_id)
    if report is None:
        raise NotFound(f"No report {report_id}.")
    report.status = status
    report.reply = text or None
    report.replied_by_id = reader.id
    report.replied_at = utcnow()
    db.session.commit()
    return _views(select(ProblemReport).where(ProblemReport.id == report_id))[0]


def my_reports(user: User, limit: int = 20) -> list[ReportView]:
    """The learner's own reports with their outcome, newest first."""
    statement = (
        select(ProblemReport)
        .where(ProblemReport.user_id == user.id)
        .order_by(ProblemReport.created_at.desc(), ProblemReport.id.desc())
        .limit(limit)
    )
    return _views(statement)
