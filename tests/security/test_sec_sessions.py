"""Sessions: a saved cookie never opens someone else's account, and never outlives the session.

The attack (issue 11, items 1 and 2): sign up, keep the `session` and `remember_token`
cookies, delete the account (or log out), let somebody else sign up, then replay the saved
cookies. On SQLite the new account used to get the deleted account's row id, and the cookies
named that id, so they opened the new account. Every replay below must be anonymous.
"""

from __future__ import annotations

import pytest
from sec_support import PASSWORD, log_in, sign_up
from sqlalchemy import select

from quizapp.extensions import db
from quizapp.models import User

COOKIES = ("session", "remember_token")


def saved_cookies(client) -> dict[str, str]:
    """The values of the session and remember-me cookies, as an attacker would copy them."""
    cookies = {name: client.get_cookie(name) for name in COOKIES}
    missing = [name for name, cookie in cookies.items() if cookie is None]
    assert not missing, f"no {missing} cookie after a remembered log-in"
    return {name: cookie.value for name, cookie in cookies.items()}


def replay(app, cookies: dict[str, str]):
    """A new browser carrying only `cookies`; its answer for /account."""
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client.get("/account")


def signed_in_with_remember(app, username: str):
    client = app.test_client()
    assert sign_up(client, username).status_code == 302
    client.post("/logout")
    # A fresh browser, so the remember cookie is the only trace of the log-in above.
    client = app.test_client()
    assert log_in_remembered(client, username).status_code == 302
    assert client.get("/account").status_code == 200
    return client


def log_in_remembered(client, username: str):
    return client.post("/login", data={"username": username, "password": PASSWORD, "remember": "y"})


def delete_account(client):
    response = client.post("/account", data={"action": "delete", "del-password": PASSWORD})
    assert response.status_code == 302
    return response


def user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username_key == username))


@pytest.mark.parametrize("kept", [COOKIES, ("session",), ("remember_token",)])
def test_a_deleted_accounts_cookies_never_open_the_next_account(any_db_app, kept):
    app = any_db_app
    victim_cookies = saved_cookies(signed_in_with_remember(app, "first-owner"))
    first_id = user_id(app, "first-owner")
    with app.test_client() as owner:
        owner.set_cookie("session", victim_cookies["session"])
        delete_account(owner)

    newcomer = app.test_client()
    assert sign_up(newcomer, "second-owner").status_code == 302
    assert newcomer.get("/account").status_code == 200

    response = replay(app, {name: victim_cookies[name] for name in kept})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert response.headers["Location"].startswith("/login")
    # The ids themselves are never handed out twice (SQLite AUTOINCREMENT, PostgreSQL sequences).
    assert user_id(app, "second-owner") != first_id


def test_a_deleted_row_id_is_never_given_to_the_next_sign_up(any_db_app):
    app = any_db_app
    client = app.test_client()
    sign_up(client, "short-lived")
    first_id = user_id(app, "short-lived")
    delete_account(client)
    sign_up(app.test_client(), "next-in-line")
    assert user_id(app, "next-in-line") > first_id


@pytest.mark.parametrize("kept", [COOKIES, ("session",), ("remember_token",)])
def test_logging_out_ends_the_session_on_the_server(any_db_app, kept):
    app = any_db_app
    client = signed_in_with_remember(app, "leaver")
    cookies = saved_cookies(client)
    assert client.post("/logout").status_code == 302
    assert client.get("/account").status_code == 302

    response = replay(app, {name: cookies[name] for name in kept})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_a_password_change_ends_every_other_session_and_remember_cookie(any_db_app):
    app = any_db_app
    laptop = signed_in_with_remember(app, "mover")
    phone_cookies = saved_cookies(laptop)
    changed = laptop.post(
        "/account",
        data={
            "action": "password",
            "pw-current_password": PASSWORD,
            "pw-new_password": "a brand new passphrase",
            "pw-confirm": "a brand new passphrase",
        },
    )
    assert changed.status_code == 302
    assert laptop.get("/account").status_code == 200  # the device that changed it stays in
    for kept in (COOKIES, ("session",), ("remember_token",)):
        assert replay(app, {name: phone_cookies[name] for name in kept}).status_code == 302


def test_the_session_cookie_names_no_user_id(app):
    """The cookie holds a random per-user identifier, not the guessable row id."""
    client = app.test_client()
    sign_up(client, "private-person")
    with client.session_transaction() as session:
        session_id = session["_user_id"]
    assert str(user_id(app, "private-person")) not in session_id.split(":")
    assert len(session_id) >= 32


def test_logging_in_again_after_logging_out_works(app):
    client = app.test_client()
    sign_up(client, "returner")
    client.post("/logout")
    assert log_in(client, "returner").status_code == 302
    assert client.get("/account").status_code == 200
