"""Accounts: registration, log-in checks, passwords, roles, API tokens, deletion."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from quizapp.extensions import db
from quizapp.models import ROLES, ApiToken, User
from quizapp.models.accounts import new_session_token
from quizapp.models.base import utcnow
from quizapp.services.errors import Conflict, InvalidInput, NotFound

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{3,40}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
TOKEN_PREFIX = "qz_"
# Lifetimes offered for API tokens, in days; None never expires (until revoked).
TOKEN_LIFETIMES_DAYS = (7, 30, 90, 365, None)
DEFAULT_TOKEN_LIFETIME_DAYS = 90
MAX_ACTIVE_TOKENS = 20
# A few of the most common passwords of that length; the length rule does most of the work.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890", "12345678910", "password123", "password12", "qwertyuiop", "1q2w3e4r5t",
        "iloveyou123", "qwerty1234", "abcdefghij", "0123456789", "passw0rd123", "letmein123",
        "welcome123", "administrator", "qwertyuiop1", "1111111111", "aaaaaaaaaa",
    }
)  # fmt: skip

# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): strong against
# offline guessing, yet a sign-up or log-in costs tens of milliseconds, not a second of CPU.
# Hashes made with other parameters still verify and are upgraded at the next log-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the username is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


def check_password_strength(password: str, username: str = "") -> None:
    """Raise InvalidInput when the password is too weak to protect an account."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Password must be at most {MAX_PASSWORD_LENGTH} characters.", field="password"
        )
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4:
        raise InvalidInput("That password is too easy to guess.", field="password")
    if username and username.lower() in lowered:
        raise InvalidInput("The password must not contain the username.", field="password")


def register_user(username: str, password: str, role: str = "learner") -> User:
    """Create an account; Conflict when the username is taken (any case)."""
    username = username.strip()
    if not USERNAME_PATTERN.match(username):
        raise InvalidInput(
            "Username must be 3 to 40 characters: letters a–z without accents, digits, dots, "
            "dashes or underscores.",
            field="username",
        )
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of {', '.join(ROLES)}.", field="role")
    check_password_strength(password, username)
    key = username.lower()
    if db.session.scalar(select(User.id).where(User.username_key == key)) is not None:
        raise Conflict("That username is taken. Choose another.", field="username")
    user = User(
        username=username, username_key=key, password_hash=_hasher.hash(password), role=role
    )
    db.session.add(user)
    try:
        db.session.commit()
    except Exception as error:  # a concurrent registration won the unique index
        db.session.rollback()
        if "unique" in str(error).lower() or "duplicate" in str(error).lower():
            raise Conflict("That username is taken. Choose another.", field="username") from None
        raise
    return user


def authenticate(username: str, password: str) -> User | None:
    """The user whose credentials these are, or None (same work whether or not the user exists)."""
    user = db.session.scalar(select(User).where(User.username_key == username.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        db.session.commit()
    return user


def load_session_user(session_token: str) -> User | None:
    """The user whose current session token this is; None for a stale, foreign or forged one."""
    if not session_token or len(session_token) > 64:
        return None
    return db.session.scalar(select(User).where(User.session_token == session_token))


def end_all_sessions(user: User) -> None:
    """Sign the user out everywhere: every session and remember-me cookie issued so far stops
    working, because the token they name is replaced (a log-out is enforced by the server, not
    by the browser forgetting its cookie)."""
    user.session_token = new_session_token()
    db.session.commit()


def change_password(
    user: User, current_password: str, new_password: str, revoke_tokens: bool = False
) -> int:
    """Set a new password after checking the current one; every session is signed out (the
    caller signs the current device in again with the new session token). With
    `revoke_tokens`, every API token is revoked in the same transaction; returns how many."""
    try:
        _hasher.verify(user.password_hash, current_password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise InvalidInput("The current password is wrong.", field="current_password") from None
    check_password_strength(new_password, user.username)
    user.password_hash = _hasher.hash(new_password)
    user.session_token = new_session_token()
    revoked = _revoke_all_tokens(user) if revoke_tokens else 0
    db.session.commit()
    return revoked


def _revoke_all_tokens(user: User) -> int:
    now = utcnow()
    active = [token for token in user.tokens if token.revoked_at is None]
    for token in active:
        token.revoked_at = now
    return len(active)


def revoke_all_api_tokens(user: User) -> int:
    """Revoke every active API token of the user; returns how many."""
    revoked = _revoke_all_tokens(user)
    db.session.commit()
    return revoked


def set_desired_retention(user: User, retention: float) -> None:
    if not 0.7 <= retention <= 0.99:
        raise InvalidInput("Desired retention must be between 0.70 and 0.99.", field="retention")
    user.desired_retention = retention
    db.session.commit()


def set_role(username: str, role: str) -> User:
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of {', '.join(ROLES)}.", field="role")
    user = db.session.scalar(select(User).where(User.username_key == username.lower()))
    if user is None:
        raise NotFound(f"No user '{username}'.")
    user.role = role
    db.session.commit()
    return user


def find_user(username: str) -> User:
    """The account with this username (any case); NotFound otherwise."""
    user = db.session.scalar(select(User).where(User.username_key == username.strip().lower()))
    if user is None:
        raise NotFound(f"No user '{username}'.")
    return user


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username_key)))


def delete_account(user: User) -> None:
    """Delete the account and everything about it (attempts, cards, tokens, runs)."""
    from quizapp.services.personal_data import delete_user_data

    delete_user_data(user.id)
    db.session.delete(user)
    db.session.commit()


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def is_token_active(token: ApiToken, now: datetime | None = None) -> bool:
    """Neither revoked nor past its expiry."""
    now = now or utcnow()
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


def active_api_tokens(user: User) -> list[ApiToken]:
    """The tokens that still authenticate, newest first."""
    now = utcnow()
    tokens = [token for token in user.tokens if is_token_active(token, now)]
    return sorted(tokens, key=lambda token: token.created_at, reverse=True)


def create_api_token(
    user: User, name: str, expires_in_days: int | None = DEFAULT_TOKEN_LIFETIME_DAYS
) -> NewToken:
    """A new token, valid `expires_in_days` (None: until revoked); its secret is shown once."""
    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise InvalidInput("Give the token a name of 1 to 80 characters.", field="name")
    if expires_in_days not in TOKEN_LIFETIMES_DAYS:
        choices = ", ".join(str(days) for days in TOKEN_LIFETIMES_DAYS if days)
        raise InvalidInput(f"A token expires in {choices} days, or never.", field="expires_in_days")
    if len(active_api_tokens(user)) >= MAX_ACTIVE_TOKENS:
        raise Conflict(f"You have {MAX_ACTIVE_TOKENS} active tokens; revoke one first.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(
        user=user,
        name=name,
        token_hash=_hash_token(secret),
        prefix=secret[:10],
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    db.session.add(token)
    db.session.commit()
    return NewToken(token=token, secret=secret)


def revoke_api_token(user: User, token_id: int) -> None:
    token = db.session.get(ApiToken, token_id)
    # Another user's token is reported exactly like a missing one.
    if token is None or token.user_id != user.id:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()


def user_for_api_token(secret: str) -> User | None:
    """The owner of an active token, recording its use; None for an unknown, revoked or
    expired token."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(secret)))
    if token is None or not is_token_active(token):
        return None
    token.last_used_at = utcnow()
    db.session.commit()
    return token.user
