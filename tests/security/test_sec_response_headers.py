"""Security headers on every page and every API response, errors included, signed in or not.

The URL table names every GET route; a new route fails the completeness test until it is
added, so no page ships without being checked.
"""

from __future__ import annotations

import time

import pytest
from conftest import EXERCISE_SLUG, make_app, write_exercise
from sec_support import sign_up
from sqlalchemy import select

from quizapp.extensions import db
from quizapp.models import ScheduleFit, SimRun, User
from quizapp.services.accounts import create_api_token
from quizapp.services.content_import import import_content
from quizapp.services.phase import sweep_key
from quizapp.services.simulations import start_exercise_run
from quizapp.sim.phase import PHASE_PRESETS

PHASE_KEY = sweep_key(PHASE_PRESETS["relu-he-line"], 3)
GET_URLS = {
    "pages.catalog": "/?q=sigmoid&difficulty=easy",
    "pages.question": "/questions/alpha?reveal=1",
    "pages.topics": "/topics",
    "pages.topic": "/topics/gradient-flow",
    "pages.api_docs": "/api/docs",
    "auth.register": "/register",
    "auth.login": "/login",
    "auth.logout_page": "/logout",
    "auth.account": "/account",
    "learning.review": "/review",
    "learning.dashboard": "/dashboard",
    "learning.mistakes": "/practice/mistakes",
    "learning.export": "/account/export",
    "learning.worksheet": "/questions/alpha/worksheet",
    "learning.answer_address": "/questions/alpha/answer",
    "review.form_address": "/review/rate",
    "pages.favicon": "/favicon.ico",
    "exercises.exercise_list": "/exercises",
    "exercises.exercise": f"/exercises/{EXERCISE_SLUG}",
    "exercises.lab": "/lab?kind=mlp&depth=10",
    "exercises.run": "/runs/{run}",
    "exercises.compare": "/runs/compare?a={run}&b={run}",
    "healthz": "/healthz",
    "static": "/static/js/app.js",
    "api-docs.openapi_json": "/api/openapi.json",
    "api_questions.list_questions": "/api/v1/questions?topic=gradient-flow",
    "api_questions.get_question": "/api/v1/questions/alpha",
    "api_questions.list_topics": "/api/v1/topics",
    "api_learning.my_progress": "/api/v1/me/progress",
    "api_learning.my_due_reviews": "/api/v1/me/reviews/due",
    "api_learning.my_export": "/api/v1/me/export",
    "api_tokens.my_tokens": "/api/v1/me/tokens",
    "api_exercises.list_exercises": "/api/v1/exercises",
    "api_exercises.get_exercise": f"/api/v1/exercises/{EXERCISE_SLUG}",
    "api_exercises.get_run": "/api/v1/runs/{run}",
    "lab.run_panel": "/runs/{run}/panel",
    "lab.shared": "/lab/results?kind=mlp&depth=3&width=4",
    "lab.overlay": "/lab/overlay?run={run}",
    "lab.phase": "/lab/phase?preset=relu-he-line&size=3",
    "lab.phase_figure_fragment": f"/lab/phase/{PHASE_KEY}/figure",
    "api_lab.lab_history": "/api/v1/lab/history",
    "api_lab.shared_result": "/api/v1/lab/results?kind=mlp&depth=3&width=4",
    "api_lab.lab_fields": "/api/v1/lab/fields",
    "api_lab.get_phase": f"/api/v1/lab/phase/{PHASE_KEY}",
    "review.leeches": "/review/leeches",
    "review.schedule": "/account/schedule",
    "review.export_revlog": "/account/review-log.csv",
    "review.import_revlog": "/account/review-log/import",
    "api_review.review_queue": "/api/v1/me/review/queue",
    "api_review.leeches": "/api/v1/me/review/leeches",
    "api_review.get_settings": "/api/v1/me/review/settings",
    "api_review.memory": "/api/v1/me/memory",
    "api_review.export_revlog": "/api/v1/me/review-log",
    "api_review.schedule": "/api/v1/me/schedule",
    "api_review.get_fit": "/api/v1/me/schedule/fits/headers-fit",
    "api_exercises.lab_schema": "/api/v1/lab/schema",
    "practice.next_question": "/practice/next?after=alpha",
    "practice.start_topic": "/practice/topics/gradient-flow",
    "practice.finish": "/practice/finish",
    "api_practice.next_question": "/api/v1/next-question",
    "api_practice.topic_practice": "/api/v1/topics/gradient-flow/practice?size=2",
    "api_practice.my_cards": "/api/v1/me/cards",
    "authoring.report": "/questions/alpha/report",
    "authoring.items": "/author?sort=facility&order=desc",
    "authoring.items_csv": "/author/items.csv",
    "authoring.exercise_analytics": "/author/exercises",
    "authoring.reports": "/author/reports?status=open",
    "decks.topic_deck": "/topics/gradient-flow/deck.apkg",
    "decks.bank_deck": "/deck.apkg",
    "api_authoring.my_reports": "/api/v1/me/reports",
    "api_authoring.author_reports": "/api/v1/author/reports",
    "api_authoring.author_items": "/api/v1/author/items",
    "api_authoring.author_exercises": "/api/v1/author/exercises",
    "api_authoring.author_variants": "/api/v1/author/questions/alpha/variants?n=2",
    "api_authoring.topic_deck": "/api/v1/topics/gradient-flow/deck",
    "api_authoring.bank_deck": "/api/v1/deck",
}
ERRORS = [
    ("GET", "/questions/no-such-question", None, 404),
    ("GET", "/api/v1/questions/no-such-question", None, 404),
    ("GET", "/?page=0", None, 400),
    ("GET", "/api/v1/questions?per_page=1000", None, 400),
    ("POST", "/questions/alpha/answer", {"check": "9"}, 400),
    ("POST", "/api/v1/questions/alpha/attempts", {"check": 0}, 400),
    ("POST", "/login", {"username": "nobody", "password": "wrong password"}, 401),
    ("PUT", "/questions/alpha", None, 405),
    ("POST", "/api/v1/lab/runs", {"config": {"kind": "mlp", "depth": 10_000}}, 400),
]
SAFE_REFERRER = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Content, an author with a finished exercise run; read-only for the tests."""
    root = tmp_path_factory.mktemp("headers")
    from conftest import write_question

    (root / "questions").mkdir()
    (root / "exercises").mkdir()
    (root / "topics.yaml").write_text("- slug: gradient-flow\n  title: Gradient flow\n")
    write_question(root, "alpha", related=["beta"])
    write_question(root, "beta", related=["alpha"])
    write_exercise(root)
    app = make_app(f"sqlite:///{root / 'headers.sqlite'}")
    app.instance_path = str(root / "instance")  # Anki decks are cached there
    with app.app_context():
        import_content(root)
    client = app.test_client()
    assert sign_up(client, "header-reader").status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User))
        user.role = "author"  # the author pages are pages too
        db.session.commit()
        token = create_api_token(user, "headers").secret
        run = start_exercise_run(user, EXERCISE_SLUG, {"init": "default"}).id
        deadline = time.monotonic() + 120  # a bound on starting a worker, not a timing check
        while db.session.get(SimRun, run).status not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
            db.session.expire_all()
        # A finished schedule fit of this learner, for its page in the API.
        db.session.add(ScheduleFit(id="headers-fit", user_id=user.id, version=1, status="failed"))
        db.session.commit()
    yield {"app": app, "signed_in": client, "token": token, "run": run}
    with app.app_context():
        db.engine.dispose()


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = [word.lower() for word in words[1:]]
    return directives


def assert_secure_headers(response) -> None:
    where = f"{response.request.method} {response.request.path} ({response.status_code})"
    headers = response.headers
    csp = csp_directives(headers.get("Content-Security-Policy", ""))
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts, f"{where}: no script-src"
    for unsafe in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"):
        assert unsafe not in scripts, f"{where}: script-src allows {unsafe}"
    assert csp.get("object-src") == ["'none'"], where
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert csp.get("base-uri") == ["'self'"], where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("Referrer-Policy") in SAFE_REFERRER, where


def test_the_url_table_names_every_page(site):
    endpoints = {
        rule.endpoint for rule in site["app"].url_map.iter_rules() if "GET" in rule.methods
    }
    assert endpoints == set(GET_URLS)


@pytest.mark.parametrize("endpoint", sorted(GET_URLS))
@pytest.mark.parametrize("who", ["visitor", "signed in", "token"])
def test_every_page_and_api_response_has_the_security_headers(site, endpoint, who):
    url = GET_URLS[endpoint].format(run=site["run"])
    if who == "signed in":
        response = site["signed_in"].get(url)
    elif who == "token":
        response = (
            site["app"].test_client().get(url, headers={"Authorization": f"Bearer {site['token']}"})
        )
    else:
        response = site["app"].test_client().get(url)
    assert response.status_code in (200, 302, 401, 404), (url, response.status_code)
    # These answer with a redirect by design (to the chosen question) whoever asks.
    redirects = ("auth.login", "auth.register", "practice.next_question", "practice.start_topic",
                 "learning.answer_address", "review.form_address", "pages.favicon")  # fmt: skip
    if who == "signed in" and endpoint not in redirects:
        assert response.status_code == 200, url  # the page itself, not a redirect
    assert_secure_headers(response)


@pytest.mark.parametrize(("method", "path", "body", "status"), ERRORS)
def test_error_responses_have_the_security_headers(site, method, path, body, status):
    client = site["app"].test_client()
    if path.startswith("/api/"):
        response = client.open(path, method=method, json=body)
    else:
        response = client.open(path, method=method, data=body)
    assert response.status_code == status
    assert_secure_headers(response)


def test_session_cookies_cannot_be_read_by_script_or_sent_cross_site(site):
    client = site["app"].test_client()
    sign_up(client, "cookie-reader")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


# Private responses are not cached (issue 11, item 7).

PERSONAL = {
    "auth.account",
    "learning.review",
    "learning.dashboard",
    "learning.mistakes",
    "learning.export",
    "exercises.run",
    "exercises.compare",
    "api_learning.my_progress",
    "api_learning.my_due_reviews",
    "api_learning.my_export",
    "api_tokens.my_tokens",
    "api_exercises.get_run",
    "api_practice.my_cards",
    # Signed-in pages of learners (their reports) and of authors (statistics, reports).
    "authoring.report",
    "api_lab.lab_history",
    "authoring.items",
    "authoring.items_csv",
    "authoring.exercise_analytics",
    "authoring.reports",
    "api_authoring.my_reports",
    "api_authoring.author_reports",
    "api_authoring.author_items",
    "api_authoring.author_exercises",
    "api_authoring.author_variants",
    "review.leeches",
    "review.schedule",
    "review.export_revlog",
    "review.import_revlog",
    "api_review.review_queue",
    "api_review.leeches",
    "api_review.get_settings",
    "api_review.memory",
    "api_review.export_revlog",
    "api_review.schedule",
    "api_review.get_fit",
}
# Served alike to everybody: a cache may keep them.
PUBLIC = {
    "static", "healthz", "api-docs.openapi_json",
    "decks.topic_deck", "decks.bank_deck", "api_authoring.topic_deck", "api_authoring.bank_deck",
}  # fmt: skip


@pytest.mark.parametrize("endpoint", sorted(GET_URLS))
def test_every_signed_in_response_that_shows_the_learner_is_not_stored(site, endpoint):
    url = GET_URLS[endpoint].format(run=site["run"])
    response = site["signed_in"].get(url)
    body = response.get_data().decode(errors="replace")  # Anki decks are zip files
    if endpoint in PERSONAL or "header-reader" in body:
        assert response.headers.get("Cache-Control") == "no-store", url
        assert "ETag" not in response.headers and "Last-Modified" not in response.headers
    if endpoint in PUBLIC:
        assert "no-store" not in response.headers.get("Cache-Control", ""), url


@pytest.mark.parametrize("endpoint", sorted(e for e in PERSONAL if GET_URLS[e].startswith("/api/")))
def test_personal_api_answers_to_a_token_are_not_stored(site, endpoint):
    url = GET_URLS[endpoint].format(run=site["run"])
    client = site["app"].test_client()
    response = client.get(url, headers={"Authorization": f"Bearer {site['token']}"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_that_set_a_cookie_are_not_stored_and_public_pages_stay_cacheable(site, tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'csrf.sqlite'}", WTF_CSRF_ENABLED=True)
    login = app.test_client().get("/login")  # its CSRF token is tied to a new session cookie
    assert "Set-Cookie" in login.headers
    assert login.headers["Cache-Control"] == "no-store"
    with app.app_context():
        db.engine.dispose()
    catalog = site["app"].test_client().get("/topics")
    assert "Set-Cookie" not in catalog.headers
    assert "no-store" not in catalog.headers.get("Cache-Control", "")


def test_the_rule_covers_every_personal_page(site):
    """Each page that needs a signed-in learner is in PERSONAL: a new one fails here."""
    needs_sign_in = set()
    for endpoint, url in GET_URLS.items():
        response = site["app"].test_client().get(url.format(run=site["run"]))
        if response.status_code in (302, 401) and "/login" in response.headers.get(
            "Location", "/login"
        ):
            needs_sign_in.add(endpoint)
    assert needs_sign_in <= PERSONAL, " ".join(sorted(needs_sign_in - PERSONAL))
