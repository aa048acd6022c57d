"""CSRF: every state-changing request made with the session cookie needs the form's token.

The list below names every POST route of the app; a new route fails the completeness test
until it is added here, so no form can ship unprotected by accident.
"""

from __future__ import annotations

import pytest
from conftest import make_app, write_exercise
from sec_support import PASSWORD, csrf_token, log_in, sign_up
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import ApiToken, Attempt, ProblemReport, SimRun, User
from quizapp.services.accounts import create_api_token
from quizapp.services.content_import import import_content

# endpoint -> (path, form data) of a request that would change something.
SIGN_UP = {"username": "newcomer", "password": PASSWORD, "confirm": PASSWORD}
STATE_CHANGING = {
    "auth.register": ("/register", SIGN_UP),
    "auth.login": ("/login", {"username": "victim", "password": PASSWORD}),
    "auth.logout": ("/logout", {}),
    "auth.account": ("/account", {"action": "retention", "ret-desired_retention": "0.8"}),
    "auth.revoke_token": ("/account/tokens/{token_id}/revoke", {}),
    "learning.answer": ("/questions/alpha/answer", {"check": "1", "response": "0.25"}),
    "exercises.start_exercise_run": ("/exercises/tanh-init/runs", {"init": "default"}),
    "exercises.start_lab_run": ("/lab/runs", {"kind": "mlp", "depth": "3", "width": "4"}),
    "lab.panel": ("/lab/panel", {"kind": "mlp", "depth": "3", "width": "4"}),
    "api_learning.create_attempt": ("/api/v1/questions/alpha/attempts",
                                    {"check": 1, "response": 0.25}),
    "api_exercises.start_exercise_run": ("/api/v1/exercises/tanh-init/runs",
                                         {"choices": {"init": "default"}}),
    "api_exercises.start_lab_run": ("/api/v1/lab/runs", {"config": {"kind": "mlp", "depth": 3}}),
    "api_lab.start_phase": ("/api/v1/lab/phase", {"preset": "relu-he-line", "size": 3}),
    "review.reveal": ("/review/reveal", {"question": "alpha"}),
    "review.rate": ("/review/rate", {"question": "alpha", "rating": "good"}),
    "review.undo": ("/review/undo", {}),
    "review.resolve_leech": ("/review/leeches/alpha", {"action": "resume"}),
    "review.settings": ("/account/review-settings", {"new_cards_per_day": "1"}),
    "review.start_schedule_fit": ("/account/schedule", {}),
    "review.use_recommended_retention": ("/account/schedule/retention",
                                         {"desired_retention": "0.8"}),
    "review.import_revlog": ("/account/review-log/import", {}),
    "api_review.reveal": ("/api/v1/me/review/reveal", {"question": "alpha"}),
    "api_review.rate": ("/api/v1/me/review/ratings", {"question": "alpha", "rating": "good"}),
    "api_review.undo": ("/api/v1/me/review/undo", {}),
    "api_review.reveal_exercise": ("/api/v1/me/review/exercises/tanh-init/reveal", {}),
    "api_review.rate_exercise": ("/api/v1/me/review/exercises/tanh-init/ratings",
                                 {"rating": "good"}),
    "api_review.resolve_leech": ("/api/v1/me/review/leeches/alpha", {"action": "resume"}),
    "api_review.put_settings": ("/api/v1/me/review/settings", {"new_cards_per_day": 1}),
    "api_review.import_revlog": ("/api/v1/me/review-log", {}),
    "api_review.start_fit": ("/api/v1/me/schedule/fits", {}),
    "authoring.report": ("/questions/alpha/report", {"category": "typo", "message": "A typo."}),
    "authoring.answer_report": ("/author/reports/1", {"status": "fixed", "reply": "Done."}),
    "authoring.recompute": ("/author/recompute", {}),
    "api_authoring.report_question": ("/api/v1/questions/alpha/reports",
                                      {"category": "typo", "message": "A typo."}),
    "api_authoring.report_exercise": ("/api/v1/exercises/tanh-init/reports",
                                      {"category": "typo", "message": "A typo."}),
    "api_authoring.answer_report": ("/api/v1/author/reports/1", {"status": "fixed"}),
}  # fmt: skip
# Endpoints whose state-changing method is not POST.
METHODS = {"api_review.put_settings": "put", "api_authoring.answer_report": "patch"}
ACCOUNT_ACTIONS = {
    "password": {"pw-current_password": PASSWORD, "pw-new_password": "another long passphrase",
                 "pw-confirm": "another long passphrase"},
    "retention": {"ret-desired_retention": "0.8"},
    "token": {"tok-name": "laptop"},
    "delete": {"del-password": PASSWORD},
}  # fmt: skip


