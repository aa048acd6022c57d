"""Access control: every endpoint that holds a learner's data shows it to that learner only.

Alice answers, runs a simulation and makes an API token; Mallory, signed in with her own
account (session or token), and an anonymous visitor try every way in. They get 404 (the
thing "does not exist" for them), 401 or the log-in page, and never any of Alice's data.
"""

from __future__ import annotations

import re
import time

import pytest
from conftest import EXERCISE_SLUG, make_app, shown, write_exercise
from sec_support import sign_up
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import ApiToken, ReviewCard, ReviewLog, ScheduleFit, SimRun, User
from quizapp.services.accounts import create_api_token
from quizapp.services.content_import import import_content
from quizapp.services.simulations import start_exercise_run

SECRET_ANSWER = "alice-private-answer-7f3a"
SECRET_TOKEN_NAME = "alice-laptop-token"
WAIT = 120.0  # seconds: a bound on the first simulation (a worker imports torch)

# Every endpoint that holds user data, as tested below (docs/hardening.md lists them).
USER_DATA_ENDPOINTS = [
    "GET /runs/<run_id>",
    "GET /runs/compare",
    "GET /runs/<run_id>/panel",
    "GET /lab/overlay",
    "GET /api/v1/lab/history",
    "GET /api/v1/runs/<run_id>",
    "GET /exercises/<slug> (previous runs)",
    "GET /account",
    "GET /account/export",
    "POST /account/tokens/<token_id>/revoke",
    "GET /dashboard",
    "GET /review",
    "GET /practice/mistakes",
    "POST /questions/<slug>/answer (idempotency key)",
    "GET /api/v1/me/export",
    "GET /api/v1/me/progress",
    "GET /api/v1/me/reviews/due",
    "GET /api/v1/me/reports",
    "GET /api/v1/me/tokens",
    "GET /api/v1/me/cards",
    # Work for visitors too, on the learner's own cards or the visitor's session only.
    "GET /practice/next",
    "GET /practice/topics/<slug>",
    "GET /practice/finish",
    "POST /api/v1/questions/<slug>/attempts (idempotency key)",
    # The review screen, leeches, review limits, memory, review log and schedule fits.
    "POST /review/reveal",
    "POST /review/rate (idempotency key)",
    "POST /review/undo",
    # Reopened form addresses: a redirect to /review, which asks for a sign-in itself.
    "GET /review/reveal (redirect)",
    "GET /review/rate (redirect)",
    "GET /review/undo (redirect)",
    "GET /review/leeches",
    "POST /review/leeches/<slug>",
    "POST /account/review-settings",
    "GET /account/schedule",
    "POST /account/schedule",
    "POST /account/schedule/retention",
    "GET /account/review-log.csv",
    "GET /account/review-log/import",
    "GET /api/v1/me/review/queue",
    "POST /api/v1/me/review/reveal",
    "POST /api/v1/me/review/ratings (idempotency key)",
    "POST /api/v1/me/review/undo",
    "POST /api/v1/me/review/exercises/<slug>/reveal",
    "POST /api/v1/me/review/exercises/<slug>/ratings",
    "GET /api/v1/me/review/leeches",
    "POST /api/v1/me/review/leeches/<slug>",
    "GET /api/v1/me/review/settings",
    "PUT /api/v1/me/review/settings",
    "GET /api/v1/me/memory",
    "GET /api/v1/me/review-log",
    "POST /api/v1/me/review-log",
    "GET /api/v1/me/schedule",
    "POST /api/v1/me/schedule/fits",
    "GET /api/v1/me/schedule/fits/<fit_id>",
]


