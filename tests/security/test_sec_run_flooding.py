"""Simulation runs cannot be used to flood the service.

Every run submission counts, cached ones included, per account and per address: past the
limit the answer is 429 with Retry-After, from the pages and the API alike, and nothing is
stored. The runs here all come from the result cache, so no simulation worker starts.
"""

from __future__ import annotations

import pytest
from conftest import EXERCISE_SLUG, make_app, write_exercise
from sec_support import sign_up
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import SimRun
from quizapp.services.content_import import import_content
from quizapp.services.simulations import warm_cache
from quizapp.sim import validate_config

TINY_LAB = {"kind": "mlp", "depth": 4, "width": 8, "batch_size": 16}
LIMITS = {
    "QUIZAPP_RUN_LIMIT_PER_ACCOUNT": "4 per minute",
    "QUIZAPP_RUN_LIMIT_PER_ADDRESS": "6/hour",
}


@pytest.fixture
def limited_app(tmp_path, content_dir):
    write_exercise(content_dir)
    app = make_app(f"sqlite:///{tmp_path / 'runs.sqlite'}", RATELIMIT_ENABLED=True, **LIMITS)
    with app.app_context():
        import_content(content_dir)
        warm_cache(
            [
                validate_config(TINY_LAB),
                validate_config({**EXERCISE_NETWORK, "init": "default"}),
            ]
        )
    yield app
    with app.app_context():
        db.engine.dispose()
    make_app("sqlite://")  # the limiter is one object per process: switch it off again


EXERCISE_NETWORK = {"kind": "mlp", "depth": 12, "width": 8, "batch_size": 16, "activation": "tanh"}


def runs(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SimRun))


def lab_api(client):
    return client.post("/api/v1/lab/runs", json={"config": TINY_LAB})


def lab_page(client):
    return client.post("/lab/runs", data={key: str(value) for key, value in TINY_LAB.items()})


def exercise_api(client):
    return client.post(
        f"/api/v1/exercises/{EXERCISE_SLUG}/runs", json={"choices": {"init": "default"}}
    )


def exercise_page(client):
    return client.post(f"/exercises/{EXERCISE_SLUG}/runs", data={"init": "default"})


SUBMITTERS = [lab_api, lab_page, exercise_api, exercise_page]


@pytest.mark.parametrize("submit", SUBMITTERS, ids=lambda f: f.__name__)
def test_an_account_past_its_run_limit_gets_429_with_retry_after(limited_app, submit):
    client = limited_app.test_client()
    sign_up(client, "flooder")
    for n in range(4):
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"  # not the address limit
        assert submit(client).status_code in (202, 302), n
    client.environ_base["REMOTE_ADDR"] = "198.51.100.99"
    refused = submit(client)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "many simulations" in refused.get_data(as_text=True)
    assert runs(limited_app) == 4  # the refused one stored nothing
    # Someone else is not affected.
    other = limited_app.test_client()
    sign_up(other, "bystander")
    other.environ_base["REMOTE_ADDR"] = "192.0.2.50"
    assert submit(other).status_code in (202, 302)


def test_one_address_past_its_run_limit_gets_429_signed_in_or_not(limited_app):
    client = limited_app.test_client()  # anonymous: only the address counts
    for submit in [lab_api, lab_page, exercise_api, exercise_page, lab_api, lab_page]:
        assert submit(client).status_code in (202, 302)
    for submit in SUBMITTERS:
        refused = submit(client)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 60  # an hourly limit
    assert runs(limited_app) == 6
    elsewhere = limited_app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "203.0.113.77"
    assert lab_api(elsewhere).status_code == 202


def test_cached_runs_count_like_new_ones(limited_app):
    client = limited_app.test_client()
    statuses = [lab_api(client) for _ in range(7)]
    assert all(response.get_json()["from_cache"] for response in statuses[:6])
    assert statuses[6].status_code == 429


def test_the_api_documents_the_429():
    spec = make_app("sqlite://").test_client().get("/api/openapi.json").get_json()
    for path in ("/api/v1/lab/runs", "/api/v1/exercises/{slug}/runs"):
        assert "429" in spec["paths"][path]["post"]["responses"]
