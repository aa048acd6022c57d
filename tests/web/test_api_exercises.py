"""The exercises API: listing, starting runs, polling them, and every refusal as JSON."""

from __future__ import annotations

import itertools
import time

import pytest
from conftest import make_app, sign_in
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import SimRun, User

SLUG = "tanh-depth-30-init"
SEED_QUESTION = "vanishing-gradient-problem"
WAIT = 60.0  # seconds: a bound on waiting for the pool, not a performance assertion
TINY = {"kind": "mlp", "depth": 4, "width": 8, "batch_size": 16}
# A few tenths of a second: enough to keep a single worker busy while the queue fills.
BUSY = {"kind": "lstm", "width": 128, "seq_len": 250, "batch_size": 32}
USER_NUMBERS = itertools.count(1)


@pytest.fixture(scope="module")
def api_app(real_bank_app):
    return real_bank_app


@pytest.fixture
def api(api_app):
    return api_app.test_client()


def signed_in(app):
    client = app.test_client()
    username = f"api-learner-{next(USER_NUMBERS)}"
    with app.app_context():
        user = User(username=username, username_key=username, password_hash="not used here")
        db.session.add(user)
        db.session.commit()
        user_id = user.id
    sign_in(client, user_id)
    return client


def run_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SimRun))


def first_choices(client) -> dict:
    exercise = client.get(f"/api/v1/exercises/{SLUG}").get_json()
    return {name: options[0]["value"] for name, options in exercise["choices"].items()}


def assert_json_error(response, status: int, *phrases: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert body["code"] == status
    for phrase in phrases:
        assert phrase in body["message"], body
    return body


def wait_done(client, run_id: str) -> dict:
    deadline = time.monotonic() + WAIT
    while True:
        response = client.get(f"/api/v1/runs/{run_id}")
        assert response.status_code == 200
        body = response.get_json()
        if body["status"] not in ("queued", "running"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {body['status']} after {WAIT:g} s")
        time.sleep(0.05)


# Reading exercises


def test_the_list_describes_each_exercise_without_its_answers(api):
    response = api.get("/api/v1/exercises")
    assert response.status_code == 200
    exercises = {exercise["slug"]: exercise for exercise in response.get_json()}
    seed = exercises[SLUG]
    assert SEED_QUESTION in seed["questions"]
    assert seed["goals"] and all(isinstance(goal, str) for goal in seed["goals"])
    for options in seed["choices"].values():
        assert len(options) >= 2
        assert all(set(option) == {"value", "label"} for option in options)
    for exercise in exercises.values():
        assert not {"reference_solution", "wrong_choice", "feedback"} & set(exercise)


def test_one_exercise_and_an_unknown_one(api):
    body = api.get(f"/api/v1/exercises/{SLUG}").get_json()
    assert body["slug"] == SLUG
    assert body["network"]["kind"]
    assert "<p>" in body["prompt_html"]
    assert_json_error(api.get("/api/v1/exercises/no-such-exercise"), 404, "no-such-exercise")


# Running an exercise


def test_a_run_is_accepted_then_polled_until_graded(api_app):
    client = signed_in(api_app)
    choices = first_choices(client)
    response = client.post(
        f"/api/v1/exercises/{SLUG}/runs", json={"choices": choices, "prediction": "healthy"}
    )
    assert response.status_code == 202
    started = response.get_json()
    assert started["url"] == f"/runs/{started['id']}"
    assert started["exercise"] == SLUG and started["choices"] == choices
    assert started["prediction"] == "healthy"
    body = wait_done(client, started["id"])
    assert body["status"] == "done", body["error"]
    assert body["result"]["verdict"] in ("vanishing", "healthy", "exploding")
    assert body["passed"] is all(goal["passed"] for goal in body["goals"])
    assert body["prediction_correct"] is (body["result"]["verdict"] == "healthy")
    assert body["config"] == body["result"]["config"]

    # The same choice again is answered at once from the cache.
    again = client.post(f"/api/v1/exercises/{SLUG}/runs", json={"choices": choices})
    assert again.status_code == 202
    cached = again.get_json()
    assert cached["status"] == "done" and cached["from_cache"] is True
    assert cached["result"] == body["result"] and cached["passed"] is body["passed"]
    assert cached["id"] != body["id"]


def test_a_choice_outside_the_space_is_400_naming_the_field(api_app, api):
    choices = first_choices(api)
    name = next(iter(choices))
    before = run_count(api_app)
    response = api.post(
        f"/api/v1/exercises/{SLUG}/runs", json={"choices": dict(choices, **{name: "bogus"})}
    )
    body = assert_json_error(response, 400, f"{name}: ", "'bogus' is not offered")
    assert body["field"] == f"choices.{name}"
    response = api.post(f"/api/v1/exercises/{SLUG}/runs", json={"choices": {}})
    assert assert_json_error(response, 400, "required")["field"] == f"choices.{name}"
    response = api.post(f"/api/v1/exercises/{SLUG}/runs", json={"choices": dict(choices, width=8)})
    assert assert_json_error(response, 400, "width", "not a choice")["field"] == "choices.width"
    assert run_count(api_app) == before


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        ('{"choices": ', "Invalid JSON"),
        ("[1, 2]", ""),
        ('{"choices": ["default"]}', "choices"),
        ("{}", "choices"),
        ('{"choices": {}, "prediction": "probably fine"}', "prediction"),
        ('{"choices": {}, "colour": "blue"}', "colour"),
    ],
)
def test_a_malformed_body_is_400(api_app, api, data, phrase):
    before = run_count(api_app)
    response = api.post(
        f"/api/v1/exercises/{SLUG}/runs", data=data, content_type="application/json"
    )
    assert_json_error(response, 400, phrase)
    assert run_count(api_app) == before


