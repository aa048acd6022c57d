"""Schemathesis against /api/openapi.json: no request, however odd, gets a 5xx (except the
documented 503 of a full simulation queue), and every response matches the documented schema.

Requests are sent with an author's API token, so the /me and /author endpoints answer with
real data.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
import schemathesis
from conftest import CONTENT_DIR, POSTGRES_URL, _reset_postgres, make_app, submit_authored
from fuzz_profiles import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import select

from quizapp.domain.scheduling import schedule_review
from quizapp.extensions import db
from quizapp.jobs.backends import backend_for
from quizapp.models import Exercise, ExerciseCard, Question, ReviewCard, ScheduleFit, SimRun
from quizapp.models.base import utcnow
from quizapp.services.accounts import create_api_token, register_user
from quizapp.services.content_import import import_content
from quizapp.services.phase import start_phase
from quizapp.services.reports import report_problem
from quizapp.services.simulations import start_lab_run

SIMULATION_PATHS = ("/api/v1/lab/runs", "/api/v1/exercises/{slug}/runs")
EXERCISE_CARD = "tanh-depth-30-init"  # the fuzzer's one exercise card
SLUGS = {
    "/api/v1/questions/{slug}": "vanishing-gradient-problem",
    "/api/v1/questions/{slug}/attempts": "vanishing-gradient-problem",
    "/api/v1/exercises/{slug}": "tanh-depth-30-init",
    "/api/v1/exercises/{slug}/runs": "tanh-depth-30-init",
    "/api/v1/topics/{slug}/practice": "optimization",
    "/api/v1/me/review/leeches/{slug}": "adam-bias-correction",
    "/api/v1/me/review/exercises/{slug}/reveal": EXERCISE_CARD,
    "/api/v1/me/review/exercises/{slug}/ratings": EXERCISE_CARD,
    "/api/v1/questions/{slug}/reports": "vanishing-gradient-problem",
    "/api/v1/exercises/{slug}/reports": "tanh-depth-30-init",
    "/api/v1/topics/{slug}/deck": "gradient-flow",
    "/api/v1/author/questions/{slug}/variants": "conv-parameter-count",
}
SEED = "vanishing-gradient-problem"
LEECH = "adam-bias-correction"  # never rated by the fuzzer, so no undo reaches it
REPORT_BODY = st.fixed_dictionaries(
    {
        "category": st.sampled_from(["wrong_answer", "unclear", "typo", "other"]),
        "message": st.text(min_size=1, max_size=300).filter(str.strip),
    }
)
TINY_LAB = {"kind": "mlp", "depth": 4, "width": 8, "batch_size": 16}
# Bodies the API accepts, so the success paths are checked against the schema too.
VALID_BODIES = {
    "/api/v1/me/review/reveal": st.fixed_dictionaries(
        {"question": st.just(SEED)},
        optional={"check": st.integers(0, 1), "response": st.integers(0, 4)},
    ),  # fmt: skip
    "/api/v1/me/review/ratings": st.fixed_dictionaries(
        {"question": st.just(SEED), "rating": st.sampled_from(["again", "hard", "good", "easy"])}
    ),
    "/api/v1/me/review/leeches/{slug}": st.fixed_dictionaries(
        {"action": st.sampled_from(["keep", "resume"])}
    ),
    "/api/v1/me/review/exercises/{slug}/reveal": st.fixed_dictionaries(
        {}, optional={"prediction": st.sampled_from([None, "vanishing", "healthy", "exploding"])}
    ),
    "/api/v1/me/review/exercises/{slug}/ratings": st.fixed_dictionaries(
        {"rating": st.sampled_from(["again", "hard", "good", "easy"])}
    ),
    "/api/v1/me/review-log": st.just(
        f"card_id,review_time,review_rating\n{SEED},1740821400000,3\n"
    ),
    "/api/v1/questions/{slug}/reports": REPORT_BODY,
    "/api/v1/exercises/{slug}/reports": REPORT_BODY,
    "/api/v1/author/reports/{report_id}": st.fixed_dictionaries(
        {"status": st.sampled_from(["open", "fixed", "wont_fix"])},
        optional={"reply": st.text(max_size=300)},
    ),
    "/api/v1/questions/{slug}/attempts": st.fixed_dictionaries(
        {"check": st.integers(0, 2), "response": st.one_of(st.integers(0, 4), st.text())},
        optional={"rating": st.sampled_from(["again", "hard", "good", "easy"])},
    ),
    "/api/v1/exercises/{slug}/runs": st.fixed_dictionaries(
        {"choices": st.fixed_dictionaries({"init": st.sampled_from(["default", "xavier_normal"])})},
        optional={"prediction": st.sampled_from([None, "vanishing", "healthy", "exploding"])},
    ),
    "/api/v1/lab/runs": st.fixed_dictionaries(
        {
            "config": st.fixed_dictionaries(
                {"kind": st.sampled_from(["mlp", "residual_mlp"]), "depth": st.integers(2, 6)},
                optional={
                    "width": st.integers(2, 8),
                    "batch_size": st.integers(2, 16),
                    "seed": st.integers(0, 20),
                    "activation": st.sampled_from(["relu", "tanh", "sigmoid"]),
                    "init": st.sampled_from(["default", "xavier_normal", "he_normal"]),
                },
            )
        }
    ),
    "/api/v1/lab/phase": st.fixed_dictionaries(
        {"preset": st.sampled_from(["relu-he-line", "tanh-edge-of-chaos"]), "size": st.just(3)}
    ),
}
# Queries the API accepts (the lab's permalinks), for the same reason.
VALID_QUERIES = {
    "/api/v1/lab/results": st.fixed_dictionaries(
        {"kind": st.just("mlp"), "depth": st.sampled_from(["3", "4", "5"])},
        optional={"width": st.sampled_from(["4", "8"]), "seed": st.sampled_from(["0", "1"])},
    ),
}
# Its own pool (the settings are the pool's identity), closed when the module ends.
POOL_SETTINGS = {"QUIZAPP_SIM_WORKERS": 1, "QUIZAPP_SIM_QUEUE_LIMIT": 2, "QUIZAPP_SIM_TIMEOUT": 7.0}


# The shapes that once gave 500s on PostgreSQL (issue 11): NUL bytes, CR/LF, control
# characters, digit strings too long for int(); sent as path, query and body values. Every
# operation gets every shape, on each database (MALFORMED_EXAMPLES cases per shape).
MALFORMED_SHAPES = [
    "a\x00b",
    "\x00",
    "/\r\nSet-Cookie: x=1",
    "\x1b[2J\x7f",
    "9" * 4_301,
    "%00",
    "\t",
]
MALFORMED_EXAMPLES = 3
# The shares of the profile's examples for one operation: (schema-driven cases, cases aimed at
# things that exist with accepted bodies and queries). PostgreSQL runs fewer: its own failures
# came from the malformed shapes, which it gets in full; the schema is the same on both.
SHARES = {"sqlite": (0.35, 0.2), "postgres": (0.15, 0.15)}
SIMULATION_SHARE = 0.67  # of those, where every success queues a simulation


def _malformed_strategy(operation, path: str, bad: str):
    """Cases with `bad` in every path parameter, a query value and the body."""
    names = [p.name for p in operation.path_parameters] if operation.path_parameters else []
    query_names = [p.name for p in operation.query] if operation.query else []
    return operation.as_strategy(
        path_parameters={name: bad for name in names} or None,
        query={name: bad for name in query_names} or None,
        # A body only where the operation takes one (a path can have a GET beside a POST).
        **(
            {"body": _malformed_body(path, bad)}
            if path in VALID_BODIES and operation.method.upper() != "GET"
            else {}
        ),
    )


def _malformed_body(path: str, bad: str) -> dict:
    if path == "/api/v1/lab/runs":
        return {"config": {"kind": "mlp", "activation": bad}}
    if path == "/api/v1/exercises/{slug}/runs":
        return {"choices": {"init": bad, bad: "x"}}
    return {"check": 0, "response": bad, "idempotency_key": bad}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api_app(request, tmp_path_factory):
    if request.param == "postgres":
        if not POSTGRES_URL:
            pytest.skip("QUIZAPP_TEST_POSTGRES_URL is not set (.ci/run sets it)")
        _reset_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'api.sqlite'}"
    # A pool per database: the settings are the pool's identity, and each module run closes its own.
    # Schemathesis' WSGI transport hands bodies over still gzipped: compression off here
    # (it is tested in tests/web/test_page_delivery.py).
    app = make_app(
        url,
        QUIZAPP_COMPRESS=False,
        **dict(POOL_SETTINGS, QUIZAPP_SIM_TIMEOUT=7.0 + (url == POSTGRES_URL)),
    )
    with app.app_context():
        import_content(CONTENT_DIR)
        # An author: the author endpoints answer with data too (authors are learners as well).
        user = register_user("fuzzer", "a long fuzzing passphrase", role="author")
        submit_authored(user, "vanishing-gradient-problem", 1, 0)
        app.config["FUZZ_REPORT"] = report_problem(
            user, "question", "vanishing-gradient-problem", "typo", "a fuzzing report"
        ).id
        app.config["FUZZ_TOKEN"] = create_api_token(user, "schemathesis").secret
        app.config["FUZZ_RUN"] = _finished_run(user)
        app.config["FUZZ_PHASE"] = start_phase("relu-he-line", 3).key
        # A leech to act on, and a fit still queued: asking for another returns that one.
        # Made directly, with no review log, so no undo by the fuzzer can take it away.
        question = db.session.scalar(select(Question).where(Question.slug == LEECH))
        first = schedule_review(None, "again", utcnow())
        db.session.add(ReviewCard(user_id=user.id, question_id=question.id, state=first.state,
                                  due_at=first.due, reviews=9, lapses=8, leech=True,
                                  suspended_at=utcnow()))  # fmt: skip
        db.session.add(ScheduleFit(id="fuzz-fit", user_id=user.id, version=1, status="queued"))
        # An exercise card to reveal and rate (a run would make it; its choices as one's).
        exercise = db.session.scalar(select(Exercise).where(Exercise.slug == EXERCISE_CARD))
        good = schedule_review(None, "good", utcnow())
        first = {name: options[0]["value"] for name, options in exercise.choices.items()}
        db.session.add(
            ExerciseCard(user_id=user.id, exercise_id=exercise.id, state=good.state,
                         due_at=good.due, reviews=1, lapses=0, choices=first)
        )  # fmt: skip
        db.session.commit()
        app.config["FUZZ_FIT"] = "fuzz-fit"
    app.config["FUZZ_DATABASE"] = request.param
    yield app
    with app.app_context():
        if "quizapp_jobs" in app.extensions:
            backend_for(app).close()
        db.session.remove()
        db.engine.dispose()


def _finished_run(user) -> str:
    run_id = start_lab_run(user, dict(TINY_LAB, seed=1)).id
    deadline = time.monotonic() + 120  # a bound on starting a worker, not a timing assertion
    while db.session.get(SimRun, run_id).status not in ("done", "failed"):
        assert time.monotonic() < deadline, "the simulation did not finish"
        time.sleep(0.1)
        db.session.expire_all()
    return run_id


@pytest.fixture(scope="module")
def api_schema(api_app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", api_app)


def _operations() -> list[tuple[str, str]]:
    """Every documented (method, path), read from a throwaway app's spec."""
    spec = make_app("sqlite://").test_client().get("/api/openapi.json").get_json()
    return [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


@pytest.mark.parametrize(("method", "path"), _operations())
def test_the_api_answers_any_request_without_a_server_error_and_as_documented(
    api_app, api_schema, method, path
):
    operation = api_schema[path][method]
    # Anything the schema allows, and what it does not.
    explore = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    # Random slugs and ids only ever find 404s: also aim at things that exist, with bodies
    # and queries the API accepts, so the success path is checked against the schema too.
    real = {
        "slug": SLUGS.get(path),
        "run_id": api_app.config["FUZZ_RUN"],
        "key": api_app.config["FUZZ_PHASE"],
        "fit_id": api_app.config["FUZZ_FIT"],
        "report_id": api_app.config["FUZZ_REPORT"],
    }
    wanted = {name: real[name] for name in real if "{" + name + "}" in path}
    aimed = []
    if wanted:
        explore.append(operation.as_strategy(path_parameters=wanted))
    if path in VALID_BODIES and method != "GET":
        aimed.append(
            VALID_BODIES[path].flatmap(
                lambda body: operation.as_strategy(path_parameters=wanted, body=body)
            )
        )
    elif wanted:
        aimed.append(operation.as_strategy(path_parameters=wanted))
    if path in VALID_QUERIES:
        aimed.append(VALID_QUERIES[path].flatmap(lambda query: operation.as_strategy(query=query)))
    headers = {"Authorization": f"Bearer {api_app.config['FUZZ_TOKEN']}"}
    statuses: Counter[int] = Counter()

    def check(case) -> None:
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        if response.status_code == 503 and path in SIMULATION_PATHS:
            # Documented: the simulation queue is full; the client is told when to retry.
            assert response.headers.get("retry-after"), response.headers  # lower-cased, in lists
            case.validate_response(response, checks=[response_schema_conformance])
            return
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    def fuzz(cases, max_examples: int) -> None:
        settings(max_examples=max_examples)(given(case=cases)(check))()

    explore_share, aimed_share = SHARES[api_app.config["FUZZ_DATABASE"]]
    scale = SIMULATION_SHARE if path in SIMULATION_PATHS else 1
    fuzz(st.one_of(explore), examples(explore_share * scale))
    if aimed:
        fuzz(st.one_of(aimed), examples(aimed_share * scale))
    for bad in MALFORMED_SHAPES:
        fuzz(_malformed_strategy(operation, path, bad), MALFORMED_EXAMPLES)
    # The fuzzing reached the success path too, not only the refusals.
    assert any(200 <= status < 300 for status in statuses), statuses
    if os.environ.get("FUZZ_REPORT"):
        database = api_app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
        print(f"\nschemathesis {database} {method} {path}: {dict(sorted(statuses.items()))}")
