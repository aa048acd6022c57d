"""Accounts through the service: registration, passwords, roles, API tokens and deletion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import submit_authored
from sqlalchemy import func, select, text

from quizapp.extensions import db
from quizapp.models import ApiToken, Attempt, ReviewCard, User
from quizapp.services import accounts
from quizapp.services.content_import import import_content
from quizapp.services.errors import Conflict, InvalidInput, NotFound

PASSWORD = "correct horse battery"
NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def count(model, **where) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return db.session.scalar(query)


# Registration and passwords


def make_users(*names: str) -> list[User]:
    users = [User(username=name, username_key=name, password_hash="x") for name in names]
    db.session.add_all(users)
    db.session.commit()
    return users


def test_registration_stores_an_argon2_hash_never_the_password(ctx):
    user = accounts.register_user("  Ada.L  ", PASSWORD)
    assert (user.username, user.username_key, user.role) == ("Ada.L", "ada.l", "learner")
    assert user.password_hash.startswith("$argon2id$")
    raw = db.session.execute(text("SELECT * FROM users")).one()
    assert not any(PASSWORD in str(value) for value in raw)
    assert user.desired_retention == 0.9


def test_log_in_checks_the_password_and_ignores_username_case(ctx):
    user = accounts.register_user("ada", PASSWORD)
    assert accounts.authenticate("ADA ", PASSWORD) == user
    assert accounts.authenticate("ada", PASSWORD + "!") is None
    assert accounts.authenticate("nobody", PASSWORD) is None


def test_a_username_is_taken_whatever_its_case(ctx):
    accounts.register_user("ada", PASSWORD)
    with pytest.raises(Conflict) as taken:
        accounts.register_user("ADA", "another long passphrase")
    assert taken.value.status_code == 409
    assert taken.value.field == "username"
    assert count(User) == 1


REFUSED = [
    # username, password, field, message
    ("ab", PASSWORD, "username", "3 to 40"),
    ("a" * 41, PASSWORD, "username", "3 to 40"),
    ("ada lovelace", PASSWORD, "username", "letters a–z without accents, digits"),
    ("ada<script>", PASSWORD, "username", "letters a–z without accents, digits"),
    ("ada", "short", "password", "at least 10"),
    ("ada", "x1" * 101, "password", "at most 200"),
    ("ada", "password123", "password", "too easy"),
    ("ada", "abababababab", "password", "too easy"),
    ("ada", "my-ada-password", "password", "must not contain the username"),
]


def test_bad_usernames_and_weak_passwords_are_refused(ctx):
    for username, password, field, message in REFUSED:
        with pytest.raises(InvalidInput) as refused:
            accounts.register_user(username, password)
        assert (refused.value.field, refused.value.status_code) == (field, 400), username
        assert message in refused.value.message, (username, password)
    assert count(User) == 0


def test_an_unknown_role_is_refused(ctx):
    with pytest.raises(InvalidInput, match="Role must be one of learner, author, admin"):
        accounts.register_user("ada", PASSWORD, role="root")


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(ctx):
    user = accounts.register_user("ada", PASSWORD)
    old_session = user.get_id()
    with pytest.raises(InvalidInput, match="current password is wrong"):
        accounts.change_password(user, "not my password", "a brand new passphrase")
    with pytest.raises(InvalidInput, match="at least 10"):
        accounts.change_password(user, PASSWORD, "short")
    assert accounts.load_session_user(old_session) == user

    accounts.change_password(user, PASSWORD, "a brand new passphrase")
    assert accounts.load_session_user(old_session) is None
    assert accounts.load_session_user(user.get_id()) == user
    assert accounts.authenticate("ada", PASSWORD) is None
    assert accounts.authenticate("ada", "a brand new passphrase") == user


def test_malformed_or_unknown_session_ids_load_no_one(ctx):
    (user,) = make_users("ada")
    assert accounts.load_session_user(user.session_token) == user
    # The old `<id>:<version>` form and anything else that is not the current token: nobody.
    for session_id in ("", "abc", "1", f"{user.id}:1", ":1", "x:1", user.session_token[:-1],
                       user.session_token + "x", "x" * 5000):  # fmt: skip
        assert accounts.load_session_user(session_id) is None, session_id


def test_ending_all_sessions_replaces_the_token_and_ids_are_never_reused(ctx):
    first, second = make_users("ada", "bob")
    token = first.session_token
    accounts.end_all_sessions(first)
    assert first.session_token != token and len(first.session_token) >= 43
    assert accounts.load_session_user(token) is None
    assert accounts.load_session_user(first.session_token) == first
    assert second.session_token not in (token, first.session_token)
    highest = second.id
    accounts.delete_account(second)
    (third,) = make_users("cyd")
    assert third.id > highest


def test_desired_retention_is_a_setting_within_bounds(ctx):
    user = User(username="ada", username_key="ada", password_hash="x")
    db.session.add(user)
    db.session.commit()
    accounts.set_desired_retention(user, 0.85)
    assert db.session.get(User, user.id).desired_retention == 0.85
    for bad in (0.69, 0.995, 1.0):
        with pytest.raises(InvalidInput, match="between 0.70 and 0.99"):
            accounts.set_desired_retention(user, bad)
    assert user.desired_retention == 0.85


def test_roles_are_set_by_username_and_listed(ctx):
    for name in ("zed", "amy"):
        db.session.add(User(username=name, username_key=name, password_hash="x"))
    db.session.commit()
    assert accounts.set_role("ZED", "author").role == "author"
    with pytest.raises(NotFound, match="No user 'nobody'"):
        accounts.set_role("nobody", "admin")
    with pytest.raises(InvalidInput):
        accounts.set_role("amy", "superuser")
    assert [(u.username, u.role) for u in accounts.list_users()] == [
        ("amy", "learner"),
        ("zed", "author"),
    ]


# API tokens


def test_a_token_is_shown_once_and_only_its_hash_is_kept(ctx):
    (user,) = make_users("ada")
    created = accounts.create_api_token(user, "  laptop  ")
    assert created.secret.startswith("qz_") and len(created.secret) > 40
    stored = db.session.get(ApiToken, created.token.id)
    assert stored.name == "laptop"
    assert stored.prefix == created.secret[:10]
    assert created.secret not in stored.token_hash
    rows = db.session.execute(text("SELECT * FROM api_tokens")).all()
    assert not any(created.secret in str(value) for row in rows for value in row)

    assert stored.last_used_at is None
    assert accounts.user_for_api_token(created.secret) == user
    assert stored.last_used_at is not None


def test_unknown_tokens_authenticate_no_one(ctx):
    (user,) = make_users("ada")
    secret = accounts.create_api_token(user, "laptop").secret
    for guess in ("", "qz_", "qz_not-a-token", "Bearer", secret[:-1], secret.upper(), "qz_" * 40):
        assert accounts.user_for_api_token(guess) is None, guess


def test_a_revoked_token_stops_working(ctx):
    (user,) = make_users("ada")
    created = accounts.create_api_token(user, "laptop")
    accounts.revoke_api_token(user, created.token.id)
    assert accounts.user_for_api_token(created.secret) is None
    accounts.revoke_api_token(user, created.token.id)  # revoking twice is harmless


def test_no_one_can_revoke_another_learners_token(ctx):
    ada, bob = make_users("ada", "bob")
    created = accounts.create_api_token(ada, "laptop")
    with pytest.raises(NotFound, match="No such token"):
        accounts.revoke_api_token(bob, created.token.id)
    with pytest.raises(NotFound, match="No such token"):
        accounts.revoke_api_token(bob, 12345)
    assert accounts.user_for_api_token(created.secret) == ada


def test_token_names_are_required_and_active_tokens_are_capped(ctx):
    (user,) = make_users("ada")
    for bad in ("", "   ", "n" * 81):
        with pytest.raises(InvalidInput, match="1 to 80 characters"):
            accounts.create_api_token(user, bad)
    tokens = [accounts.create_api_token(user, f"token {n}") for n in range(20)]
    with pytest.raises(Conflict, match="20 active tokens"):
        accounts.create_api_token(user, "one too many")
    accounts.revoke_api_token(user, tokens[0].token.id)
    db.session.refresh(user)
    assert accounts.create_api_token(user, "room again").secret


def test_a_token_expires_after_its_lifetime_or_never(ctx):
    (user,) = make_users("ada")
    week = accounts.create_api_token(user, "ci job", expires_in_days=7)
    forever = accounts.create_api_token(user, "home server", expires_in_days=None)
    default = accounts.create_api_token(user, "laptop")
    lifetime = week.token.expires_at - week.token.created_at
    assert lifetime == timedelta(days=7)
    assert default.token.expires_at - default.token.created_at == timedelta(days=90)
    assert forever.token.expires_at is None
    for created in (week, forever, default):
        assert accounts.user_for_api_token(created.secret) == user

    week.token.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    assert accounts.user_for_api_token(week.secret) is None
    assert [token.name for token in accounts.active_api_tokens(user)] == ["laptop", "home server"]
    with pytest.raises(InvalidInput, match="expires in 7, 30, 90, 365 days, or never"):
        accounts.create_api_token(user, "odd", expires_in_days=3)


def test_expired_tokens_do_not_count_against_the_cap(ctx):
    (user,) = make_users("ada")
    tokens = [accounts.create_api_token(user, f"token {n}") for n in range(20)]
    tokens[0].token.expires_at = datetime.now(UTC) - timedelta(days=1)
    db.session.commit()
    assert accounts.create_api_token(user, "room again").secret


def test_a_password_change_can_revoke_every_token(ctx):
    ada = accounts.register_user("ada", PASSWORD)
    (bob,) = make_users("bob")
    ada_secrets = [accounts.create_api_token(ada, name).secret for name in ("a", "b")]
    bob_secret = accounts.create_api_token(bob, "b").secret
    assert accounts.change_password(ada, PASSWORD, "a brand new passphrase") == 0
    assert all(accounts.user_for_api_token(secret) == ada for secret in ada_secrets)
    revoked = accounts.change_password(
        ada, "a brand new passphrase", "another new passphrase", revoke_tokens=True
    )
    assert revoked == 2
    assert all(accounts.user_for_api_token(secret) is None for secret in ada_secrets)
    assert accounts.user_for_api_token(bob_secret) == bob


# Deleting an account


def test_deleting_an_account_removes_all_its_data_and_nothing_else(ctx, content_dir):
    import_content(content_dir)
    ada, bob = make_users("ada", "bob")
    for user in (ada, bob):
        submit_authored(user, "alpha", 0, 1, now=NOW)
        submit_authored(user, "beta", 1, "0.3", now=NOW)
        accounts.create_api_token(user, "laptop")
    ada_secret = accounts.create_api_token(ada, "phone").secret

    accounts.delete_account(ada)
    db.session.expire_all()

    assert db.session.get(User, ada.id) is None
    for model in (Attempt, ReviewCard, ApiToken):
        assert count(model, user_id=ada.id) == 0, model.__name__
    assert (count(Attempt, user_id=bob.id), count(ReviewCard, user_id=bob.id)) == (2, 2)
    assert count(ApiToken, user_id=bob.id) == 1
    assert accounts.user_for_api_token(ada_secret) is None
    assert accounts.authenticate("ada", PASSWORD) is None
    # The username is free again.
    assert accounts.register_user("ada", PASSWORD).id != ada.id
