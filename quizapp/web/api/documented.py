"""The API's documented answers besides success, declared once so every endpoint states them
alike: `documented_errors(blp, NOT_SIGNED_IN, no_such("report"))` in place of a stack of
`@blp.alt_response(...)` lines, and `signed_in(blp, ...)` for an endpoint of the signed-in
user (the security schemes and the 401 that go with it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_smorest import Blueprint

# A bearer token or the session cookie (register_api declares both schemes).
API_SECURITY = [{"bearerAuth": []}, {"cookieAuth": []}]

# (status, description) or (status, description, schema of the error body)
Refusal = tuple[Any, ...]

NOT_SIGNED_IN: Refusal = (401, "Not signed in")
NOT_AN_AUTHOR: Refusal = (403, "Not an author")
MOVED: Refusal = (301, "Renamed: Location gives the address under the new slug")
MOVED_REPEAT: Refusal = (308, "Renamed: repeat the request at the Location given")
RETIRED_QUESTION: Refusal = (410, "The question has been retired")
CONFIG_REFUSED: Refusal = (400, "A configuration the simulator refuses (names the field)")
TOO_MANY_RUNS: Refusal = (429, "Too many runs started (cached ones too); see Retry-After")
QUEUE_FULL: Refusal = (503, "The simulation queue is full; retry after Retry-After")


def no_such(what: str) -> Refusal:
    return (404, f"No such {what}")


def bad_request(description: str, schema: Any = None) -> Refusal:
    return (400, description, schema)


def documented_errors(blp: Blueprint, *refusals: Refusal) -> Callable:
    """One decorator documenting each refusal as an alternative response of the view."""

    def decorate(view: Callable) -> Callable:
        for status, description, *schema in reversed(refusals):
            schema = schema[0] if schema else None
            view = blp.alt_response(status, description=description, schema=schema)(view)
        return view

    return decorate


def signed_in(blp: Blueprint, *refusals: Refusal) -> Callable:
    """Document a view of the signed-in user: its security schemes, 401 and `refusals`.
    It documents only: the view still needs login_required where it decides the order."""

    def decorate(view: Callable) -> Callable:
        view = documented_errors(blp, NOT_SIGNED_IN, *refusals)(view)
        return blp.doc(security=API_SECURITY)(view)

    return decorate
