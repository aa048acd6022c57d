"""SQLAlchemy models; importing this package registers every table on the metadata."""

from quizapp.models.accounts import ROLES, ApiToken, Attempt, ReviewCard, User
from quizapp.models.base import Base
from quizapp.models.content import Question, Topic, question_topics

__all__ = [
    "ROLES",
    "ApiToken",
    "Attempt",
    "Base",
    "Question",
    "ReviewCard",
    "Topic",
    "User",
    "question_topics",
]
