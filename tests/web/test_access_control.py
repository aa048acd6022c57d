"""One learner can never read or change another's attempts, cards or tokens, by page or API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import session_token, shown, sign_in, submit_authored
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import ApiToken, Attempt, User
from quizapp.services.accounts import create_api_token, delete_account, end_all_sessions
from quizapp.services.content_import import import_content


def add_user(username: str) -> User:
    user = User(username=username, username_key=username, password_hash="not used here")
    db.session.add(user)
    db.session.commit()
    return user


@pytest.fixture
def two_learners(app, content_dir):
    """ada answered alpha (wrong, due now), bob answered beta (wrong, due now); each has a
    token."""
    with app.app_context():
        import_content(content_dir)
        learners = {}
        for name, slug in (("ada", "alpha"), ("bob", "beta")):
            user = add_user(name)
            submit_authored(user, slug, 0, 0, now=datetime.now(UTC) - timedelta(days=1))
            token = create_api_token(user, f"{name}-laptop")
            learners[name] = {"id": user.id, "secret": token.secret, "token_id": token.token.id}
    return learners


def bearer(learner: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {learner['secret']}"}


def signed_in(app, learner: dict, token: str | None = None):
    client = app.test_client()
    sign_in(client, learner["id"], token)
    return client


def test_the_api_shows_each_learner_only_their_own_data(app, two_learners):
    client = app.test_client()
    for name, slug in (("ada", "alpha"), ("bob", "beta")):
        headers = bearer(two_learners[name])
        export = client.get("/api/v1/me/export", headers=headers).get_json()
        assert export["account"]["username"] == name
        assert [a["question"] for a in export["attempts"]] == [slug]
        assert [c["question"] for c in export["review_cards"]] == [slug]
        assert [t["name"] for t in export["api_tokens"]] == [f"{name}-laptop"]
        due = client.get("/api/v1/me/reviews/due", headers=headers).get_json()
        assert [card["question"] for card in due] == [slug]
        progress = client.get("/api/v1/me/progress", headers=headers).get_json()
        assert (progress["attempts_total"], progress["due_now"]) == (1, 1)


def test_pages_show_each_learner_only_their_own_data(app, two_learners):
    ada = signed_in(app, two_learners["ada"])
    dashboard = ada.get("/dashboard").text
    assert 'href="/questions/alpha"' in dashboard
    assert 'href="/questions/beta"' not in dashboard
    with app.app_context():  # only due cards in review: bob's beta is a new card for ada
        db.session.get(User, two_learners["ada"]["id"]).new_cards_per_day = 0
        db.session.commit()
    review = ada.get("/review").text
    assert 'aria-label="1 due"' in review
    assert 'name="question" value="alpha"' in review
    assert "beta" not in review
    mistakes = ada.get("/practice/mistakes").text
    assert 'href="/questions/alpha"' in mistakes and 'href="/questions/beta"' not in mistakes
    export = ada.get("/account/export").get_json()
    assert [a["question"] for a in export["attempts"]] == ["alpha"]
    account = ada.get("/account").text
    assert "ada-laptop" in account
    assert "bob-laptop" not in account
    assert two_learners["bob"]["secret"][:10] not in account


def test_no_one_can_revoke_another_learners_token(app, two_learners):
    ada = signed_in(app, two_learners["ada"])
    bob = two_learners["bob"]
    theirs = ada.post(f"/account/tokens/{bob['token_id']}/revoke")
    missing = ada.post("/account/tokens/999999/revoke")
    # Someone else's token looks exactly like one that does not exist.
    assert theirs.status_code == missing.status_code == 404
    assert "No such token." in theirs.text and "No such token." in missing.text
    assert app.test_client().get("/api/v1/me/progress", headers=bearer(bob)).status_code == 200
    with app.app_context():
        assert db.session.get(ApiToken, bob["token_id"]).revoked_at is None


def test_a_token_cannot_revoke_or_reach_pages(app, two_learners):
    client = app.test_client()
    headers = bearer(two_learners["ada"])
    for path in ("/dashboard", "/review", "/account", "/account/export"):
        response = client.get(path, headers=headers)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login")
    revoke = client.post(f"/account/tokens/{two_learners['ada']['token_id']}/revoke",
                         headers=headers)  # fmt: skip
    assert revoke.status_code == 302 and revoke.headers["Location"].startswith("/login")
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(ApiToken.revoked_at.is_not(None))) == 0


def test_answers_are_stored_for_whoever_is_signed_in_never_for_someone_else(app, two_learners):
    ada, bob = two_learners["ada"], two_learners["bob"]
    client = app.test_client()
    with app.app_context():
        bobs_key = "shared-key"
        submit_authored(db.session.get(User, bob["id"]), "alpha", 0, 1, idempotency_key=bobs_key)
        adas_wrong = shown("alpha", 0, 0, ada["id"])
    # The same key from ada is ada's own new attempt, not a replay of bob's.
    body = client.post(
        "/api/v1/questions/alpha/attempts",
        json={"check": 0, "response": adas_wrong, "idempotency_key": bobs_key},
        headers=bearer(ada),
    ).get_json()
    assert (body["duplicate"], body["correct"]) == (False, False)
    # A body cannot name another learner.
    naming = client.post(
        "/api/v1/questions/beta/attempts",
        json={"check": 0, "response": 1, "user_id": bob["id"]},
        headers=bearer(ada),
    )
    assert naming.status_code == 400
    assert "user_id: Unknown field." in naming.get_json()["message"]
    with app.app_context():
        owners = dict(
            db.session.execute(
                select(Attempt.user_id, func.count()).group_by(Attempt.user_id)
            ).all()
        )
    assert owners == {ada["id"]: 2, bob["id"]: 2}


def test_a_stale_or_forged_session_is_nobody(app, two_learners):
    ada = two_learners["ada"]
    stale = session_token(app, ada["id"])
    with app.app_context():
        end_all_sessions(db.session.get(User, ada["id"]))
    assert signed_in(app, ada, token=stale).get("/dashboard").status_code == 302
    assert signed_in(app, ada, token=f"{ada['id']}:1").get("/dashboard").status_code == 302
    forged = app.test_client()
    forged.set_cookie("session", "eyJfdXNlcl9pZCI6IjE6MSJ9.forged.signature")
    assert forged.get("/dashboard").status_code == 302


def test_a_deleted_learners_session_and_token_stop_working(app, two_learners):
    ada = two_learners["ada"]
    client = signed_in(app, ada)
    assert client.get("/dashboard").status_code == 200
    with app.app_context():
        delete_account(db.session.get(User, ada["id"]))
    assert client.get("/dashboard").status_code == 302
    assert app.test_client().get("/api/v1/me/export", headers=bearer(ada)).status_code == 401
    # bob is untouched.
    bob_export = app.test_client().get("/api/v1/me/export", headers=bearer(two_learners["bob"]))
    assert len(bob_export.get_json()["attempts"]) == 1
