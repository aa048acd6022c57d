"""Security headers on every response, and pages that work under their own CSP."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from conftest import make_app, write_question

from quizapp.extensions import db
from quizapp.services.content_import import import_content

PAGES = [
    "/",
    "/?q=sigmoid&difficulty=medium",
    "/questions/alpha",
    "/questions/alpha?reveal=1",
    "/topics",
    "/topics/gradient-flow",
    "/api/docs",
    "/questions/no-such-question",  # 404 page
    "/?page=0",  # 400 page
]
SAFE_REFERRER_POLICIES = {
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
}


@pytest.fixture(scope="module")
def site_app(tmp_path_factory):
    """Two questions imported once; these tests only read."""
    root = tmp_path_factory.mktemp("site")
    (root / "questions").mkdir()
    (root / "topics.yaml").write_text("- slug: gradient-flow\n  title: Gradient flow\n")
    write_question(root, "alpha", related=["beta"])
    write_question(root, "beta", related=["alpha"])
    app = make_app(f"sqlite:///{root / 'site.sqlite'}")
    with app.app_context():
        import_content(root)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def site(site_app):
    return site_app.test_client()


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers.get("Content-Security-Policy")
    assert policy, f"no Content-Security-Policy on {response.request.path}"
    directives = {}
    for part in policy.split(";"):
        if part.strip():
            name, *values = part.split()
            directives[name.lower()] = values
    return directives


@pytest.mark.parametrize("url", PAGES)
def test_pages_carry_the_security_headers(site, url: str) -> None:
    response = site.get(url)

    assert response.status_code in (200, 400, 404)
    directives = csp_directives(response)
    script_sources = directives.get("script-src", directives.get("default-src"))
    assert script_sources is not None
    assert "'unsafe-inline'" not in script_sources
    assert "'unsafe-eval'" not in script_sources
    assert "*" not in script_sources and "data:" not in script_sources
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] in SAFE_REFERRER_POLICIES


@pytest.mark.parametrize(
    "url", ["/api/v1/questions", "/api/v1/questions/alpha", "/api/v1/nope", "/api/openapi.json"]
)
def test_api_responses_carry_the_security_headers(site, url: str) -> None:
    response = site.get(url)

    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "'unsafe-inline'" not in csp_directives(response).get("script-src", [])


def test_static_files_are_not_sniffed(site) -> None:
    response = site.get("/static/js/app.js")

    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype in ("text/javascript", "application/javascript")


class ScriptsAndHandlers(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []
        self.in_inline_script = False
        self.inline_code = ""

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append(attributes)
            self.in_inline_script = "src" not in attributes
        self.handlers += [f"<{tag} {name}>" for name in attributes if name.startswith("on")]
        for name in ("href", "src", "action"):
            if (attributes.get(name) or "").lower().startswith("javascript:"):
                self.handlers.append(f"<{tag} {name}=javascript:>")

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_inline_script = False

    def handle_data(self, data):
        if self.in_inline_script:
            self.inline_code += data


@pytest.mark.parametrize("url", PAGES)
def test_pages_need_nothing_the_policy_blocks(site, url: str) -> None:
    # script-src 'self' blocks inline scripts and handlers: a page relying on them would break.
    found = ScriptsAndHandlers()
    found.feed(site.get(url).get_data(as_text=True))

    assert found.scripts, "every page loads the app's script"
    assert all((script.get("src") or "").startswith("/static/") for script in found.scripts)
    assert found.inline_code.strip() == ""
    assert found.handlers == []
    for script in found.scripts:
        assert site.get(script["src"]).status_code == 200, script["src"]


def test_the_session_cookie_is_not_readable_by_script(site) -> None:
    response = site.get("/questions/alpha")

    cookies = response.headers.getlist("Set-Cookie")
    session = [cookie for cookie in cookies if cookie.startswith("session=")]
    for cookie in session:
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie


def test_hsts_only_when_cookies_are_secure(tmp_path) -> None:
    secure = make_app(f"sqlite:///{tmp_path / 'secure.sqlite'}", SESSION_COOKIE_SECURE=True)
    plain = make_app(f"sqlite:///{tmp_path / 'plain.sqlite'}")
    try:
        assert "max-age=" in secure.test_client().get("/").headers["Strict-Transport-Security"]
        assert "Strict-Transport-Security" not in plain.test_client().get("/").headers
    finally:
        for app in (secure, plain):
            with app.app_context():
                db.engine.dispose()