def test_running_an_unknown_exercise_is_404(api):
    response = api.post("/api/v1/exercises/no-such-exercise/runs", json={"choices": {}})
    assert_json_error(response, 404, "no-such-exercise")


# The lab


def test_a_lab_run_is_accepted_and_finishes(api):
    response = api.post("/api/v1/lab/runs", json={"config": dict(TINY, seed=31)})
    assert response.status_code == 202
    body = wait_done(api, response.get_json()["id"])
    assert body["status"] == "done"
    assert body["exercise"] is None and body["passed"] is None and body["goals"] == []
    assert len(body["result"]["layers"]) == 4


@pytest.mark.parametrize(
    ("config", "field", "phrases"),
    [
        ({"kind": "mlp", "depth": 5000}, "depth", ("reduce it to 200 or less",)),
        ({"kind": "mlp", "width": 100_000}, "width", ("reduce it to 1024 or less",)),
        (
            {"kind": "lstm", "width": 1024, "seq_len": 500, "batch_size": 512},
            "width",
            ("exceeds the budget", "reduce width to"),
        ),
        ({"kind": "mlp", "colour": "blue"}, "colour", ("unknown field", "colour")),
        ({"kind": "mlp", "forget_bias": 1.0}, "forget_bias", ("does not apply",)),
        ({"depth": 4}, "kind", ("required",)),
    ],
)
def test_a_lab_config_the_simulator_refuses_is_400_saying_what_to_change(
    api_app, api, config, field, phrases
):
    before = run_count(api_app)
    body = assert_json_error(api.post("/api/v1/lab/runs", json={"config": config}), 400, *phrases)
    assert body["field"] == field
    assert run_count(api_app) == before


def test_a_runs_config_can_be_posted_back_to_the_lab_as_it_is(api):
    # The normalised config names every field (None where it does not apply).
    first = api.post("/api/v1/lab/runs", json={"config": dict(TINY, seed=34)}).get_json()
    config = wait_done(api, first["id"])["config"]
    assert None in config.values()
    response = api.post("/api/v1/lab/runs", json={"config": config})
    assert response.status_code == 202, response.get_json()
    again = response.get_json()
    assert again["from_cache"] is True and again["config"] == config


def test_a_lab_body_without_a_config_mapping_is_400(api):
    assert_json_error(api.post("/api/v1/lab/runs", json={"config": [1]}), 400, "config")
    assert_json_error(api.post("/api/v1/lab/runs", json={}), 400, "config")


# Who may see a run


def test_another_learners_run_is_404(api_app):
    owner, other = signed_in(api_app), signed_in(api_app)
    run_id = owner.post("/api/v1/lab/runs", json={"config": dict(TINY, seed=32)}).get_json()["id"]
    assert wait_done(owner, run_id)["status"] == "done"
    assert_json_error(other.get(f"/api/v1/runs/{run_id}"), 404, "No such simulation run")
    assert_json_error(api_app.test_client().get(f"/api/v1/runs/{run_id}"), 404)


@pytest.mark.parametrize("run_id", ["0" * 32, "not-a-run", "x" * 200])
def test_an_unknown_run_is_404(api, run_id):
    assert_json_error(api.get(f"/api/v1/runs/{run_id}"), 404, "No such simulation run")


# A full queue


def test_a_full_queue_is_503_with_retry_after_and_stores_nothing(tmp_path):
    app = make_app(
        f"sqlite:///{tmp_path / 'busy.sqlite'}",
        QUIZAPP_SIM_WORKERS=1,
        QUIZAPP_SIM_QUEUE_LIMIT=1,
    )
    client = app.test_client()
    accepted: list[str] = []
    refused = None
    for seed in range(6):  # one job runs, one waits: a third has no room
        before = run_count(app)
        response = client.post("/api/v1/lab/runs", json={"config": dict(BUSY, seed=seed)})
        if response.status_code == 503:
            refused = response
            assert run_count(app) == before  # nothing stored for a refused run
            break
        assert response.status_code == 202
        accepted.append(response.get_json()["id"])
    assert refused is not None, "the queue never filled"
    body = assert_json_error(refused, 503, "try again")
    assert int(refused.headers["Retry-After"]) >= 1
    assert run_count(app) == len(accepted)
    # Every accepted run finishes; none is lost.
    assert [wait_done(client, run_id)["status"] for run_id in accepted] == ["done"] * len(accepted)
    assert body["status"]
    # With the queue drained, the next run is accepted again.
    response = client.post("/api/v1/lab/runs", json={"config": dict(TINY, seed=33)})
    assert response.status_code == 202
    assert wait_done(client, response.get_json()["id"])["status"] == "done"
    with app.app_context():
        db.engine.dispose()
