"""Every route, pages and API, fed the request shapes that once gave 500s: NUL bytes and other
control characters, CR/LF, integers of thousands of digits, JSON nested thousands deep, lone
surrogates, in path parameters, query values, form values and names and JSON bodies.

No answer may be a server error, on SQLite and (QUIZAPP_TEST_POSTGRES_URL) on PostgreSQL,
which refuses NUL in text. The routes come from the URL map, so a new route is fuzzed too.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter
from urllib.parse import quote, urlencode

import pytest
from conftest import CONTENT_DIR, POSTGRES_URL, _reset_postgres, make_app
from fuzz_profiles import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from quizapp.extensions import db
from quizapp.jobs.backends import backend_for
from quizapp.services.content_import import import_content

# A queue of one on a pool of its own: a fuzz case that happens to be a valid run gets 503.
POOL_SETTINGS = {"QUIZAPP_SIM_WORKERS": 1, "QUIZAPP_SIM_QUEUE_LIMIT": 1, "QUIZAPP_SIM_TIMEOUT": 6.0}
REAL_VALUES = {
    "slug": ["vanishing-gradient-problem", "sigmoid-depth-30-init", "optimization"],
    "run_id": ["0" * 32],
    "token_id": ["1"],
}
QUERY_NAMES = ["q", "topic", "difficulty", "page", "next", "reveal", "a", "b", "kind", "depth"]
FORM_NAMES = [
    "username",
    "password",
    "confirm",
    "next",
    "remember",
    "check",
    "response",
    "rating",
    "started_ms",
    "form_key",
    "return_to",
    "kind",
    "depth",
    "init",
    "prediction",
    "action",
]

# The shapes of the attack, and some plain text around them.
nasty_text = st.one_of(
    st.sampled_from(
        [
            "\x00",
            "a\x00b",
            "\r\n",
            "/\r\nSet-Cookie: x=1",
            "/\t/evil.example",
            "9" * 4_301,
            "-" + "9" * 5_000,
            "9" * 400,
            "1e999",
            "NaN",
            "\x7f\x1b[2J",
            "../../etc/passwd",
            "%00",
        ]
    ),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x1F), min_size=1, max_size=8),
    st.integers(4_301, 6_000).map(lambda n: "7" * n),
)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    nasty_text,
    st.integers(4_301, 5_000).map(lambda n: int("8" * 4_000) * 10 ** (n - 4_000)),
)
json_values = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(nasty_text, st.sampled_from(FORM_NAMES)), children, max_size=4),
    ),
    max_leaves=12,
)


def _json_text(value) -> str:
    # json.dumps cannot print ints of more than 4,300 digits unless the limit is lifted.
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return json.dumps(value, allow_nan=True)
    finally:
        sys.set_int_max_str_digits(limit)


deep_json = (
    st.integers(33, 40_000)
    .map(
        lambda depth: st.sampled_from(
            ["[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth]
        )
    )
    .flatmap(lambda strategy: strategy)
)
json_bodies = st.one_of(json_values.map(_json_text), deep_json, st.just('"\\ud800"'))


def _routes(app) -> list[tuple[str, str, list[str]]]:
    """(method, rule, parameter names) of every route but static files."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule, sorted(rule.arguments)))
    return found


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fuzz_app(request, tmp_path_factory):
    if request.param == "postgres":
        if not POSTGRES_URL:
            pytest.skip("QUIZAPP_TEST_POSTGRES_URL is not set (.ci/run sets it)")
        _reset_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('malformed') / 'fuzz.sqlite'}"
    # A pool per database: the settings are the pool's identity, and each module run closes its own.
    app = make_app(url, **dict(POOL_SETTINGS, QUIZAPP_SIM_TIMEOUT=6.0 + (url == POSTGRES_URL)))
    with app.app_context():
        import_content(CONTENT_DIR)
        db.session.remove()
    yield app
    with app.app_context():
        if "quizapp_jobs" in app.extensions:
            backend_for(app).close()
        db.session.remove()
        db.engine.dispose()


@st.composite
def malformed_requests(draw, routes):
    method, rule, parameters = draw(st.sampled_from(routes))
    path = rule
    for name in parameters:
        value = draw(st.one_of(st.sampled_from(REAL_VALUES.get(name, ["x"])), nasty_text))
        encoded = quote(value, safe="")
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", lambda _, encoded=encoded: encoded, path)
    query = draw(st.dictionaries(st.sampled_from(QUERY_NAMES), nasty_text, max_size=3))
    if query:
        path += "?" + urlencode(query)
    request = {"method": method, "path": path}
    if method != "GET":
        body_kind = draw(st.sampled_from(["form", "json", "none"]))
        if body_kind == "form":
            names = st.one_of(st.sampled_from(FORM_NAMES), nasty_text)
            form = draw(st.dictionaries(names, nasty_text, min_size=1, max_size=4))
            request["data"] = urlencode(form)
            request["content_type"] = "application/x-www-form-urlencoded"
        elif body_kind == "json":
            request["data"] = draw(json_bodies)
            request["content_type"] = "application/json"
    return request


def test_every_route_is_fuzzed(fuzz_app):
    rules = {rule for _, rule, _ in _routes(fuzz_app)}
    for expected in ("/questions/<slug>", "/login", "/api/v1/lab/runs", "/runs/<run_id>", "/"):
        assert expected in rules


def test_no_malformed_request_gets_a_server_error(fuzz_app):
    routes = _routes(fuzz_app)
    statuses: Counter[int] = Counter()
    client = fuzz_app.test_client()

    @settings(max_examples=examples(2.0))
    @given(request=malformed_requests(routes))
    def send(request):
        request = dict(request)
        method = request.pop("method")
        path = request.pop("path")
        response = client.open(path, method=method, **request)
        statuses[response.status_code] += 1
        if response.status_code == 503:  # a full simulation queue, documented, with Retry-After
            assert response.headers.get("Retry-After")
            return
        assert response.status_code < 500, (method, path, response.get_data(as_text=True)[:300])
        location = response.headers.get("Location", "")
        assert "\r" not in location and "\n" not in location
        assert not location.startswith("//") and "evil.example" not in location.split("?")[0]

    send()
    if os.environ.get("FUZZ_REPORT"):
        print(f"\nmalformed requests: {sum(statuses.values())}, {dict(sorted(statuses.items()))}")
    # The guard refused some, and plain requests still reached their pages.
    assert statuses[400] > 0 and any(status < 400 for status in statuses), statuses
