"""Removing everything a user owns, table by table, inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import delete

from quizapp.extensions import db
from quizapp.models import ApiToken, Attempt, ProblemReport, ReviewCard, SimRun

# Every table holding a user's data; a new one is one entry here (and in the export).
USER_OWNED_TABLES = [Attempt, ReviewCard, ApiToken, SimRun, ProblemReport]


def delete_user_data(user_id: int) -> None:
    """Delete the user's rows from every user-owned table (no commit: the caller owns it)."""
    for model in USER_OWNED_TABLES:
        db.session.execute(delete(model).where(model.user_id == user_id))
