"""Entry point for gunicorn and `flask --app wsgi`."""

from quizapp import create_app

app = create_app()
