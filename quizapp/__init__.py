"""quizapp: a quiz and practice service for deep-learning concepts."""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application; `config` overrides settings (used by tests)."""
    from quizapp.cli import register_commands
    from quizapp.config import load_settings
    from quizapp.extensions import register_extensions
    from quizapp.web import register_web

    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="web/templates",
        static_folder="web/static",
    )
    app.config.update(load_settings(app.instance_path))
    if config:
        app.config.update(config)
    register_extensions(app)
    register_web(app)
    register_commands(app)
    return app