@pytest.fixture
def world(tmp_path, content_dir):
    """Alice with answers, a due card, a finished run and a token; Mallory with nothing."""
    write_exercise(content_dir)
    app = make_app(f"sqlite:///{tmp_path / 'access.sqlite'}")
    with app.app_context():
        import_content(content_dir)
    alice = app.test_client()
    assert sign_up(alice, "alice").status_code == 302
    answered = alice.post(
        "/questions/alpha/answer",
        data={"check": "2", "response": SECRET_ANSWER, "rating": "again", "form_key": "k-1"},
    )
    assert answered.status_code == 200
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "alice"))
        wrong = str(shown("beta", 0, 0, user.id))  # options are shuffled per learner
    assert (
        alice.post("/questions/beta/answer", data={"check": "0", "response": wrong}).status_code
        == 200
    )
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "alice"))
        token = create_api_token(user, SECRET_TOKEN_NAME)
        run_id = start_exercise_run(user, EXERCISE_SLUG, {"init": "xavier_normal"}).id
        deadline = time.monotonic() + WAIT
        while db.session.get(SimRun, run_id).status not in ("done", "failed"):
            assert time.monotonic() < deadline, "the simulation did not finish"
            time.sleep(0.05)
            db.session.expire_all()
        # Time passes: Alice's cards are due.
        for card in db.session.scalars(select(ReviewCard)):
            card.due_at = card.due_at.replace(year=2000)
        db.session.commit()
        world = {
            "app": app,
            "alice": alice,
            "alice_token": token.secret,
            "alice_token_id": token.token.id,
            "run_id": run_id,
        }
    mallory = app.test_client()
    assert sign_up(mallory, "mallory").status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "mallory"))
        world["mallory_token"] = create_api_token(user, "mallory-token").secret
    world["mallory"] = mallory
    world["anonymous"] = app.test_client()
    yield world
    with app.app_context():
        db.engine.dispose()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def assert_no_alice_data(response) -> None:
    body = response.get_data(as_text=True)
    for secret in (SECRET_ANSWER, SECRET_TOKEN_NAME, "alice"):
        assert secret not in body, f"{secret!r} leaked into {response.request.path}"


def test_alice_sees_her_own_data(world):
    """The control: the same requests by Alice do show her data, so the refusals mean something."""
    alice, run_id = world["alice"], world["run_id"]
    assert alice.get(f"/runs/{run_id}").status_code == 200
    assert alice.get(f"/api/v1/runs/{run_id}").get_json()["status"] == "done"
    assert alice.get(f"/runs/{run_id}/panel").status_code == 200
    assert SECRET_ANSWER in alice.get("/account/export").get_data(as_text=True)
    assert SECRET_TOKEN_NAME in alice.get("/account").get_data(as_text=True)
    review = alice.get("/review").get_data(as_text=True)  # one card at a time, of her two due
    assert "Card 1 of 2" in review and re.search(r">Question (alpha|beta)</h1>", review)
    assert "Question beta" in alice.get("/practice/mistakes").get_data(as_text=True)
    api = world["app"].test_client()
    export = api.get("/api/v1/me/export", headers=bearer(world["alice_token"])).get_json()
    assert [a["response"] for a in export["attempts"]][0] == SECRET_ANSWER
    due = api.get("/api/v1/me/reviews/due", headers=bearer(world["alice_token"])).get_json()
    assert {card["question"] for card in due} == {"alpha", "beta"}


def test_problem_reports_are_seen_only_by_their_learner_and_the_authors(world):
    secret = "alice-report-9c1d"
    filed = world["alice"].post(
        "/questions/alpha/report", data={"category": "typo", "message": secret}
    )
    assert filed.status_code == 303
    assert secret in world["alice"].get("/api/v1/me/reports").get_data(as_text=True)  # control
    assert "Your reports" in world["alice"].get("/dashboard").get_data(as_text=True)
    for response in (
        world["mallory"].get("/api/v1/me/reports"),
        world["mallory"].get("/dashboard"),
        world["mallory"].get("/author/reports"),
        world["app"]
        .test_client()
        .get("/api/v1/me/reports", headers=bearer(world["mallory_token"])),
    ):
        assert secret not in response.get_data(as_text=True), response.request.path
    assert world["anonymous"].get("/api/v1/me/reports").status_code == 401


