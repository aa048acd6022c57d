"""The bare-Flask baseline for the load test: one view, no database, no extensions."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
