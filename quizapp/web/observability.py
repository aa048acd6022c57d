"""Request ids, one structured (JSON) log line per request, and /healthz."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, Response, current_app, g, jsonify, request
from sqlalchemy import text

from quizapp.extensions import db

request_log = logging.getLogger("quizapp.request")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to ship to any log store and to grep."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(app: Flask) -> None:
    """JSON request logs on stderr (production, or QUIZAPP_LOG_REQUESTS=1)."""
    if not app.config.get("QUIZAPP_LOG_REQUESTS"):
        return
    if not any(getattr(h, "quizapp", False) for h in request_log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler.quizapp = True  # type: ignore[attr-defined]
        request_log.addHandler(handler)
        request_log.setLevel(logging.INFO)
        request_log.propagate = False


def register_observability(app: Flask) -> None:
    configure_logging(app)

    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-ID"] = request_id
        if request_log.isEnabledFor(logging.INFO) and request_log.handlers:
            # Only a user this request already loaded: loading one here would query the
            # database, and fail every response (even /healthz's 503) while it is down.
            current_user = g.get("_login_user")
            started = g.get("request_started", time.perf_counter())
            request_log.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "user_id": getattr(current_user, "id", None),
                        "remote_addr": request.remote_addr,
                    }
                },
            )
        return response

    @app.get("/healthz")
    def healthz():
        """Database and job backend reachable: 200, else 503 naming what is down."""
        checks: dict[str, str] = {}
        healthy = True
        try:
            db.session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as error:  # reported, not raised: this is the health check
            db.session.rollback()
            checks["database"] = f"unreachable: {type(error).__name__}"
            healthy = False
        from quizapp.jobs.backends import backend_for

        try:
            jobs_ok, detail = backend_for(current_app._get_current_object()).health()
        except Exception as error:
            jobs_ok, detail = False, f"unreachable: {type(error).__name__}: {error}"
        checks["jobs"] = detail
        healthy = healthy and jobs_ok
        body = {"status": "ok" if healthy else "unavailable", "checks": checks}
        return jsonify(body), 200 if healthy else 503
