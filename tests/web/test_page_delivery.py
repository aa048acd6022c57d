"""How pages are delivered: kept per content version for visitors, fingerprinted static
files with long caching, compression, mermaid.js only where a diagram is, descriptions."""

from __future__ import annotations

import gzip
import re

import pytest
from conftest import add_user, sign_in, write_question

from quizapp.services.content_import import import_content


@pytest.fixture
def bank(app, content_dir):
    write_question(
        content_dir,
        "plain",
        replace={"  ```mermaid\n  graph LR\n    A[z] --> B[sigma]\n  ```\n": ""},
    )
    with app.app_context():
        import_content(content_dir)
    return app


def test_a_visitors_catalog_is_kept_until_the_content_changes(bank, content_dir):
    visitor = bank.test_client(use_cookies=False)
    first = visitor.get("/")
    assert first.status_code == 200 and "Question alpha" in first.text
    assert visitor.get("/").data == first.data
    assert "Set-Cookie" not in first.headers
    write_question(
        content_dir,
        "alpha",
        related=["beta"],
        replace={"title: Question alpha": "title: Renamed alpha"},
    )
    with bank.app_context():
        import_content(content_dir)
    again = visitor.get("/")
    assert "Renamed alpha" in again.text and "Question alpha" not in again.text


def test_a_signed_in_learner_never_gets_a_visitors_page(bank, client):
    bank.test_client(use_cookies=False).get("/topics/gradient-flow")
    sign_in(client, add_user(bank, "ada"))
    page = client.get("/topics/gradient-flow").text
    assert "Log out" in page and 'class="state state-new">New</span>' in page


def test_static_files_are_fingerprinted_and_cached_for_a_year(bank, client):
    page = client.get("/").text
    css = re.search(r'href="(/static/css/app\.css\?v=([0-9a-f]{12}))"', page)
    assert css, "the stylesheet's URL carries its hash"
    hit = client.get(css.group(1))
    assert hit.status_code == 200
    assert hit.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stale = client.get("/static/css/app.css?v=000000000000")
    assert "immutable" not in stale.headers.get("Cache-Control", "")
    assert "immutable" not in client.get("/static/css/app.css").headers.get("Cache-Control", "")


def test_text_responses_are_compressed_when_the_browser_accepts_it(bank):
    visitor = bank.test_client(use_cookies=False)
    page = visitor.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip"
    assert b"<!doctype html>" in gzip.decompress(page.data)
    plain = visitor.get("/", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and b"<!doctype html>" in plain.data
    api = visitor.get("/api/v1/questions/alpha", headers={"Accept-Encoding": "gzip"})
    assert api.headers["Content-Encoding"] == "gzip"


def test_mermaid_is_loaded_only_on_pages_with_a_diagram(bank, client):
    with_diagram = client.get("/questions/alpha").text
    assert re.search(
        r'<script src="/static/js/diagrams\.js\?v=\w+"'
        r' data-mermaid="/static/vendor/mermaid/mermaid\.min\.js\?v=\w+" defer>',
        with_diagram,
    )
    assert "mermaid.min.js" not in client.get("/questions/plain").text
    assert "mermaid.min.js" not in client.get("/").text


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/questions/alpha",
        "/topics",
        "/topics/gradient-flow",
        "/exercises",
        "/lab",
        "/login",
        "/register",
    ],
)
def test_public_pages_have_a_meta_description(bank, client, path):
    page = client.get(path).text
    description = re.search(r'<meta name="description" content="([^"]+)">', page)
    assert description and len(description.group(1)) > 30


def test_a_questions_description_is_its_question(bank, client):
    page = client.get("/questions/alpha").text
    assert '<meta name="description" content="What is the maximum of the sigmoid' in page


def test_a_kept_form_page_gives_each_visitor_a_working_token_of_their_own(tmp_path, content_dir):
    from conftest import make_app

    from quizapp.extensions import db

    app = make_app(f"sqlite:///{tmp_path / 'csrf.sqlite'}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        import_content(content_dir)
    tokens, cookies = [], []
    # The first visitor's page is rendered (Flask-WTF's token), the others' are kept ones with
    # a token and cookie of their own (web/visitor_token.py), spliced into the gzip stream.
    for encoding in ("identity", "gzip", "identity"):
        visitor = app.test_client()
        page = visitor.get("/login", headers={"Accept-Encoding": encoding})
        html = gzip.decompress(page.data).decode() if encoding == "gzip" else page.text
        assert page.headers.get("Content-Encoding") == (encoding if encoding == "gzip" else None)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        tokens.append(token)
        cookie = page.headers["Set-Cookie"]
        cookies.append(cookie.split(";", 1)[1])  # the attributes, not the value
        assert page.headers["Cache-Control"] == "no-store"
        tried = visitor.post(
            "/login", data={"csrf_token": token, "username": "nobody", "password": "wrong one"}
        )
        assert tried.status_code == 401  # the token was accepted; the password was not
        # Another visitor's token does not fit this visitor's session.
        if len(tokens) > 1:
            stolen = visitor.post(
                "/login", data={"csrf_token": tokens[0], "username": "x", "password": "y"}
            )
            assert stolen.status_code == 400 and "send it again" in stolen.text
    assert len(set(tokens)) == 3
    assert len(set(cookies)) == 1 and "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0]
    with app.app_context():
        db.engine.dispose()


def test_the_math_font_is_served_by_the_app_and_cached_by_its_versioned_name(bank, client):
    css = client.get("/static/css/app.css").text
    font = re.search(r'url\("\.\./(vendor/stix-two-math/[\w.-]+\.woff2)"\)', css).group(1)
    served = client.get(f"/static/{font}")
    assert served.status_code == 200 and served.data[:4] == b"wOF2"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "math {" in css and '"STIX Two Math"' in css


def test_the_math_font_is_preloaded_only_where_math_shows_at_once(bank, client):
    preload = re.compile(
        r'<link rel="preload" href="(/static/vendor/stix-two-math/[^"]+)" as="font"'
    )
    # alpha's checks carry math ($z = 0$ in an option's feedback): the font comes early.
    with_math = preload.search(client.get("/questions/alpha").text)
    assert with_math, "no preload of the math font"
    assert with_math.group(1).rsplit("/", 1)[1] in client.get("/static/css/app.css").text
    assert preload.search(client.get("/").text) is None


def test_a_former_slugs_redirect_is_kept_per_content_version(bank, content_dir):
    visitor = bank.test_client(use_cookies=False)
    (content_dir / "questions" / "plain.yaml").unlink()
    write_question(content_dir, "renamed", replace={"related:": "aliases: [plain]\nrelated:"})
    with bank.app_context():
        import_content(content_dir)
    for _ in range(2):  # rendered, then kept
        moved = visitor.get("/questions/plain")
        assert moved.status_code == 301 and moved.headers["Location"] == "/questions/renamed"
    (content_dir / "questions" / "renamed.yaml").unlink()
    write_question(
        content_dir, "final", replace={"related:": "aliases: [plain, renamed]\nrelated:"}
    )
    with bank.app_context():
        import_content(content_dir)
    assert visitor.get("/questions/plain").headers["Location"] == "/questions/final"
