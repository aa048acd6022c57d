"""Everything stored about a user, in one registry that the export and account deletion both
walk: a new personal table is one entry here, and the export and deletion follow.

Rows are exported column by column, so a new column appears in the export without anyone
remembering to add it; only the columns named in `withheld` (secrets and internal keys) stay
out. References to content become slugs, which mean something outside this database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from quizapp.extensions import db
from quizapp.models import (
    ApiToken,
    Attempt,
    Base,
    Exercise,
    ExerciseCard,
    ProblemReport,
    Question,
    ReviewCard,
    ReviewLog,
    ScheduleFit,
    SimRun,
    User,
)
from quizapp.models.base import utcnow

# Columns never exported from any table: internal row ids and the owner (it is "me").
ALWAYS_WITHHELD = frozenset({"id", "user_id"})
# Secrets and keys of the account row itself.
ACCOUNT_WITHHELD = frozenset(
    {
        "id",
        "username_key",  # the lower-cased username, a lookup key
        "password_hash",  # a secret, even hashed
        "session_token",  # would let the file's reader sign in as me
    }
)


@dataclass(frozen=True)
class PersonalTable:
    """One table of rows owned by a user (its `user_id` column names the owner)."""

    name: str  # the key of its list in the export
    model: type[Base]
    order_by: str = "id"
    withheld: frozenset[str] = field(default_factory=frozenset)
    renamed: dict[str, str] = field(default_factory=dict)  # column -> key in the export


PERSONAL_TABLES: tuple[PersonalTable, ...] = (
    PersonalTable("attempts", Attempt, renamed={"check_index": "check"}),
    # `version` is the optimistic-lock counter, not something the learner did.
    PersonalTable("review_cards", ReviewCard, withheld=frozenset({"version"})),
    # Exercises in review ("run it again and predict"), with the configuration each asks about.
    PersonalTable("exercise_cards", ExerciseCard, withheld=frozenset({"version"})),
    # The token's hash authenticates like the token itself would against a stolen database.
    PersonalTable("api_tokens", ApiToken, withheld=frozenset({"token_hash"})),
    # Exercise and lab runs with their choices, configs, predictions and outcomes. A run's
    # id is its public address (/runs/<id>); the cache key only indexes shared results.
    PersonalTable(
        "simulation_runs",
        SimRun,
        order_by="created_at",
        withheld=frozenset({"cache_key"}),
        renamed={"id": "run"},
    ),
    # Every rating, in the FSRS review-log terms (the CSV export is the same rows); the
    # attempt id points at a row id that is itself not exported.
    PersonalTable(
        "review_log", ReviewLog, order_by="reviewed_at", withheld=frozenset({"attempt_id"})
    ),
    # Every version of the learner's fitted FSRS parameters, with its figures.
    PersonalTable("schedule_fits", ScheduleFit, order_by="version"),
    # Reports to the authors and their answers; who answered stays the authors' business.
    PersonalTable("problem_reports", ProblemReport, withheld=frozenset({"replied_by_id"})),
)

# Foreign keys into content, exported as the slug a reader can look up.
_CONTENT_REFERENCES = {"questions": (Question, "question"), "exercises": (Exercise, "exercise")}


def personal_table_names() -> set[str]:
    """Every table with a `user_id` column: each must be in PERSONAL_TABLES."""
    return {name for name, table in Base.metadata.tables.items() if "user_id" in table.columns}


def delete_user_data(user_id: int) -> None:
    """Delete the user's rows from every personal table (no commit: the caller owns it)."""
    for table in PERSONAL_TABLES:
        db.session.execute(delete(table.model).where(table.model.user_id == user_id))


def export_user_data(user: User) -> dict[str, Any]:
    """Everything stored about the user as JSON-ready data: the account with its settings,
    then one list per personal table. Token secrets are never stored, so never exported."""
    slugs = {
        table: dict(db.session.execute(select(model.id, model.slug)).all())
        for table, (model, _) in _CONTENT_REFERENCES.items()
    }
    data: dict[str, Any] = {
        "exported_at": utcnow().isoformat(),
        "account": _row(user, ACCOUNT_WITHHELD, {}, slugs),
    }
    for table in PERSONAL_TABLES:
        model = table.model
        rows = db.session.scalars(
            select(model)
            .where(model.user_id == user.id)
            .order_by(getattr(model, table.order_by), *model.__table__.primary_key.columns)
        )
        withheld = ALWAYS_WITHHELD | table.withheld
        withheld -= set(table.renamed)  # a renamed column is exported under its new name
        data[table.name] = [_row(row, withheld, table.renamed, slugs) for row in rows]
    return data


def _row(row: Any, withheld: frozenset[str], renamed: dict[str, str], slugs) -> dict[str, Any]:
    exported: dict[str, Any] = {}
    for column in row.__table__.columns:
        if column.name in withheld:
            continue
        value = getattr(row, column.key)
        key = renamed.get(column.name, column.name)
        reference = next(iter(column.foreign_keys), None)
        target = reference.column.table.name if reference is not None else None
        if target in _CONTENT_REFERENCES:
            key = renamed.get(column.name, _CONTENT_REFERENCES[target][1])
            value = slugs[target].get(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        exported[key] = value
    return exported
