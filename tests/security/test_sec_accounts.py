"""Accounts: password strength, no account enumeration through log-in, throttled guessing,
and a production server that refuses to start with the development SECRET_KEY.

Registration does say "taken" for an existing username: a sign-up form cannot hide it (the
learner must pick another name), so that path is throttled instead (10 sign-ups an hour per
address), which makes harvesting usernames through it slow. docs/hardening.md records this.
"""

from __future__ import annotations

import pytest
from conftest import make_app
from sec_support import PASSWORD, log_in, sign_up
from sqlalchemy import func, select

from quizapp import create_app
from quizapp.config import DEFAULT_SECRET_KEY, ConfigurationError
from quizapp.extensions import db
from quizapp.models import User

WEAK_PASSWORDS = [
    ("short", "Field must be between 10 and 200 characters long."),
    ("password123", "That password is too easy to guess."),
    ("1234567890", "That password is too easy to guess."),
    ("abababababab", "That password is too easy to guess."),
    ("x" * 201, "Field must be between 10 and 200 characters long."),
    ("my name is newcomer!", "The password must not contain the username."),
]


def users(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def form_errors(response) -> list[str]:
    import re

    html = response.get_data(as_text=True)
    return re.findall(r'class="(?:field|form)-error"[^>]*>([^<]+)<', html)


@pytest.mark.parametrize(("password", "message"), WEAK_PASSWORDS)
def test_a_weak_password_is_refused_at_sign_up(app, client, password, message):
    response = sign_up(client, "newcomer", password=password)
    assert response.status_code == 400
    assert form_errors(response) == [message]
    assert users(app) == 0


@pytest.mark.parametrize(("password", "message"), WEAK_PASSWORDS[1:4])
def test_a_weak_new_password_is_refused_on_the_account_page(app, client, password, message):
    sign_up(client, "learner")
    response = client.post(
        "/account",
        data={
            "action": "password",
            "pw-current_password": PASSWORD,
            "pw-new_password": password,
            "pw-confirm": password,
        },
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    client.post("/logout")
    assert log_in(client, "learner").status_code == 302  # the old password still works


def test_a_strong_passphrase_is_accepted(app, client):
    assert sign_up(client, "newcomer", password="purple otters juggle quietly").status_code == 302
    assert users(app) == 1


def test_unknown_user_and_wrong_password_get_the_same_answer(app, client):
    sign_up(app.test_client(), "existing")
    wrong_password = log_in(client, "existing", password="not the right one")
    unknown_user = log_in(client, "nobody-by-that-name", password="not the right one")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert (
        form_errors(wrong_password) == form_errors(unknown_user) == ["Wrong username or password."]
    )
    # Apart from the username echoed in its field, the two pages are the same.
    first = wrong_password.get_data(as_text=True).replace("existing", "NAME")
    second = unknown_user.get_data(as_text=True).replace("nobody-by-that-name", "NAME")
    assert _without_csrf(first) == _without_csrf(second)


def _without_csrf(html: str) -> str:
    import re

    return re.sub(r'name="csrf_token"[^>]*>', "", html)


def test_an_existing_username_is_reported_taken_in_any_case(app, client):
    assert sign_up(app.test_client(), "Taken.Name").status_code == 302
    response = sign_up(client, "taken.name")
    assert response.status_code == 409
    assert form_errors(response) == ["That username is taken. Choose another."]
    assert users(app) == 1


@pytest.fixture
def throttled_app(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'limits.sqlite'}", RATELIMIT_ENABLED=True)
    yield app
    with app.app_context():
        db.engine.dispose()
    # The limiter is one object per process: leave it switched off for the tests after this.
    make_app("sqlite://")


def test_guessing_one_accounts_password_is_throttled_from_any_address(throttled_app):
    sign_up(throttled_app.test_client(), "target")
    statuses = []
    for attempt in range(7):
        client = throttled_app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"203.0.113.{attempt}"  # a new address every time
        statuses.append(log_in(client, "target", password=f"guess number {attempt}").status_code)
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]
    other = log_in(throttled_app.test_client(), "someone-else", password="a wrong guess")
    assert other.status_code == 401  # only that account is throttled


def test_harvesting_usernames_through_sign_up_is_throttled(throttled_app):
    client = throttled_app.test_client()
    statuses = [sign_up(client, f"probe-{n}", password="x").status_code for n in range(11)]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
    assert "Too many requests" in sign_up(client, "probe-x").get_data(as_text=True)


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    monkeypatch.setenv("QUIZAPP_ENV", "production")
    monkeypatch.setenv("QUIZAPP_LOG_REQUESTS", "0")  # its log handler would outlive the test
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite'}")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    return monkeypatch


def test_production_refuses_to_start_without_a_secret_key(production_env):
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app()


def test_production_refuses_to_start_with_the_development_secret_key(production_env):
    production_env.setenv("SECRET_KEY", DEFAULT_SECRET_KEY)
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app()


def test_production_starts_with_a_real_secret_key_and_secure_cookies(production_env):
    production_env.setenv("SECRET_KEY", "a3f1c29be0d84e7f9b6a5c4d3e2f1a0b")
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["WTF_CSRF_ENABLED"] and not app.debug
