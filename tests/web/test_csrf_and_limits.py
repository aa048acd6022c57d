"""CSRF on every form and rate limits on log-in and sign-up, in a config that enables both."""

from __future__ import annotations

import functools
import re

import pytest
from argon2 import PasswordHasher
from conftest import make_app, shown, sign_in
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import ApiToken, Attempt, User
from quizapp.services.accounts import create_api_token
from quizapp.services.content_import import import_content

PASSWORD = "correct horse battery"
NEW_PASSWORD = "evil new passphrase"
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@functools.cache
def password_hash() -> str:
    return PasswordHasher().hash(PASSWORD)


@pytest.fixture
def guarded(tmp_path, content_dir):
    """The app with CSRF and rate limits on, the small bank imported and ada (with a token)."""
    app = make_app(
        f"sqlite:///{tmp_path / 'guarded.sqlite'}", WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=True
    )
    with app.app_context():
        import_content(content_dir)
        user = User(username="ada", username_key="ada", password_hash=password_hash())
        db.session.add(user)
        db.session.commit()
        token = create_api_token(user, "laptop")
        app.config["ADA"] = {"id": user.id, "token_id": token.token.id, "secret": token.secret}
    yield app
    with app.app_context():
        db.engine.dispose()


def csrf_token(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, path
    match = CSRF_FIELD.search(page.text)
    assert match, f"no CSRF token in the form on {path}"
    return match.group(1)


def signed_in(app):
    client = app.test_client()
    sign_in(client, app.config["ADA"]["id"])
    return client


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (User, Attempt, ApiToken)
        )


# CSRF


def forms(app) -> list[tuple[str, dict]]:
    token_id = app.config["ADA"]["token_id"]
    return [
        ("/register", {"username": "eve", "password": PASSWORD, "confirm": PASSWORD}),
        ("/login", {"username": "ada", "password": PASSWORD}),
        ("/logout", {}),
        ("/account", {"action": "retention", "ret-desired_retention": "0.8"}),
        ("/account", {"action": "token", "tok-name": "sneaky"}),
        ("/account", {"action": "password", "pw-current_password": PASSWORD,
                      "pw-new_password": NEW_PASSWORD, "pw-confirm": NEW_PASSWORD}),
        ("/account", {"action": "delete", "del-password": PASSWORD}),
        (f"/account/tokens/{token_id}/revoke", {}),
        ("/questions/alpha/answer", {"check": "0", "response": "1"}),
    ]  # fmt: skip


def test_every_form_without_a_valid_csrf_token_is_refused(guarded):
    client = signed_in(guarded)
    real = csrf_token(client, "/account")
    before = counts(guarded)
    for path, data in forms(guarded):
        # In words a learner can act on; an answer comes back on its question, kept.
        answer = path.endswith("/answer")
        message = "your answer and send it again" if answer else "Reload the page and send it"
        for token in (None, "not-a-token", real + "x"):
            sent = data if token is None else {**data, "csrf_token": token}
            response = client.post(path, data=sent)
            assert response.status_code == 400, (path, data, token)
            assert message in response.text, (path, token)
            assert "CSRF" not in response.text, (path, token)
    assert counts(guarded) == before
    # Nothing happened: still signed in, same settings and password, token not revoked.
    assert client.get("/account").status_code == 200
    with guarded.app_context():
        ada = db.session.get(User, guarded.config["ADA"]["id"])
        assert (ada.desired_retention, ada.password_hash) == (0.9, password_hash())
        assert db.session.scalar(select(ApiToken.revoked_at)) is None


def test_a_token_from_another_session_is_refused(guarded):
    stranger = guarded.test_client()
    their_token = csrf_token(stranger, "/login")
    victim = signed_in(guarded)
    response = victim.post(
        "/account",
        data={"action": "token", "tok-name": "sneaky", "csrf_token": their_token},
    )
    assert response.status_code == 400
    assert counts(guarded)[2] == 1


def test_forms_work_with_the_token_they_render(guarded):
    client = guarded.test_client()
    logged_in = client.post(
        "/login",
        data={"username": "ada", "password": PASSWORD, "csrf_token": csrf_token(client, "/login")},
    )
    assert logged_in.status_code == 302

    token = csrf_token(client, "/questions/alpha")
    with guarded.app_context():
        right = str(shown("alpha", 0, 1, guarded.config["ADA"]["id"]))
    answered = client.post(
        "/questions/alpha/answer", data={"check": "0", "response": right, "csrf_token": token}
    )
    assert answered.status_code == 200 and "Right!" in answered.text
    saved = client.post(
        "/account",
        data={
            "action": "retention",
            "ret-desired_retention": "0.8",
            "csrf_token": csrf_token(client, "/account"),
        },
    )
    assert saved.status_code == 302
    # The log-out button in the navigation carries its own token.
    logged_out = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert logged_out.status_code == 302
    assert client.get("/account").status_code == 302
    assert counts(guarded)[1] == 1


