"""Security headers on every response."""

from __future__ import annotations

from flask import Flask, Response, g, session

# Mermaid draws diagrams with inline <style> in its SVG, so styles allow 'unsafe-inline';
# scripts never do: every script is a file served by the app.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if is_personal(response):
            # Neither a shared proxy nor the browser's disk cache (or back button, after a
            # log-out on a shared computer) may keep a copy.
            headers["Cache-Control"] = "no-store"
            headers.pop("Expires", None)
            headers.pop("ETag", None)
            headers.pop("Last-Modified", None)
        return response


def is_personal(response: Response) -> bool:
    """Whether the response was made for one person: a signed-in user (by session or token)
    was loaded to build it, or it sets a cookie (a session holding a CSRF token or a flash
    message; Flask writes that cookie after this hook, hence `session.modified`).

    Decided once, here, for every response, so a new personal page cannot forget it. A user
    is only "loaded" when the view, its template or its decorators asked who is signed in,
    so public pages and static files of a signed-in visitor stay cacheable.
    """
    user = g.get("_login_user")
    if user is not None and user.is_authenticated:
        return True
    return session.modified or "Set-Cookie" in response.headers
