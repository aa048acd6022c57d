"""Shared lab links carry no CSRF token; cookie-less API clients need none, cookie holders do."""

from __future__ import annotations

from quizapp.extensions import db
from quizapp.services.content_import import import_content
from tests.conftest import CONTENT_DIR, make_app


def test_the_lab_link_button_drops_the_csrf_token_and_blank_fields(client):
    response = client.get("/lab?csrf_token=secret&kind=mlp&depth=30&width=&init=")
    assert response.status_code == 302
    assert response.headers["Location"] == "/lab?kind=mlp&depth=30"
    page = client.get(response.headers["Location"])
    assert 'value="30"' in page.text


def test_an_api_client_without_cookies_needs_no_csrf_token_but_a_cookie_holder_does(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'csrf.sqlite'}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        import_content(CONTENT_DIR)
    body = {"check": 0, "response": [0]}
    url = "/api/v1/questions/vanishing-gradient-problem/attempts"

    cookieless = app.test_client(use_cookies=False).post(url, json=body)
    assert cookieless.status_code == 201
    assert cookieless.json["stored"] is False

    browser = app.test_client()
    browser.get("/login")  # the page sets a session cookie holding its CSRF token
    forged = browser.post(url, json=body)
    assert forged.status_code == 400
    assert "CSRF" in forged.json["message"]
    with app.app_context():
        db.engine.dispose()


def test_a_refused_lab_configuration_returns_to_the_form_with_the_reason_and_values(client):
    response = client.post("/lab/runs", data={"kind": "mlp", "depth": "5000", "width": "64"})
    assert response.status_code == 400
    assert "depth: is 5000, above the limit of 200" in response.text
    assert 'id="lab-form"' in response.text and 'value="5000"' in response.text
    assert '<div class="field lab-field has-error" data-field="depth"' in response.text