@pytest.mark.parametrize("who", ["mallory", "anonymous"])
def test_another_learners_run_does_not_exist_for_you(world, who):
    client, run_id = world[who], world["run_id"]
    headers = bearer(world["mallory_token"]) if who == "mallory" else {}
    for response in (
        client.get(f"/runs/{run_id}"),
        client.get(f"/runs/compare?a={run_id}&b={run_id}"),
        client.get(f"/runs/{run_id}/panel"),
        client.get(f"/lab/overlay?run={run_id}"),
        client.get(f"/api/v1/runs/{run_id}", headers=headers),
    ):
        assert response.status_code == 404, response.request.path
        assert_no_alice_data(response)
        assert "did not finish" not in response.get_data(as_text=True)


def test_exercise_pages_list_only_your_own_runs(world):
    path = f"/exercises/{EXERCISE_SLUG}"
    assert world["run_id"] in world["alice"].get(path).get_data(as_text=True)  # the control
    for who in ("mallory", "anonymous"):
        for page in (path, "/exercises", "/dashboard", "/questions/alpha"):
            response = world[who].get(page)
            assert response.status_code in (200, 302)
            assert world["run_id"] not in response.get_data(as_text=True), (who, page)


@pytest.mark.parametrize(
    "path", ["/account", "/account/export", "/dashboard", "/review", "/practice/mistakes"]
)
def test_signed_in_pages_show_only_your_own_data(world, path):
    response = world["mallory"].get(path)
    assert response.status_code == 200
    assert_no_alice_data(response)
    assert "Question alpha" not in response.get_data(as_text=True) or path == "/account"


@pytest.mark.parametrize(
    "path", ["/account", "/account/export", "/dashboard", "/review", "/practice/mistakes"]
)
def test_signed_in_pages_send_a_visitor_to_log_in(world, path):
    response = world["anonymous"].get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert_no_alice_data(response)


def test_an_api_token_does_not_open_the_html_pages(world):
    """A token is for the API; a leaked token must not open the account (and its forms)."""
    response = world["anonymous"].get("/account", headers=bearer(world["alice_token"]))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/me/export",
        "/api/v1/me/progress",
        "/api/v1/me/reviews/due",
        "/api/v1/me/tokens",
        "/api/v1/me/cards",
    ],
)
def test_the_me_endpoints_answer_for_the_token_holder_only(world, path):
    client = world["app"].test_client()
    mine = client.get(path, headers=bearer(world["mallory_token"]))
    assert mine.status_code == 200
    assert_no_alice_data(mine)
    body = mine.get_json()
    if path.endswith("export"):
        assert body["account"]["username"] == "mallory"
        assert body["attempts"] == [] and body["review_cards"] == []
    elif path.endswith("progress"):
        assert body["attempts_total"] == 0 and body["due_now"] == 0
    elif path.endswith("tokens"):
        assert [token["name"] for token in body] == ["mallory-token"]
    else:
        assert body == []
    anonymous = client.get(path)
    assert anonymous.status_code == 401
    assert_no_alice_data(anonymous)
    forged = client.get(path, headers=bearer("qz_not-a-real-token"))
    assert forged.status_code == 401


def test_the_lab_history_lists_only_your_own_runs(world):
    mine = world["alice"].get("/api/v1/lab/history").get_json()
    assert mine == []  # Alice's run is an exercise run: private, and not lab history
    theirs = world["anonymous"].get("/api/v1/lab/history", headers=bearer(world["mallory_token"]))
    assert theirs.status_code == 200 and theirs.get_json() == []
    assert world["anonymous"].get("/api/v1/lab/history").status_code == 401


def test_another_learners_token_cannot_be_revoked(world):
    response = world["mallory"].post(f"/account/tokens/{world['alice_token_id']}/revoke")
    assert response.status_code == 404
    assert_no_alice_data(response)
    with world["app"].app_context():
        assert db.session.get(ApiToken, world["alice_token_id"]).revoked_at is None
    still = world["anonymous"].get("/api/v1/me/progress", headers=bearer(world["alice_token"]))
    assert still.status_code == 200


def test_a_revoked_token_opens_nothing(world):
    alice = world["alice"]
    assert alice.post(f"/account/tokens/{world['alice_token_id']}/revoke").status_code == 302
    for path in ("/api/v1/me/export", "/api/v1/me/progress", "/api/v1/me/reviews/due",
                 "/api/v1/me/tokens", "/api/v1/me/cards"):  # fmt: skip
        response = world["anonymous"].get(path, headers=bearer(world["alice_token"]))
        assert response.status_code == 401, path
        assert_no_alice_data(response)


