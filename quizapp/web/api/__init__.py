"""JSON API (flask-smorest), documented at /api/openapi.json."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register_api(app: Flask) -> Api:
    """Create the app's API (one per app: flask-smorest keeps a spec per Api) and its routes."""
    from quizapp.web.api.authoring import blp as authoring_blp
    from quizapp.web.api.exercises import blp as exercises_blp
    from quizapp.web.api.lab import blp as lab_blp
    from quizapp.web.api.learning import blp as learning_blp
    from quizapp.web.api.practice import blp as practice_blp
    from quizapp.web.api.questions import blp as questions_blp
    from quizapp.web.api.review import blp as review_blp
    from quizapp.web.api.tokens import blp as tokens_blp

    api = Api(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "Personal API token"}
    )
    api.spec.components.security_scheme(
        "cookieAuth", {"type": "apiKey", "in": "cookie", "name": "session"}
    )
    api.register_blueprint(questions_blp, url_prefix="/api/v1")
    api.register_blueprint(learning_blp, url_prefix="/api/v1")
    api.register_blueprint(exercises_blp, url_prefix="/api/v1")
    api.register_blueprint(practice_blp, url_prefix="/api/v1")
    api.register_blueprint(lab_blp, url_prefix="/api/v1")
    api.register_blueprint(review_blp, url_prefix="/api/v1")
    api.register_blueprint(authoring_blp, url_prefix="/api/v1")
    api.register_blueprint(tokens_blp, url_prefix="/api/v1")
    return api
