"""Every failure becomes a clear message with the right status: JSON under /api, else a page."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, TooManyRequests

from quizapp.services.errors import Busy, Moved, ServiceError

log = logging.getLogger(__name__)

# Flask-WTF says "The CSRF token is missing/invalid": true, and no help to a learner whose page
# was opened before their session began (another tab, before signing in or out).
STALE_FORM = (
    "This form was opened before your session changed (in another tab, or before you signed "
    "in or out), so it was not sent. Reload the page and send it again."
)

DATABASE_RETRY_AFTER = 5  # seconds: a restarting database or a lock is usually gone by then

TITLES = {
    400: "That request did not make sense",
    401: "Please sign in",
    403: "You cannot do that",
    404: "Page not found",
    405: "Method not allowed",
    409: "That conflicts with what is already there",
    410: "This question has been retired",
    413: "That is too large",
    429: "Too many requests",
    500: "Something went wrong on our side",
    503: "We are busy right now",
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or (request.accept_mimetypes.best == "application/json")


def error_response(status: int, message: str, field: str | None = None) -> tuple[Response, int]:
    """A JSON body {"code", "status", "message"} under /api, an HTML page elsewhere."""
    if wants_json():
        body = {"code": status, "status": TITLES.get(status, "Error"), "message": message}
        if field:
            body["field"] = field
        return jsonify(body), status
    title = TITLES.get(status, "Error")
    return render_template("errors/error.html", status=status, title=title, message=message), status


def stale_form_response(error: CSRFError) -> tuple[Response, int]:
    """A refused CSRF check: an API client is told the technical reason; a person, what to do."""
    return error_response(400, error.description if wants_json() else STALE_FORM)


def redirect_to_new_slug(error: Moved) -> Response:
    """The same address (page or API, query kept) under the renamed slug."""
    target = url_for(request.endpoint, **{**(request.view_args or {}), "slug": error.slug})
    if request.query_string:
        target += "?" + request.query_string.decode("latin-1")
    # 301 for reads; 308 keeps the method and body of a POST made to the old address.
    return redirect(target, 301 if request.method in ("GET", "HEAD") else 308)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(Moved, redirect_to_new_slug)

    @app.errorhandler(ServiceError)
    def handle_service_error(error: ServiceError):
        response = app.make_response(error_response(error.status_code, error.message, error.field))
        if isinstance(error, Busy):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    app.register_error_handler(CSRFError, stale_form_response)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        # flask-smorest answers 422 for a body or query that fails its schema: that is bad input.
        status = 400 if error.code == 422 else (error.code or 500)
        message = _http_message(error)
        response = app.make_response(error_response(status, message))
        for name, value in error.get_headers() or []:
            if name.lower() in ("retry-after", "allow", "www-authenticate"):
                response.headers[name] = value
        return response

    @app.errorhandler(DBAPIError)
    def handle_database_error(error: DBAPIError):
        # Unreachable or locked database: a moment's outage, not a bug. Other DBAPIErrors
        # (an IntegrityError that escaped a service) are bugs and stay 500s.
        if not (
            isinstance(error, (OperationalError, InterfaceError)) or error.connection_invalidated
        ):
            return handle_unexpected(error)
        log.warning("database unavailable on %s %s: %s", request.method, request.path, error)
        _forget_user_for_outage_page()
        response = app.make_response(
            error_response(
                503,
                "The database is not answering right now. Please try again in a few seconds.",
            )
        )
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    @app.errorhandler(StorageError)
    def handle_limiter_outage(error: StorageError):
        # The shared rate-limit store is down. Failing open would lift every limit (log-in
        # guessing included), so the limited routes wait for it instead.
        log.warning("rate-limit store down on %s %s: %s", request.method, request.path, error)
        response = app.make_response(
            error_response(503, "Please try again in a few seconds: a service we need is down.")
        )
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "An unexpected error occurred. It has been logged.")


def _forget_user_for_outage_page() -> None:
    """Render the outage page as for a visitor: the navigation would query the database."""
    from quizapp.extensions import db, login_manager

    try:
        db.session.rollback()
    except Exception:  # the connection is gone; the session is discarded at teardown anyway
        log.debug("rollback after a database error failed", exc_info=True)
    g._login_user = login_manager.anonymous_user()


def _http_message(error: HTTPException) -> str:
    # flask-smorest attaches validation details as `data["messages"]`.
    data = getattr(error, "data", None)
    if isinstance(data, dict) and data.get("messages"):
        return _describe_messages(data["messages"])
    if error.code == 404:
        return "There is nothing at this address."
    if error.code == 413:
        return "The request body is too large."
    if error.code == 429:
        # Our own limits say what was limited and for how long; Flask-Limiter's describe the
        # limit in its notation ("5 per 1 minute"), so those get a plain sentence.
        if type(error) is TooManyRequests and error.description != TooManyRequests.description:
            return error.description
        return "Too many requests. Please wait a minute and try again."
    return error.description or TITLES.get(error.code or 500, "Error")


def _describe_messages(messages: object, prefix: str = "") -> str:
    if isinstance(messages, dict):
        parts = []
        for key, value in messages.items():
            if key in ("query", "json", "form", "path", "headers", "_schema"):
                parts.append(_describe_messages(value, prefix))
            else:
                parts.append(_describe_messages(value, f"{prefix}{key}: "))
        return "; ".join(part for part in parts if part)
    if isinstance(messages, list):
        return "; ".join(_describe_messages(item, prefix) for item in messages)
    return f"{prefix}{messages}"
