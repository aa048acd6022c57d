"""Credentials nobody was given open nothing (issue 11, items 1, 2 and 9, as properties).

Any `Authorization` header that is not a real token, sent with a signed-in learner's cookie, is
a 401 that stores nothing and shows nothing; any session identifier in a correctly signed
cookie (an attacker who knows the SECRET_KEY can forge the signature, not the token inside)
that is not the learner's current session token is anonymous.
"""

from __future__ import annotations

import pytest
from conftest import make_app, sign_in, write_question
from fuzz_profiles import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import Attempt
from quizapp.services.accounts import create_api_token, register_user
from quizapp.services.content_import import import_content

# What a header value can hold (HTTP forbids control characters there).
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=120)
authorization_headers = st.one_of(
    header_text,
    header_text.map(lambda text: "Bearer " + text),
    header_text.map(lambda text: "Bearer qz_" + text),
    st.sampled_from(["Basic", "Token", "bearer", "BEARER"]).flatmap(
        lambda scheme: header_text.map(lambda text: f"{scheme} {text}")
    ),
)
session_ids = st.one_of(
    st.text(max_size=80),
    st.integers(0, 10).map(lambda user_id: f"{user_id}:1"),  # the old `<id>:<version>` form
    st.integers(0, 10).map(str),
)


@pytest.fixture(scope="module")
def victim_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("credentials")
    (root / "questions").mkdir()
    (root / "exercises").mkdir()
    (root / "topics.yaml").write_text("- slug: gradient-flow\n  title: Gradient flow\n")
    write_question(root, "alpha")
    app = make_app(f"sqlite:///{root / 'credentials.sqlite'}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        import_content(root)
    with app.app_context():
        user = register_user("victim", "a long and private passphrase")
        user_id = user.id
        app.config["REAL"] = {create_api_token(user, "script").secret, user.session_token}
    victim = app.test_client()
    sign_in(victim, user_id)
    assert victim.get("/account").status_code == 200
    yield app, victim
    with app.app_context():
        db.engine.dispose()


def attempts(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Attempt))


@settings(max_examples=examples(0.5), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=authorization_headers)
def test_an_authorization_header_that_is_no_token_is_a_401_even_with_a_cookie(victim_app, header):
    app, victim = victim_app
    if header.partition(" ")[2].strip() in app.config["REAL"]:
        return
    posted = victim.post(
        "/api/v1/questions/alpha/attempts",
        json={"check": 1, "response": 0.25},
        headers={"Authorization": header},
    )
    assert posted.status_code == 401, (header, posted.status_code)
    assert attempts(app) == 0
    export = victim.get("/api/v1/me/export", headers={"Authorization": header})
    assert export.status_code == 401
    assert "victim" not in export.get_data(as_text=True)


@settings(max_examples=examples(0.5), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(session_id=session_ids)
def test_a_signed_cookie_naming_anything_but_the_current_token_is_anonymous(victim_app, session_id):
    app, _ = victim_app
    if session_id in app.config["REAL"]:
        return
    forger = app.test_client()
    with forger.session_transaction() as session:  # signed with the app's own key
        session["_user_id"] = session_id
        session["_fresh"] = True
    response = forger.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
