"""A bearer header never bypasses CSRF (issue 11, item 9).

The attack: a page the victim visits sends a state-changing API request with the victim's
session cookie and a made-up `Authorization: Bearer` header. The header used to switch the
CSRF check off, the token did not authenticate, and Flask-Login fell back to the cookie: the
forged request was stored as the victim's. On the API an Authorization header is now the whole
credential: it authenticates, or the request is a 401, whatever cookie comes with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import make_app
from sec_support import sign_up
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import ApiToken, Attempt, User
from quizapp.services.accounts import create_api_token, revoke_api_token
from quizapp.services.content_import import import_content

ATTEMPTS = "/api/v1/questions/alpha/attempts"
# Headers that do not authenticate anybody.
NOT_CREDENTIALS = {
    "made-up token": "Bearer qz_made-up-by-the-attacker",
    "no qz_ prefix": "Bearer abcdefghijklmnopqrstuvwxyz",
    "empty bearer": "Bearer ",
    "bare scheme": "Bearer",
    "basic": "Basic dmljdGltOnBhc3N3b3Jk",
    "other scheme": "Token qz_something",
    "empty header": "",
    "far too long": "Bearer qz_" + "x" * 5000,
}


@pytest.fixture
def bank(tmp_path, content_dir):
    app = make_app(f"sqlite:///{tmp_path / 'bearer.sqlite'}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        import_content(content_dir)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def victim(bank):
    client = bank.test_client()
    assert sign_up(client, "victim", csrf=True).status_code == 302
    return client


def attempts(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Attempt))


def new_token(app, username: str, **options) -> tuple[str, int]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username_key == username))
        made = create_api_token(user, "script", **options)
        return made.secret, made.token.id


@pytest.mark.parametrize("header", list(NOT_CREDENTIALS.values()), ids=list(NOT_CREDENTIALS))
def test_a_forged_post_with_a_bogus_bearer_is_refused_not_stored(bank, victim, header):
    response = victim.post(
        ATTEMPTS, json={"check": 1, "response": 0.25}, headers={"Authorization": header}
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "does not authenticate" in response.get_json()["message"]
    assert attempts(bank) == 0
    # Without the header the same forged request is stopped by the CSRF check.
    plain = victim.post(ATTEMPTS, json={"check": 1, "response": 0.25})
    assert plain.status_code == 400 and "CSRF" in plain.get_json()["message"]
    assert attempts(bank) == 0


@pytest.mark.parametrize("path", ["/api/v1/me/export", "/api/v1/me/progress", "/api/v1/questions"])
def test_a_bogus_bearer_never_falls_back_to_the_session_cookie(victim, path):
    response = victim.get(path, headers={"Authorization": "Bearer qz_made-up"})
    assert response.status_code == 401
    assert "victim" not in response.get_data(as_text=True)
    assert victim.get(path).status_code == 200  # the cookie alone still works


def test_a_revoked_or_expired_token_is_a_401_even_with_a_cookie(bank, victim):
    revoked, token_id = new_token(bank, "victim")
    with bank.app_context():
        revoke_api_token(db.session.get(User, 1), token_id)
    expired, expired_id = new_token(bank, "victim")
    with bank.app_context():
        token = db.session.get(ApiToken, expired_id)
        token.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    for secret in (revoked, expired):
        response = victim.post(
            ATTEMPTS,
            json={"check": 1, "response": 0.25},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert response.status_code == 401
    assert attempts(bank) == 0


def test_a_valid_token_speaks_for_its_owner_not_for_the_cookie(bank, victim):
    other = bank.test_client()
    assert sign_up(other, "token-owner", csrf=True).status_code == 302
    secret, _ = new_token(bank, "token-owner")
    response = victim.post(
        ATTEMPTS,
        json={"check": 1, "response": 0.25},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 201 and response.get_json()["stored"] is True
    export = victim.get("/api/v1/me/export", headers={"Authorization": f"Bearer {secret}"})
    assert export.get_json()["account"]["username"] == "token-owner"
    with bank.app_context():
        owners = db.session.scalars(select(Attempt.user_id)).all()
        owner_id = db.session.scalar(select(User.id).where(User.username_key == "token-owner"))
    assert owners == [owner_id]


def test_pages_ignore_the_authorization_header(victim):
    """Tokens are for the API; on pages the header neither signs in nor skips CSRF."""
    response = victim.post(
        "/questions/alpha/answer",
        data={"check": "1", "response": "0.25"},
        headers={"Authorization": "Bearer qz_made-up"},
    )
    assert response.status_code == 400
    assert "send it again" in response.get_data(as_text=True)  # refused by the CSRF check