def test_an_anonymous_visitor_answers_with_the_token_from_the_page(guarded):
    client = guarded.test_client()
    client.get("/login")  # now the visitor holds a session cookie, so forms carry a token
    token = csrf_token(client, "/questions/alpha")
    answered = client.post(
        "/questions/alpha/answer", data={"check": "1", "response": "0.25", "csrf_token": token}
    )
    assert answered.status_code == 200 and "Right!" in answered.text
    forged = client.post("/questions/alpha/answer", data={"check": "1", "response": "0.25"})
    assert forged.status_code == 400
    assert counts(guarded)[1] == 0


def test_a_visitor_without_cookies_gets_a_shared_page_and_is_graded_without_a_token(guarded):
    client = guarded.test_client(use_cookies=False)
    page = client.get("/questions/alpha")
    assert "csrf_token" not in page.text and "Set-Cookie" not in page.headers
    answered = client.post("/questions/alpha/answer", data={"check": "1", "response": "0.25"})
    assert answered.status_code == 200 and "Right!" in answered.text
    assert counts(guarded)[1] == 0  # graded, never stored
    login = client.post("/login", data={"username": "ada", "password": "whatever it is"})
    assert login.status_code == 400  # log-in keeps its CSRF check even without cookies


def test_the_api_needs_csrf_with_a_session_cookie_but_not_with_a_bearer_token(guarded):
    client = signed_in(guarded)
    url = "/api/v1/questions/alpha/attempts"
    by_cookie = client.post(url, json={"check": 0, "response": 1})
    assert by_cookie.status_code == 400
    assert by_cookie.get_json()["message"] == "The CSRF token is missing."
    with_header = client.post(
        url,
        json={"check": 0, "response": 1},
        headers={"X-CSRFToken": csrf_token(client, "/account")},
    )
    assert with_header.status_code == 201

    secret = guarded.config["ADA"]["secret"]
    by_token = guarded.test_client().post(
        url, json={"check": 0, "response": 1}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert by_token.status_code == 201
    assert by_token.get_json()["stored"] is True
    assert counts(guarded)[1] == 2


# Rate limits


def log_in(client, username: str, password: str, address: str):
    return client.post(
        "/login",
        data={"username": username, "password": password,
              "csrf_token": csrf_token(client, "/login")},
        environ_base={"REMOTE_ADDR": address},
    )  # fmt: skip


def assert_too_many(response) -> None:
    assert response.status_code == 429
    assert "<h1>Too many requests</h1>" in response.text
    assert "Too many requests. Please wait a minute and try again." in response.text
    assert int(response.headers["Retry-After"]) > 0


def test_five_failed_log_ins_to_one_account_lock_it_for_every_address(guarded):
    client = guarded.test_client()
    for n in range(5):
        failed = log_in(client, "ada", "wrong password!", f"10.0.0.{n}")
        assert failed.status_code == 401, n
    # Even the right password, from yet another address, waits now.
    assert_too_many(log_in(client, "ADA", PASSWORD, "10.0.1.1"))
    # Other accounts and the log-in page itself are not locked.
    assert log_in(client, "bob", "wrong password!", "10.0.1.2").status_code == 401
    assert client.get("/login").status_code == 200


def test_five_failed_log_ins_from_one_address_lock_that_address(guarded):
    client = guarded.test_client()
    address = "192.0.2.7"
    for n in range(4):
        assert log_in(client, f"guess{n}", "wrong password!", address).status_code == 401
    # A successful log-in is not a failure and does not count.
    assert log_in(client, "ada", PASSWORD, address).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert log_in(client, "guess4", "wrong password!", address).status_code == 401
    assert_too_many(log_in(client, "ada", PASSWORD, address))


def test_sign_up_is_rate_limited_per_address(guarded):
    client = guarded.test_client()
    address = "198.51.100.3"
    for n in range(10):
        refused = client.post(
            "/register",
            data={"username": f"user{n}", "password": PASSWORD, "confirm": "mismatch",
                  "csrf_token": csrf_token(client, "/register")},
            environ_base={"REMOTE_ADDR": address},
        )  # fmt: skip
        assert refused.status_code == 400, n
    limited = client.post(
        "/register",
        data={"username": "user10", "password": PASSWORD, "confirm": PASSWORD,
              "csrf_token": csrf_token(client, "/register")},
        environ_base={"REMOTE_ADDR": address},
    )  # fmt: skip
    assert_too_many(limited)
    assert counts(guarded)[0] == 1


def test_an_answer_from_a_tab_opened_before_the_visit_began_comes_back_to_send_again(guarded):
    """Two questions opened in tabs by a new visitor: their pages carry no token (there is no
    session yet); the first answer starts one, so the second tab's answer is refused. It
    comes back on its question, kept, with a fresh token, and nothing is recorded."""
    client = guarded.test_client()
    first = client.post("/questions/alpha/answer", data={"check": "1", "response": "0.5"})
    assert first.status_code == 200 and "session" in client.get_cookie("session").key
    before = counts(guarded)
    stale = client.post("/questions/alpha/answer", data={"check": "1", "response": "0.25"})
    assert stale.status_code == 400
    assert "this page was opened before your visit began in another tab" in stale.text
    assert 'value="0.25"' in stale.text  # the answer is still in its field
    assert counts(guarded) == before
    again = client.post(
        "/questions/alpha/answer",
        data={"check": "1", "response": "0.25", "csrf_token": CSRF_FIELD.search(stale.text)[1]},
    )
    assert again.status_code == 200 and "Right!" in again.text
