"""Malformed input is a 400 (or a safe fallback), never a 500, on SQLite and PostgreSQL.

Each shape below gave a 500 before quizapp/web/input_guard.py: PostgreSQL refuses NUL bytes
in text, Python refuses integers of more than 4,300 digits and JSON nested thousands deep
overflows the recursion limit. The fuzz tests (tests/fuzz/test_fuzz_malformed_requests.py
and the Schemathesis run) throw the same shapes at every route.
"""

from __future__ import annotations

import json

import pytest
from sec_support import PASSWORD, log_in, sign_up

from quizapp.extensions import db
from quizapp.services.content_import import import_content

NUL_URLS = [
    "/?q=a%00b",
    "/?topic=a%00",
    "/?difficulty=%00",
    "/questions/a%00b",
    "/topics/a%00",
    "/runs/a%00",
    "/runs/compare?a=%00&b=x",
    "/exercises/a%00",
    "/lab?kind=%00",
    "/api/v1/questions?q=a%00",
    "/api/v1/questions?topic=%00",
    "/api/v1/questions/a%00",
    "/api/v1/runs/a%00",
    "/api/v1/exercises/a%00",
    "/login?next=%00",
    "/%00",
]
JSON_ENDPOINTS = [
    "/api/v1/lab/runs",
    "/api/v1/exercises/tanh-init/runs",
    "/api/v1/questions/alpha/attempts",
]
DEEP_JSON = "[" * 30_000 + "]" * 30_000
HUGE_INT = "9" * 5_000


@pytest.fixture
def bank_app(any_db_app, content_dir):
    with any_db_app.app_context():
        import_content(content_dir)
        db.session.remove()
    return any_db_app


@pytest.mark.parametrize("url", NUL_URLS)
def test_a_nul_byte_in_a_path_or_query_is_a_400(bank_app, url):
    response = bank_app.test_client().get(url)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "NUL" in response.get_data(as_text=True) or "control character" in response.get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/login", {"username": "a\x00b", "password": PASSWORD}),
        ("/register", {"username": "a\x00b", "password": PASSWORD, "confirm": PASSWORD}),
        ("/questions/alpha/answer", {"check": "0", "response": "1\x00"}),
        ("/lab/runs", {"kind": "mlp\x00"}),
        ("/login", {"username\x00": "x", "password": PASSWORD}),
    ],
)
def test_a_nul_byte_in_a_form_value_or_name_is_a_400(bank_app, path, form):
    response = bank_app.test_client().post(path, data=form)
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (DEEP_JSON, "nested more than 32 levels"),
        ('{"config": {"kind": "mlp", "depth": ' + HUGE_INT + "}}", "more than 4,300 digits"),
        ('{"check": 0, "response": "a\\u0000b"}', "NUL character"),
        ('{"check": 0, "response": "\\ud800"}', "unpaired surrogate"),
        ('{"choices": {"init\\u0000": "default"}}', "NUL character"),
    ],
)
def test_malformed_json_is_a_400_that_says_why(bank_app, path, body, message):
    response = bank_app.test_client().post(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert message in response.get_json()["message"]


def test_a_huge_number_in_a_form_or_query_is_a_400(bank_app):
    client = bank_app.test_client()
    for response in (
        client.get("/?page=" + HUGE_INT),
        client.get("/lab?depth=" + HUGE_INT),
        client.post("/questions/alpha/answer", data={"check": HUGE_INT, "response": "1"}),
        client.post(
            "/questions/alpha/answer",
            data={"check": "0", "response": "1", "started_ms": HUGE_INT},
        ),
    ):
        assert response.status_code == 400
        assert "more than 4,300 digits" in response.get_data(as_text=True)


def test_a_long_but_convertible_elapsed_time_is_clamped_not_a_500(bank_app):
    client = bank_app.test_client()
    # 400 digits: int() takes it, float() overflows.
    response = client.post(
        "/api/v1/questions/alpha/attempts",
        json={"check": 0, "response": 1, "elapsed_ms": int("9" * 400)},
    )
    assert response.status_code in (200, 201), response.get_json()
    response = client.post(
        "/questions/alpha/answer", data={"check": "0", "response": "1", "started_ms": "9" * 400}
    )
    assert response.status_code == 200


def test_well_formed_input_still_goes_through(bank_app):
    client = bank_app.test_client()
    assert client.get("/?q=sigmoid&topic=gradient-flow").status_code == 200
    response = client.post(
        "/api/v1/questions/alpha/attempts",
        data=json.dumps({"check": 0, "response": 1, "idempotency_key": "k-1"}),
        content_type="application/json",
    )
    assert response.status_code in (200, 201)


@pytest.mark.parametrize(
    "next_url",
    [
        "/account\r\nSet-Cookie: stolen=1",
        "/\r\n/evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "//evil.example",
        "https://evil.example/",
    ],
)
def test_log_in_with_control_characters_in_next_falls_back_to_the_catalog(bank_app, next_url):
    client = bank_app.test_client()
    sign_up(client, "learner")
    client.post("/logout")
    response = client.post(
        "/login", data={"username": "learner", "password": PASSWORD, "next": next_url}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "stolen" not in response.headers.get("Set-Cookie", "")


def test_log_in_keeps_a_plain_same_site_next(bank_app):
    client = bank_app.test_client()
    sign_up(client, "learner")
    client.post("/logout")
    response = client.post(
        "/login", data={"username": "learner", "password": PASSWORD, "next": "/topics?x=1"}
    )
    assert response.headers["Location"] == "/topics?x=1"
    assert log_in(client, "learner").status_code == 302


@pytest.mark.parametrize("path", ["/login", "/register", "/questions/alpha/answer", "/lab/runs"])
@pytest.mark.parametrize("body", ["[]", "1.5", "true", '{"username": ["a", "b"]}'])
def test_a_json_body_sent_to_a_page_form_is_a_400(bank_app, path, body):
    response = bank_app.test_client().post(path, data=body, content_type="application/json")
    assert response.status_code == 400
    assert "takes a form" in response.get_data(as_text=True)
