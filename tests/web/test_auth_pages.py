"""Sign-up, log-in (with remember me), log-out and the account page, as a browser sees them."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from conftest import make_app, sign_in, submit_authored
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import ApiToken, Attempt, User
from quizapp.services.content_import import import_content

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"


@functools.cache
def password_hash() -> str:
    return PasswordHasher().hash(PASSWORD)


def add_user(app, username: str = "ada") -> int:
    with app.app_context():
        user = User(username=username, username_key=username.lower(), password_hash=password_hash())
        db.session.add(user)
        db.session.commit()
        return user.id


def log_in(client, username: str = "ada", password: str = PASSWORD, **extra):
    return client.post("/login", data={"username": username, "password": password, **extra})


def set_cookie_header(response, name: str) -> str:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            return header
    raise AssertionError(f"no {name} cookie set: {response.headers.getlist('Set-Cookie')}")


def user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def is_signed_in(client) -> bool:
    response = client.get("/account")
    assert response.status_code in (200, 302)
    return response.status_code == 200


# Registration


def test_the_sign_up_page_has_the_three_fields(client):
    page = client.get("/register")
    assert page.status_code == 200
    for name in ("username", "password", "confirm"):
        assert f'name="{name}"' in page.text
    assert 'autocomplete="new-password"' in page.text


def test_signing_up_creates_the_account_and_signs_in(app, client):
    response = client.post(
        "/register", data={"username": "Ada", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/")
    assert "Welcome, Ada! Your progress is now saved." in home.text
    assert 'href="/account"' in home.text and ">Ada</a>" in home.text
    with app.app_context():
        assert db.session.scalar(select(User.password_hash)).startswith("$argon2id$")
    # Signed in already: the sign-up page sends the learner on.
    assert client.get("/register").status_code == 302


BAD_SIGN_UPS = [
    ({"username": "ada", "password": PASSWORD, "confirm": "different one!"}, 400,
     "The passwords do not match."),
    ({"username": "ada", "password": "short", "confirm": "short"}, 400,
     "between 10 and 200 characters"),
    ({"username": "ada", "password": "password123", "confirm": "password123"}, 400,
     "That password is too easy to guess."),
    ({"username": "a b c", "password": PASSWORD, "confirm": PASSWORD}, 400,
     "Username must be 3 to 40 characters"),
    # "letters" alone promised José his name; only a–z are accepted, and the message says so.
    ({"username": "José", "password": PASSWORD, "confirm": PASSWORD}, 400,
     "letters a–z without accents"),
    ({"username": "", "password": PASSWORD, "confirm": PASSWORD}, 400,
     "This field is required."),
    ({"username": "TAKEN", "password": PASSWORD, "confirm": PASSWORD}, 409,
     "That username is taken. Choose another."),
]  # fmt: skip


def test_a_bad_sign_up_is_refused_with_a_message_next_to_the_field(app, client):
    add_user(app, "taken")
    for data, status, message in BAD_SIGN_UPS:
        response = client.post("/register", data=data)
        assert response.status_code == status, data
        field_error = r'class="field-error"[^>]*>[^<]*' + re.escape(message)
        assert re.search(field_error, response.text), (data, message)
        assert 'aria-invalid="true"' in response.text
    assert user_count(app) == 1
    assert not is_signed_in(client)


# Logging in and out


def test_wrong_password_and_unknown_user_get_the_same_answer(app, client):
    add_user(app)
    wrong = log_in(client, password="not the password")
    unknown = log_in(client, username="nobody")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "Wrong username or password." in response.text
        assert 'role="alert"' in response.text
    assert not is_signed_in(client)


def test_an_incomplete_log_in_form_is_a_bad_request(app, client):
    response = client.post("/login", data={"username": "ada"})
    assert response.status_code == 400
    assert "This field is required." in response.text


def test_logging_in_goes_to_the_page_asked_for(app, client):
    add_user(app)
    asked = client.get("/dashboard")
    assert asked.status_code == 302
    assert asked.headers["Location"] == "/login?next=/dashboard"
    assert "Please sign in to see that page." in client.get(asked.headers["Location"]).text
    response = log_in(client, username="ADA", next="/dashboard")
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200


def test_logging_in_never_redirects_off_site(app):
    add_user(app)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = log_in(app.test_client(), next=target)
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/", target


def test_session_cookie_is_http_only_and_same_site_lax_and_remember_me_is_optional(app, client):
    add_user(app)
    response = log_in(client)
    session_cookie = set_cookie_header(response, "session")
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Secure" not in session_cookie  # development and tests run over http
    assert client.get_cookie("remember_token") is None


def test_remember_me_keeps_the_learner_signed_in_after_the_session_ends(app, client):
    add_user(app)
    response = log_in(client, remember="y")
    remember = set_cookie_header(response, "remember_token")
    assert "HttpOnly" in remember and "SameSite=Lax" in remember
    assert "Expires=" in remember

    # A new browser session: only the long-lived cookie is left.
    browser = app.test_client()
    browser.set_cookie("remember_token", client.get_cookie("remember_token").value)
    assert is_signed_in(browser)


def test_production_cookies_are_secure(tmp_path, monkeypatch):
    monkeypatch.setenv("QUIZAPP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a long random production secret for this test")
    app = make_app(f"sqlite:///{tmp_path / 'prod.sqlite'}")
    add_user(app)
    client = app.test_client()
    response = client.post(
        "/login",
        data={"username": "ada", "password": PASSWORD, "remember": "y"},
        base_url="https://quiz.example",
    )
    assert response.status_code == 302
    for name in ("session", "remember_token"):
        header = set_cookie_header(response, name)
        assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    with app.app_context():
        db.engine.dispose()


def test_logging_out_asks_first_then_signs_out_and_forgets_remember_me(app, client):
    add_user(app)
    log_in(client, remember="y")
    page = client.get("/logout")
    assert page.status_code == 200
    assert re.search(r'<form method="post" action="/logout">', page.text)

    response = client.post("/logout")
    assert response.status_code == 302
    assert "You are signed out on every device." in client.get("/").text
    assert client.get_cookie("remember_token") is None
    assert not is_signed_in(client)


# The account page


def test_the_account_page_needs_a_signed_in_learner(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/account"


def test_account_page_shows_who_is_signed_in(app, client):
    sign_in(client, add_user(app))
    page = client.get("/account")
    assert page.status_code == 200
    assert "Signed in as <strong>ada</strong> · role learner" in page.text
    for action in ("password", "retention", "token", "delete"):
        assert f'name="action" value="{action}"' in page.text
    assert 'href="/account/export"' in page.text


def change_password(client, current: str, new: str, confirm: str | None = None):
    return client.post(
        "/account",
        data={
            "action": "password",
            "pw-current_password": current,
            "pw-new_password": new,
            "pw-confirm": new if confirm is None else confirm,
        },
    )


def test_changing_the_password_signs_out_every_other_device(app, client):
    add_user(app)
    log_in(client)
    laptop, phone = app.test_client(), app.test_client()
    log_in(phone, remember="y")
    laptop.set_cookie("remember_token", phone.get_cookie("remember_token").value)

    response = change_password(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert "Password changed. Other devices have been signed out." in client.get("/account").text
    assert is_signed_in(client)
    assert not is_signed_in(phone)
    assert not is_signed_in(laptop)  # an old remember-me cookie no longer works
    assert log_in(app.test_client()).status_code == 401
    assert log_in(app.test_client(), password=NEW_PASSWORD).status_code == 302


def test_a_password_change_with_a_wrong_current_password_or_mismatch_is_refused(app, client):
    sign_in(client, add_user(app))
    wrong = change_password(client, "not my password", NEW_PASSWORD)
    assert wrong.status_code == 400
    assert "The current password is wrong." in wrong.text
    mismatch = change_password(client, PASSWORD, NEW_PASSWORD, confirm="something else")
    assert mismatch.status_code == 400
    assert "The passwords do not match." in mismatch.text
    with app.app_context():
        assert db.session.scalar(select(User.password_hash)) == password_hash()


def test_desired_retention_is_saved_and_bounded(app, client):
    user_id = add_user(app)
    sign_in(client, user_id)
    saved = client.post("/account", data={"action": "retention", "ret-desired_retention": "0.85"})
    assert saved.status_code == 302
    page = client.get("/account")
    assert "Review settings saved." in page.text
    assert 'value="0.85"' in page.text
    for bad in ("0.5", "1.2", "lots"):
        refused = client.post(
            "/account", data={"action": "retention", "ret-desired_retention": bad}
        )
        assert refused.status_code == 400, bad
        assert 'class="field-error"' in refused.text
    with app.app_context():
        assert db.session.get(User, user_id).desired_retention == 0.85


def test_an_api_token_is_shown_once_and_can_be_revoked(app, client):
    sign_in(client, add_user(app))
    created = client.post("/account", data={"action": "token", "tok-name": "laptop"})
    assert created.status_code == 200
    assert "Copy your new token now; it will not be shown again" in created.text
    assert created.headers["Cache-Control"] == "no-store"  # no copy of the secret on disk
    secret = re.search(r'<code class="token">(qz_[^<]+)</code>', created.text).group(1)
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me/progress", headers=auth).status_code == 200

    later = client.get("/account")
    assert secret not in later.text
    assert f"<code>{secret[:10]}…</code>" in later.text
    assert "laptop" in later.text

    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    revoked = client.post(f"/account/tokens/{token_id}/revoke")
    assert revoked.status_code == 302
    after = client.get("/account")
    assert "Token revoked." in after.text
    assert f"{secret[:10]}" not in after.text
    assert app.test_client().get("/api/v1/me/progress", headers=auth).status_code == 401


def test_a_token_carries_the_chosen_expiry_and_stops_working_after_it(app, client):
    sign_in(client, add_user(app))
    page = client.get("/account")
    assert re.search(r'<option selected value="90">in 90 days</option>', page.text)
    assert '<option value="never">never (until revoked)</option>' in page.text
    week = client.post(
        "/account", data={"action": "token", "tok-name": "ci job", "tok-expires_in_days": "7"}
    )
    client.post(
        "/account", data={"action": "token", "tok-name": "server", "tok-expires_in_days": "never"}
    )
    secret = re.search(r'<code class="token">(qz_[^<]+)</code>', week.text).group(1)
    in_a_week = (datetime.now(UTC) + timedelta(days=7)).strftime("%d %b %Y")
    row = re.compile(r'<tr><td>([^<]+)</td>.*?<td class="token-expiry">(.*?)</td>', re.S)
    rows = row.findall(client.get("/account").text)
    assert [name for name, _ in rows] == ["server", "ci job"]
    assert rows[0][1] == "never"
    assert re.fullmatch(
        rf'<time datetime="[^"]+" title="{in_a_week}, [^"]+">in 7 days</time>', rows[1][1]
    )

    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.name == "ci job"))
        token.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    auth = {"Authorization": f"Bearer {secret}"}
    assert app.test_client().get("/api/v1/me/progress", headers=auth).status_code == 401
    assert "<strong>expired</strong>" in client.get("/account").text
    odd = client.post(
        "/account", data={"action": "token", "tok-name": "odd", "tok-expires_in_days": "3"}
    )
    assert odd.status_code == 400 and "Copy your new token" not in odd.text


def test_changing_the_password_offers_to_revoke_every_token(app, client):
    sign_in(client, add_user(app))
    page = client.get("/account")
    assert re.search(r'<input checked id="pw-revoke_tokens" name="pw-revoke_tokens"', page.text)
    assert "Also revoke all my API tokens" in page.text
    for name in ("laptop", "phone"):
        client.post("/account", data={"action": "token", "tok-name": name})
    changed = client.post(
        "/account",
        data={
            "action": "password",
            "pw-current_password": PASSWORD,
            "pw-new_password": NEW_PASSWORD,
            "pw-confirm": NEW_PASSWORD,
            "pw-revoke_tokens": "y",
        },
    )
    assert changed.status_code == 302
    assert "2 API tokens revoked." in client.get("/account").text
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(ApiToken.revoked_at.is_(None))) == 0
    # After another action re-renders the page, the offer is still ticked.
    other = client.post("/account", data={"action": "token", "tok-name": "tablet"})
    assert other.status_code == 200
    assert re.search(r'<input checked id="pw-revoke_tokens" name="pw-revoke_tokens"', other.text)


def test_a_token_needs_a_name(app, client):
    sign_in(client, add_user(app))
    response = client.post("/account", data={"action": "token", "tok-name": ""})
    assert response.status_code == 400
    assert "Copy your new token" not in response.text


def test_deleting_the_account_needs_the_password_then_removes_everything(app, client, content_dir):
    user_id = add_user(app)
    with app.app_context():
        import_content(content_dir)
        submit_authored(db.session.get(User, user_id), "alpha", 0, 1, now=datetime.now(UTC))
    sign_in(client, user_id)

    refused = client.post("/account", data={"action": "delete", "del-password": "wrong one!"})
    assert refused.status_code == 400
    assert "The password is wrong." in refused.text
    assert user_count(app) == 1

    deleted = client.post("/account", data={"action": "delete", "del-password": PASSWORD})
    assert deleted.status_code == 302
    assert "Your account and all its data have been deleted." in client.get("/").text
    assert not is_signed_in(client)
    assert user_count(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0
    assert log_in(client).status_code == 401


def test_an_account_form_without_an_action_is_a_bad_request(app, client):
    sign_in(client, add_user(app))
    assert client.post("/account", data={}).status_code == 400
    assert client.post("/account", data={"action": "explode"}).status_code == 400
