"""Whole public pages kept per content version, for visitors who send no cookie.

Such a visitor's page depends only on the URL and the imported content, so it is rendered
once per content version and then served from memory: the catalog, the landing page, went
from 6 % to well over a third of a bare Flask "hello" this way (see `make bench`). A page
that starts a session (a CSRF token in a form) or answers anything but 200 is never kept.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from functools import wraps

from flask import Flask, Response, current_app, request, session

from quizapp.services import questions as question_service

# The pages and API reads whose anonymous response is the same for every visitor.
CACHED_ENDPOINTS = (
    "pages.catalog",
    "pages.topics",
    "pages.topic",
    "exercises.exercise_list",
    "api_questions.list_questions",
    "api_questions.get_question",
    "api_questions.list_topics",
)
CACHE_SIZE = 512
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
        and not has_session_cookie()
        and "Authorization" not in request.headers
        and len(request.query_string) <= MAX_KEY_CHARS
    )


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
            body, status, headers = hit
            return Response(body, status=status, headers=headers)
        response = current_app.make_response(view(**kwargs))
        if (
            response.status_code == 200
            and not response.direct_passthrough
            and not session.modified
            and "Set-Cookie" not in response.headers
        ):
            headers = [(k, v) for k, v in response.headers if k.lower() not in _PER_RESPONSE]
            store.put(key, (response.get_data(), response.status_code, headers))
        return response

    return serve


def init_page_cache(app: Flask) -> None:
    """Wrap each endpoint of CACHED_ENDPOINTS (all blueprints must be registered first)."""
    store = app.extensions["quizapp_pages"] = PageStore()
    for endpoint in CACHED_ENDPOINTS:
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = _kept(app.view_functions[endpoint], endpoint, store)