def test_reusing_another_learners_idempotency_key_replays_nothing_of_theirs(world):
    """Alice's answer was sent with form_key k-1: Mallory sending k-1 gets her own grade."""
    mallory = world["mallory"]
    page = mallory.post(
        "/questions/alpha/answer",
        data={"check": "2", "response": "mallory's own words", "rating": "good", "form_key": "k-1"},
    )
    assert page.status_code == 200
    assert SECRET_ANSWER not in page.get_data(as_text=True)
    assert "mallory&#39;s own words" in page.get_data(as_text=True)
    api = (
        world["app"]
        .test_client()
        .post(
            "/api/v1/questions/alpha/attempts",
            json={"check": 2, "response": "again mine", "rating": "easy", "idempotency_key": "k-1"},
            headers=bearer(world["mallory_token"]),
        )
    )
    assert api.status_code == 201
    assert api.get_json()["duplicate"] is True  # Mallory's own first k-1 answer, replayed
    assert api.get_json()["rating"] == "good"
    assert_no_alice_data(api)


def test_the_list_of_user_data_endpoints_is_complete(world):
    """Every route that needs a signed-in learner is one of the endpoints tested here."""
    rules = {
        (sorted(rule.methods - {"HEAD", "OPTIONS"})[0], rule.rule)
        for rule in world["app"].url_map.iter_rules()
        if rule.rule.startswith(("/account", "/dashboard", "/review", "/practice", "/runs",
                                 "/api/v1/me", "/api/v1/runs"))
    }  # fmt: skip
    listed = {tuple(entry.split(" ")[:2]) for entry in USER_DATA_ENDPOINTS}
    listed = {(method, path.replace("<token_id>", "<int:token_id>")) for method, path in listed}
    assert rules - listed <= {("POST", "/account")}, rules - listed  # the account forms: CSRF tests


def test_review_endpoints_show_and_change_only_your_own_data(world):
    app = world["app"]
    with app.app_context():
        alice = db.session.scalar(select(User).where(User.username == "alice"))
        db.session.add(ScheduleFit(id="alice-fit", user_id=alice.id, version=1))
        for card in db.session.scalars(select(ReviewCard)):
            card.leech, card.suspended_at = True, card.due_at
        db.session.commit()
    api = app.test_client()
    mallory = bearer(world["mallory_token"])

    memory = api.get("/api/v1/me/memory", headers=mallory).get_json()
    log = api.get("/api/v1/me/review-log", headers=mallory).get_data(as_text=True)
    schedule = api.get("/api/v1/me/schedule", headers=mallory).get_json()

    assert memory["cards"] == [] and memory["leeches"] == 0
    assert log.count("\n") == 1  # the header only
    assert schedule["fits"] == []
    assert api.get("/api/v1/me/review/leeches", headers=mallory).get_json() == []
    assert api.get("/api/v1/me/schedule/fits/alice-fit", headers=mallory).status_code == 404
    assert api.post("/api/v1/me/review/undo", json={}, headers=mallory).status_code == 404
    resolved = api.post("/api/v1/me/review/leeches/alpha", json={"action": "resume"},
                        headers=mallory)  # fmt: skip
    assert resolved.status_code == 404
    for path in ("/review/leeches", "/account/review-log.csv", "/account/schedule"):
        response = world["mallory"].get(path)
        assert response.status_code == 200, path
        assert_no_alice_data(response)
        assert "Question alpha" not in response.get_data(as_text=True)
    assert world["mallory"].post("/review/undo").status_code == 404
    with app.app_context():  # Alice's cards are still her leeches, untouched
        assert all(card.leech for card in db.session.scalars(select(ReviewCard)))
        assert db.session.scalar(select(func.count()).select_from(ReviewLog)) > 0
    assert "Question alpha" in world["alice"].get("/review/leeches").get_data(as_text=True)
    for path in ("/api/v1/me/memory", "/api/v1/me/review-log", "/api/v1/me/schedule"):
        assert api.get(path).status_code == 401
