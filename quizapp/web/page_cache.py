"""Whole public pages kept per content version, for visitors who send no cookie.

Such a visitor's page depends only on the URL and the imported content, so it is rendered
once per content version and then served from memory: the catalog, the landing page, went
from 6 % to well over a third of a bare Flask "hello" this way (see `make bench`). A page
that starts a session or answers anything but 200 is never kept, except that a CSRF token
(the login form, the lab) is put in afresh for each visitor.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import OrderedDict
from functools import wraps

from flask import Flask, Response, current_app, request, session
from flask_wtf.csrf import generate_csrf

from quizapp.services import questions as question_service

# Pages whose only personal part for a visitor is the CSRF token of their forms: kept with
# a placeholder that each visitor's own token replaces.
TOKEN_ENDPOINTS = ("auth.login", "auth.register", "exercises.lab", "exercises.exercise")
TOKEN_PLACEHOLDER = b"\x00csrf-token\x00"
# The pages and API reads whose anonymous response is the same for every visitor.
CACHED_ENDPOINTS = (
    "pages.catalog",
    "pages.question",
    "pages.topics",
    "pages.topic",
    "exercises.exercise_list",
    "api_questions.list_questions",
    "api_questions.get_question",
    "api_questions.list_topics",
    "api_exercises.list_exercises",
    "api_exercises.get_exercise",
    *TOKEN_ENDPOINTS,
)
CACHE_SIZE = 512
GZIP_MIN_BYTES = 500
MAX_KEY_CHARS = 1024  # a longer query string is served, just not kept
# Headers that belong to one response, not to the page.
_PER_RESPONSE = {"set-cookie", "content-length", "x-request-id", "date"}


class PageStore:
    """One app's kept pages, least recently used dropped first."""

    def __init__(self) -> None:
        self.pages: OrderedDict[tuple, tuple[bytes, int, list[tuple[str, str]]]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple):
        with self.lock:
            hit = self.pages.get(key)
            if hit is not None:
                self.pages.move_to_end(key)
            return hit

    def put(self, key: tuple, value) -> None:
        with self.lock:
            self.pages[key] = value
            while len(self.pages) > CACHE_SIZE:
                self.pages.popitem(last=False)


# The content version a process read last, and when. QUIZAPP_CONTENT_VERSION_TTL (1 s in
# production, 0 elsewhere) is how long it is trusted: an import shows on every worker within
# that time, and a busy page is served without touching the database.
_version: tuple[float, tuple] = (float("-inf"), ())


def content_version() -> tuple:
    """The imported content's version, read at most once per TTL per process."""
    global _version
    checked_at, version = _version
    now = time.monotonic()
    if now - checked_at >= current_app.config["QUIZAPP_CONTENT_VERSION_TTL"]:
        version = question_service.content_version()
        _version = (now, version)
    return version


def has_session_cookie() -> bool:
    """Whether the request carries a session or remember-me cookie (so it may be personal)."""
    names = (
        current_app.config["SESSION_COOKIE_NAME"],
        current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token"),
    )
    return any(name in request.cookies for name in names)


def _cacheable_request() -> bool:
    return (
        request.method == "GET"
        # The author preview shows file problems that change without a new import.
        and not current_app.config.get("QUIZAPP_PREVIEW_DIR")
        and not has_session_cookie()
        and "Authorization" not in request.headers
        and len(request.query_string) <= MAX_KEY_CHARS
    )


def _replay(body: bytes, packed: bytes | None, status: int, headers: list) -> Response:
    if TOKEN_PLACEHOLDER in body:
        body = body.replace(TOKEN_PLACEHOLDER, generate_csrf().encode())
    response = Response(body, status=status, headers=headers)
    if packed is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        response.set_data(packed)
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    response.vary.add("Cookie")  # a shared cache must not hand this page to a signed-in user
    return response


def _kept(view, endpoint: str, store: PageStore):
    @wraps(view)
    def serve(**kwargs):
        if not _cacheable_request():
            return view(**kwargs)
        key = (
            endpoint,
            request.query_string,
            tuple(sorted(kwargs.items())),
            request.accept_mimetypes.best,
            # The one setting a listing depends on (tests change it on a running app).
            current_app.config["QUIZAPP_PAGE_SIZE"],
            content_version(),
        )
        hit = store.get(key)
        if hit is not None:
            return _replay(*hit)
        response = current_app.make_response(view(**kwargs))
        response.vary.add("Cookie")
        if response.status_code != 200 or response.direct_passthrough:
            return response
        body = response.get_data()
        if endpoint in TOKEN_ENDPOINTS and set(session.keys()) == {"csrf_token"}:
            body = body.replace(generate_csrf().encode(), TOKEN_PLACEHOLDER)
        elif session.modified or "Set-Cookie" in response.headers:
            return response  # something personal happened: never kept
        headers = [(k, v) for k, v in response.headers if k.lower() not in _PER_RESPONSE]
        # Compressed once here rather than by flask-compress on every hit.
        packed = None
        if (
            current_app.config.get("QUIZAPP_COMPRESS", True)
            and len(body) >= GZIP_MIN_BYTES
            and TOKEN_PLACEHOLDER not in body
        ):
            packed = gzip.compress(body, compresslevel=6)
        store.put(key, (body, packed, response.status_code, headers))
        return response

    return serve


def init_page_cache(app: Flask) -> None:
    """Wrap each endpoint of CACHED_ENDPOINTS (all blueprints must be registered first)."""
    store = app.extensions["quizapp_pages"] = PageStore()
    for endpoint in CACHED_ENDPOINTS:
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = _kept(app.view_functions[endpoint], endpoint, store)
