"""The web edge: page and API blueprints, error pages, security headers."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from quizapp.domain.mastery import MASTERY_LABELS
from quizapp.services.progress import NEW_CARD


def register_web(app: Flask) -> None:
    """Attach every blueprint, error handler and response hook to `app`."""
    from quizapp.web import errors, security
    from quizapp.web.api import register_api
    from quizapp.web.auth import auth, init_auth
    from quizapp.web.authoring import authoring, init_authoring
    from quizapp.web.decks import decks
    from quizapp.web.exercises import exercises, init_exercises
    from quizapp.web.input_guard import register_input_guard
    from quizapp.web.lab import lab
    from quizapp.web.learning import init_learning, learning
    from quizapp.web.observability import register_observability
    from quizapp.web.page_cache import init_page_cache
    from quizapp.web.pages import pages
    from quizapp.web.practice_sessions import init_practice, practice
    from quizapp.web.preview import init_preview
    from quizapp.web.review import init_review, review
    from quizapp.web.run_limits import register_run_limits
    from quizapp.web.session_cookie import init_session_cookie
    from quizapp.web.static_assets import init_static_assets

    register_observability(app)
    init_session_cookie(app)
    register_input_guard(app)  # before CSRF, log-in or any view reads the request
    init_static_assets(app)
    init_auth(app)
    init_learning(app)
    init_exercises(app)
    init_practice(app)
    init_review(app)
    init_authoring(app)
    init_preview(app)
    register_run_limits(app)
    app.register_blueprint(pages)
    app.register_blueprint(auth)
    app.register_blueprint(learning)
    app.register_blueprint(exercises)
    app.register_blueprint(practice)
    app.register_blueprint(lab)
    app.register_blueprint(review)
    app.register_blueprint(authoring)
    app.register_blueprint(decks)
    register_api(app)
    init_page_cache(app)
    errors.register_error_handlers(app)
    security.register_security_headers(app)
    app.jinja_env.globals["new_card"] = NEW_CARD
    app.jinja_env.globals["level_labels"] = MASTERY_LABELS
    app.jinja_env.filters["resolve_path"] = lambda path: str(Path(path).resolve())
    app.jinja_env.globals["difficulty_labels"] = {
        "easy": "Easy",
        "medium": "Medium",
        "hard": "Hard",
    }
