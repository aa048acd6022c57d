"""Entry point for gunicorn and `flask --app wsgi`."""

import sys

from quizapp import create_app
from quizapp.config import ConfigurationError, refuse_to_start

# gunicorn's exit code for "the application failed to load": its master then stops instead
# of starting the worker again and again.
GUNICORN_APP_LOAD_ERROR = 4

try:
    app = create_app()
except ConfigurationError as error:
    refuse_to_start(error, GUNICORN_APP_LOAD_ERROR if "gunicorn" in sys.modules else 1)
