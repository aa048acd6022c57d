"""XSS: markup from authors, learners' answers, usernames and query strings is shown as text;
no page ever carries an inline script, an event handler or a javascript: URL."""

from __future__ import annotations

import pytest
from conftest import make_app, write_question
from sec_support import executable_parts, sign_up
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.models import User
from quizapp.services.content_import import ContentInvalid, import_content

SCRIPT = "<script>alert('xss')</script>"
HANDLER = '<img src="x" onerror="alert(1)">'
BREAKOUT = '"><svg onload=alert(1)>'
PAYLOADS = [SCRIPT, HANDLER, BREAKOUT, "javascript:alert(1)", "' onmouseover='alert(1)"]
# Every author-written text of a question, each carrying a different payload.
AUTHOR_PAYLOADS = {
    "title: Question xss": f"title: Question xss {SCRIPT}",
    "  What is the maximum of the sigmoid's derivative?\nanswer": (
        f"  What is the maximum? {HANDLER} [click](javascript:alert(1))\nanswer"
    ),
    "  It is $1/4$, reached at $z = 0$.": (
        "  It is $1/4$. <a href=\"javascript:alert(1)\">link</a> "
        "![img](javascript:alert(1)) <iframe src=x></iframe>"
    ),
    "    A[z] --> B[sigma]": '    A["<img src=x onerror=alert(1)>"] --> B[sigma]\n'
    '    click B "javascript:alert(1)"',
    '      - text: "1"': f"      - text: '{BREAKOUT}'",
    "feedback: Right, at $z = 0$.": f"feedback: \"Right {SCRIPT}\"",
    "  - kind: self_rated\n    prompt: Explain why deep sigmoid networks train slowly.": (
        f"  - kind: self_rated\n    prompt: 'Explain {HANDLER}'"
    ),
}  # fmt: skip


@pytest.fixture
def xss_app(tmp_path, content_dir):
    write_question(content_dir, "xss", related=["alpha"], replace=AUTHOR_PAYLOADS)
    app = make_app(f"sqlite:///{tmp_path / 'xss.sqlite'}")
    with app.app_context():
        import_content(content_dir)
    yield app
    with app.app_context():
        db.engine.dispose()


def assert_inert(response, *payloads: str) -> str:
    html = response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert executable_parts(html) == []
    for payload in payloads:
        if any(char in payload for char in "<>\"'"):  # plain words may well appear as they are
            assert payload not in html, f"{payload!r} reached the page unescaped"
    return html


def test_every_author_payload_lands_in_the_question_file(content_dir):
    text = (content_dir / "questions").joinpath("xss.yaml")
    assert not text.exists()
    path = write_question(content_dir, "xss", replace=AUTHOR_PAYLOADS)
    written = path.read_text()
    assert all(new in written for new in AUTHOR_PAYLOADS.values())


@pytest.mark.parametrize(
    "path", ["/questions/xss", "/questions/xss?reveal=1", "/", "/?q=xss", "/topics/gradient-flow",
             "/questions/alpha"],
)  # fmt: skip
def test_author_markup_is_shown_as_text(xss_app, path):
    html = assert_inert(xss_app.test_client().get(path), SCRIPT, HANDLER, BREAKOUT)
    if path.startswith("/questions/xss"):
        assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in html  # the title, as text
        assert '&lt;img src="x" onerror="alert(1)"&gt;' in html  # the question, as text


def test_author_markup_in_the_api_is_sanitised_html(xss_app):
    body = xss_app.test_client().get("/api/v1/questions/xss").get_json()
    rendered = [body["question_html"], body["answer_html"], body["explanation_html"]]
    rendered += [check["prompt_html"] for check in body["checks"]]
    rendered += [o["text_html"] for check in body["checks"] for o in check.get("options", [])]
    for html in rendered:
        assert executable_parts(html) == [], html
        assert "<script" not in html and "<iframe" not in html  # as text, "&lt;script" is fine


def test_a_javascript_reference_link_is_refused_at_import(tmp_path, content_dir):
    path = write_question(
        content_dir,
        "badref",
        related=["alpha"],
        replace={
            "url: https://www.deeplearningbook.org/contents/mlp.html": "url: javascript:alert(1)"
        },
    )
    app = make_app(f"sqlite:///{tmp_path / 'ref.sqlite'}")
    with app.app_context(), pytest.raises(ContentInvalid) as refused:
        import_content(content_dir)
    assert [(e.path, e.field) for e in refused.value.errors] == [(str(path), "references.0.url")]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_self_rated_answer_is_shown_as_text(xss_app, payload):
    client = xss_app.test_client()
    assert sign_up(client, "writer").status_code == 302
    form = {"check": "2", "response": f"My answer {payload}"}
    pending = client.post("/questions/alpha/answer", data=form)
    assert_inert(pending, payload)
    graded = client.post("/questions/alpha/answer", data={**form, "rating": "again"})
    assert "You rated yourself" in assert_inert(graded, payload)
    for page in ("/dashboard", "/practice/mistakes", "/review", "/account"):
        assert_inert(client.get(page), payload)
    export = client.get("/account/export")
    assert export.mimetype == "application/json"
    assert export.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("payload", [*PAYLOADS, "<b>bold</b>", "name<script>", "a b"])
def test_a_username_with_markup_is_refused(xss_app, payload):
    client = xss_app.test_client()
    response = sign_up(client, payload)
    assert response.status_code == 400
    html = assert_inert(response, payload)
    assert "digits, dots, dashes or underscores" in html
    with xss_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


REFLECTING_URLS = [
    "/?q={p}",
    "/?topic={p}",
    "/?difficulty={p}",
    "/?page={p}",
    "/login?next={p}",
    "/register?next={p}",
    "/lab?kind={p}&depth={p}&init_std={p}",
    "/runs/compare?a={p}&b={p}",
    "/questions/{p}",
    "/topics/{p}",
    "/exercises/{p}",
    "/runs/{p}",
    "/api/docs?x={p}",
    "/nowhere/{p}",
]


@pytest.mark.parametrize("payload", [SCRIPT, BREAKOUT, HANDLER])
@pytest.mark.parametrize("template", REFLECTING_URLS)
def test_a_query_string_or_path_payload_is_escaped(xss_app, template, payload):
    from urllib.parse import quote

    client = xss_app.test_client()
    response = client.get(template.format(p=quote(payload, safe="")))
    assert response.status_code < 500
    assert_inert(response, payload)


@pytest.mark.parametrize(
    "url", ["/api/v1/questions?q={p}", "/api/v1/questions/{p}", "/api/v1/runs/{p}"]
)
def test_api_errors_echoing_input_are_json_never_html(xss_app, url):
    from urllib.parse import quote

    response = xss_app.test_client().get(url.format(p=quote(SCRIPT, safe="")))
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
