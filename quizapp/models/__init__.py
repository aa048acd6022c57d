"""SQLAlchemy models; importing this package registers every table on the metadata."""

from quizapp.models.accounts import ROLES, ApiToken, Attempt, ReviewCard, User
from quizapp.models.authoring import (
    REPORT_CATEGORIES,
    REPORT_STATUSES,
    ProblemReport,
    StatSnapshot,
)
from quizapp.models.base import Base
from quizapp.models.content import Question, Topic, question_topics
from quizapp.models.exercises import RUN_STATUSES, Exercise, SimResult, SimRun
from quizapp.models.phase import PhaseCell, PhaseSweep
from quizapp.models.review import ExerciseCard, ReviewLog, ScheduleFit

__all__ = [
    "ROLES",
    "ApiToken",
    "Attempt",
    "Base",
    "Exercise",
    "ExerciseCard",
    "PhaseCell",
    "PhaseSweep",
    "RUN_STATUSES",
    "SimResult",
    "SimRun",
    "StatSnapshot",
    "Question",
    "ProblemReport",
    "REPORT_CATEGORIES",
    "REPORT_STATUSES",
    "ReviewCard",
    "ReviewLog",
    "ScheduleFit",
    "Topic",
    "User",
    "question_topics",
]