@pytest.fixture
def csrf_app(tmp_path, content_dir):
    write_exercise(content_dir)
    app = make_app(f"sqlite:///{tmp_path / 'csrf.sqlite'}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        import_content(content_dir)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def victim(csrf_app):
    """A signed-in learner's client (signed in through the form, with its token)."""
    client = csrf_app.test_client()
    assert sign_up(client, "victim", csrf=True).status_code == 302
    with csrf_app.app_context():
        user = db.session.scalar(select(User).where(User.username == "victim"))
        client.token_id = create_api_token(user, "phone").token.id
    return client


def _send(client, endpoint: str, data: dict, token_id: int, headers=None):
    path, _ = STATE_CHANGING[endpoint]
    path = path.format(token_id=token_id)
    if path.startswith("/api/"):
        send = getattr(client, METHODS.get(endpoint, "post"))
        return send(path, json=data, headers=headers or {})
    return client.post(path, data=data, headers=headers or {})


def _counts(app) -> tuple[int, ...]:
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (User, Attempt, SimRun, ApiToken, ProblemReport)
        ) + (db.session.scalar(select(func.count()).where(ApiToken.revoked_at.is_not(None))),)


def test_the_list_names_every_state_changing_route(csrf_app):
    routes = {
        rule.endpoint
        for rule in csrf_app.url_map.iter_rules()
        if rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
    }
    assert routes == set(STATE_CHANGING)


@pytest.mark.parametrize("endpoint", sorted(STATE_CHANGING))
def test_a_state_changing_request_without_the_token_is_refused(csrf_app, victim, endpoint):
    before = _counts(csrf_app)
    data = STATE_CHANGING[endpoint][1]
    response = _send(victim, endpoint, data, victim.token_id)
    assert response.status_code == 400
    # An API client reads the technical reason; a person, what to do about it.
    expected = "CSRF token is missing" if response.is_json else "send it again"
    assert expected in response.get_data(as_text=True)
    assert _counts(csrf_app) == before
    # Still signed in: logging out was refused too.
    assert victim.get("/account").status_code == 200


@pytest.mark.parametrize("action", sorted(ACCOUNT_ACTIONS))
def test_every_account_form_needs_the_token(csrf_app, victim, action):
    before = _counts(csrf_app)
    response = victim.post("/account", data={"action": action, **ACCOUNT_ACTIONS[action]})
    assert response.status_code == 400
    assert _counts(csrf_app) == before
    assert log_in(csrf_app.test_client(), "victim", csrf=True).status_code == 302  # same password


def test_a_token_from_another_session_is_refused(csrf_app, victim):
    attacker = csrf_app.test_client()
    stolen = csrf_token(attacker, "/login")  # the attacker's own, valid for their session
    before = _counts(csrf_app)
    response = victim.post("/questions/alpha/answer", data={"check": "1", "response": "0.25",
                                                            "csrf_token": stolen})  # fmt: skip
    assert response.status_code == 400
    assert "send it again" in response.get_data(as_text=True)
    assert _counts(csrf_app) == before


def test_the_same_requests_with_the_token_go_through(csrf_app, victim):
    """The refusals above are the token's doing, not a broken request."""
    token = csrf_token(victim, "/questions/alpha")
    answered = victim.post(
        "/questions/alpha/answer", data={"check": "1", "response": "0.25", "csrf_token": token}
    )
    assert answered.status_code == 200
    assert "Right!" in answered.get_data(as_text=True)
    api = victim.post(
        "/api/v1/questions/alpha/attempts",
        json={"check": 1, "response": 0.25},
        headers={"X-CSRFToken": token},
    )
    assert api.status_code == 201 and api.get_json()["stored"] is True
    revoked = victim.post(
        f"/account/tokens/{victim.token_id}/revoke",
        data={"csrf_token": token},
    )
    assert revoked.status_code == 302
    assert victim.post("/logout", data={"csrf_token": token}).status_code == 302
    assert victim.get("/account").status_code == 302  # signed out


def test_an_api_call_with_a_bearer_token_needs_no_csrf_token(csrf_app):
    """A token is sent deliberately by the client; a browser never adds it on its own."""
    client = csrf_app.test_client()
    assert sign_up(client, "apiuser", csrf=True).status_code == 302
    with csrf_app.app_context():
        user = db.session.scalar(select(User).where(User.username == "apiuser"))
        secret = create_api_token(user, "script").secret
    bare = csrf_app.test_client()  # no cookie at all
    response = bare.post(
        "/api/v1/questions/alpha/attempts",
        json={"check": 1, "response": 0.25},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 201 and response.get_json()["stored"] is True
