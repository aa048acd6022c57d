"""One gate for malformed input, before any view, service or database sees the request.

Each refusal is a 400 with a message saying what was wrong. The shapes it stops all once
gave a 500 somewhere down the line:

- a NUL byte in a path, query, form or JSON value: PostgreSQL refuses NUL in text, so any
  query that used the value failed (search, topic filter, slugs, run ids, usernames);
- a lone UTF-16 surrogate in JSON ("\\ud800"): neither database driver can encode it;
- JSON nested thousands of levels deep: the parser and every recursive walk after it
  (marshmallow, the simulator's validator) overflow Python's recursion limit;
- an integer of more than 4,300 digits: Python refuses to convert it (int(), json.loads),
  so the ValueError surfaced wherever the value was first read;
- a JSON body sent to a page's form: Flask-WTF takes it for the form data and fails on
  anything but an object of strings.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest

# Real request bodies are a few levels deep (a lab config in a body: 3). Far more than that
# is an attack on recursion, refused before the parser recurses.
MAX_JSON_DEPTH = 32
# Python's own limit (PEP 651 / CVE-2020-10735): longer digit runs cannot become ints.
MAX_DIGITS = sys.get_int_max_str_digits() or 4300
_LONG_NUMBER = re.compile(rf"\d{{{MAX_DIGITS + 1},}}")
_PATH_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class MalformedInput(BadRequest):
    """A request value no part of the app can safely read."""


def problem_in_text(text: str, where: str) -> str | None:
    """Why a text value from a request cannot be used, or None if it can."""
    if "\x00" in text:
        reason = "contains a NUL character"
    elif _SURROGATE.search(text):
        reason = "contains an unpaired surrogate character"
    elif _LONG_NUMBER.search(text):
        reason = f"contains a number of more than {MAX_DIGITS:,} digits"
    else:
        return None
    return f"{where[:1].upper()}{where[1:]} {reason}."


def json_depth(body: str) -> int:
    """The deepest nesting of arrays/objects in a JSON text, without parsing (no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in body:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"a number has more than {MAX_DIGITS:,} digits")
    return int(digits)


def _problem_in_json(value: Any, where: str = "the JSON body") -> str | None:
    # Depth is bounded by json_depth before this runs, so recursing here is safe.
    if isinstance(value, str):
        return problem_in_text(value, where)
    if isinstance(value, dict):
        for key, item in value.items():
            problem = problem_in_text(key, f"a key in {where}") or _problem_in_json(
                item, f"{where}: {key}"[:80]
            )
            if problem:
                return problem
    if isinstance(value, list):
        for item in value:
            problem = _problem_in_json(item, where)
            if problem:
                return problem
    return None


def _problem_in_body() -> str | None:
    if request.mimetype == "application/json" or request.mimetype.endswith("+json"):
        if not request.path.startswith("/api/"):
            # Flask-WTF would read a JSON body as the form, and a list or a number is no form.
            return "This address takes a form (application/x-www-form-urlencoded), not JSON."
        raw = request.get_data(cache=True)
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return "The JSON body is not valid UTF-8."
        if json_depth(body) > MAX_JSON_DEPTH:
            return f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."
        try:
            parsed = json.loads(body, parse_int=_bounded_int) if body.strip() else None
        except ValueError as error:
            return f"Invalid JSON in the body: {str(error)[:120]}"
        return _problem_in_json(parsed)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in request.form.items(multi=True):
            problem = problem_in_text(key, "a form field name") or problem_in_text(
                value, f"the form field '{key[:40]}'"
            )
            if problem:
                return problem
    return None


def find_malformed_input() -> str | None:
    """What makes the current request unreadable (path, query, form, JSON, token), if anything."""
    if _PATH_CONTROL.search(request.path):
        return "The address contains a control character."
    problem = problem_in_text(request.path, "The address")
    if problem:
        return problem
    for key, value in request.args.items(multi=True):
        problem = problem_in_text(key, "a query parameter name") or problem_in_text(
            value, f"the query parameter '{key[:40]}'"
        )
        if problem:
            return problem
    problem = problem_in_text(request.headers.get("Authorization", ""), "the Authorization header")
    if problem:
        return problem
    return _problem_in_body()


def register_input_guard(app: Flask) -> None:
    """Refuse malformed input with a 400 before anything else reads the request."""

    @app.before_request
    def refuse_malformed_input() -> None:
        problem = find_malformed_input()
        if problem:
            raise MalformedInput(problem)
