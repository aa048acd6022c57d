"""Whole public pages kept per content version, for visitors who send no cookie.

Such a visitor's page depends only on the URL and the imported content, so it is rendered
once per content version and then served from memory: the catalog, the landing page, went
from 6 % to well over a third of a bare Flask "hello" this way (see `make bench`). A page
that starts a session or answers anything but 200 (or a former slug's 301) is never kept,
except that a CSRF token (the login form, the lab) is put in afresh for each visitor.

A form page is kept split at its token, and compressed once in pieces that each end on a
byte boundary with no reference back (a deflate full flush): each visitor's response is the
pieces with their own token spliced in between as a stored deflate block. Compressing the
page for every visitor cost more than the rest of the request together (the lab page, ~30 KB
of HTML, took ~1 ms of gzip per request). The token and its session cookie are made in one
step (web/visitor_token.py).
"""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import wraps

from flask import Flask, Response, current_app, request, session
from flask_wtf.csrf import generate_csrf

from quizapp.services import questions as question_service
from quizapp.services.errors import Moved
from quizapp.web.errors import redirect_to_new_slug
from quizapp.web.visitor_token import mint_for

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
KEPT_STATUSES = (200, 301)  # a page, or the redirect from a renamed page's former slug
CACHE_SIZE = 512
GZIP_MIN_BYTES = 500
MAX_KEY_CHARS = 1024  # a longer query string is served, just not kept
# Headers that belong to one response, not to the page.
_PER_RESPONSE = {"set-cookie", "content-length", "x-request-id", "date"}


# A gzip member header: deflate, no name, no time, no flags, "unknown" OS.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# The empty final stored block that closes a deflate stream begun with full flushes.
DEFLATE_END = b"\x01\x00\x00\xff\xff"


def _deflate_piece(data: bytes) -> bytes:
    """`data` as raw deflate blocks, not final, ending on a byte boundary and referring to
    nothing before or after it (Z_FULL_FLUSH): pieces and stored blocks can be concatenated."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush(zlib.Z_FULL_FLUSH)


def _stored_block(data: bytes) -> bytes:
    """`data` (under 64 KiB) as a non-final stored deflate block, from a byte boundary."""
    return b"\x00" + struct.pack("<HH", len(data), len(data) ^ 0xFFFF) + data


@dataclass(frozen=True)
class KeptPage:
    """A kept response: its body split at each token placeholder (one part when the page
    has no form), and the parts compressed for splicing (None: too small to compress)."""

    parts: tuple[bytes, ...]
    packed: tuple[bytes, ...] | None
    status: int
    headers: list[tuple[str, str]]

    @classmethod
    def of(cls, body: bytes, status: int, headers: list, compress: bool) -> KeptPage:
        parts = tuple(body.split(TOKEN_PLACEHOLDER))
        packed = tuple(_deflate_piece(part) for part in parts) if compress else None
        return cls(parts, packed, status, headers)

    def body(self, token: bytes) -> bytes:
        return token.join(self.parts)

    def gzipped(self, token: bytes) -> bytes:
        """One gzip member: the pieces with `token` stored between them, the CRC of the whole."""
        assert self.packed is not None
        body = self.body(token)
        between = _stored_block(token) if len(self.parts) > 1 else b""
        trailer = struct.pack("<II", zlib.crc32(body), len(body) & 0xFFFFFFFF)
        return b"".join((GZIP_HEADER, between.join(self.packed), DEFLATE_END, trailer))


class PageStore:
    """One app's kept pages, least recently used dropped first."""

    def __init__(self) -> None:
        self.pages: OrderedDict[tuple, KeptPage] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple):
        with self.lock:
            hit = self.pages.get(key)
            if hit is not None:
                self.pages.move_to_end(key)
            return hit

    def put(self, key: tuple, value: KeptPage) -> None:
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


def _replay(page: KeptPage) -> Response:
    # A fresh token, and with it this visitor's session cookie, only where a form needs it.
    token, cookie = mint_for(current_app) if len(page.parts) > 1 else ("", None)
    if page.packed is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        response = Response(page.gzipped(token.encode()), status=page.status, headers=page.headers)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = Response(page.body(token.encode()), status=page.status, headers=page.headers)
    if cookie is not None:
        response.headers.add("Set-Cookie", cookie)
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
            return _replay(hit)
        try:
            response = current_app.make_response(view(**kwargs))
        except Moved as moved:  # a former slug: its redirect is kept like a page
            response = redirect_to_new_slug(moved)
        response.vary.add("Cookie")
        if response.status_code not in KEPT_STATUSES or response.direct_passthrough:
            return response
        body = response.get_data()
        if endpoint in TOKEN_ENDPOINTS and set(session.keys()) == {"csrf_token"}:
            body = body.replace(generate_csrf().encode(), TOKEN_PLACEHOLDER)
        elif session.modified or "Set-Cookie" in response.headers:
            return response  # something personal happened: never kept
        headers = [(k, v) for k, v in response.headers if k.lower() not in _PER_RESPONSE]
        # Compressed once here rather than by flask-compress on every hit.
        compress = current_app.config.get("QUIZAPP_COMPRESS", True) and len(body) >= GZIP_MIN_BYTES
        store.put(key, KeptPage.of(body, response.status_code, headers, compress))
        return response

    return serve


def init_page_cache(app: Flask) -> None:
    """Wrap each endpoint of CACHED_ENDPOINTS (all blueprints must be registered first)."""
    store = app.extensions["quizapp_pages"] = PageStore()
    for endpoint in CACHED_ENDPOINTS:
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = _kept(app.view_functions[endpoint], endpoint, store)
