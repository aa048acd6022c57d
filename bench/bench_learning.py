"""Benchmark of answering and of the dashboard, in-process on a SQLite file.

Run: .venv/bin/python bench/bench_learning.py [--submissions N] [--attempts N] [--renders N]

Generates a question bank like the real one (48 questions over 12 topics, each with a
single-choice, a numeric, a self-rated, a short-text, an ordering and a matching check) in
a temporary folder, imports it into an empty SQLite file (create_app + create_all), then
measures:

1. answer submission through the service, `submit_answer` (resolve the learner's layout +
   grade + attempt + FSRS update + commit), for one learner answering N (default 300) times
   across the bank and every kind, with a form key, an elapsed time and (every other
   answer) a hint, as the answer page does, after 10 untimed answers: p50 and p95, target
   p50 <= 15 ms. Baseline: a bare INSERT of one row + COMMIT on the same file and engine.
1b. the whole answer form round trip, POST /questions/<slug>/answer through the test
   client as a signed-in learner (form parsing, grading, storing, the question page
   rendered again with the feedback), N times over five kinds: p50, reported without a
   target (it includes a whole page render). Baseline: GET of the same question page for
   the same learner, interleaved.
2. the dashboard (/dashboard through the test client, signed in) for a learner with N
   (default 5,000) attempts inserted in bulk, spread over 120 days, with a card per question:
   median of 20 renders, target <= 100 ms. Baseline: the same client rendering the empty
   page shell (base.html, with the navigation's due count), median of 20.
   The number of SQL statements per dashboard render is printed too.

Timing: time.perf_counter. A missed target prints FAIL; the exit code stays 0.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import render_template  # noqa: E402
from sqlalchemy import event, insert, select, text  # noqa: E402

from quizapp import create_app  # noqa: E402
from quizapp.domain.scheduling import schedule_review  # noqa: E402
from quizapp.extensions import db  # noqa: E402
from quizapp.models import Attempt, Question, ReviewCard, User  # noqa: E402
from quizapp.services.content_import import import_content  # noqa: E402
from quizapp.services.learning import submit_answer  # noqa: E402

TOPICS = [
    "gradient-flow", "initialization", "activation-functions", "normalization",
    "residual-connections", "recurrent-networks", "optimization", "regularization", "cnns",
    "attention-transformers", "loss-functions", "backpropagation",
]  # fmt: skip
QUESTIONS = 48
SUBMISSION_P50_TARGET_MS = 15.0
DASHBOARD_TARGET_MS = 100.0
WARM_UP = 10  # untimed submissions first

QUESTION = """\
slug: {slug}
title: Question {n} about gradients
difficulty: {difficulty}
topics: [{topics}]
question: |
  Why does the gradient shrink through a deep stack of sigmoid layers? Consider
  $\\sigma'(z) = \\sigma(z)(1 - \\sigma(z))$ and a depth of {n} layers.
answer: |
  Each layer multiplies the gradient by a factor of at most $1/4$ times the weight, so over
  many layers the product shrinks geometrically unless the weights compensate.
explanation: |
  By the chain rule,

  $$\\frac{{\\partial L}}{{\\partial W_1}} = \\prod_{{k=2}}^{{L}} \\sigma'(z_k)\\,W_k$$

  and each factor is small when the units saturate.
references:
  - title: Deep Learning, chapter 8
    url: https://www.deeplearningbook.org/contents/optimization.html
checks:
  - kind: single_choice
    prompt: What is the largest value of the sigmoid's derivative?
    options:
      - text: "1"
        feedback: That is tanh's.
      - text: "1/4"
        feedback: Right, at $z = 0$.
      - text: "1/2"
        feedback: No, that is the sigmoid itself at zero.
    correct: 1
  - kind: numeric
    prompt: Give the bound on the factor over two layers as a decimal.
    answer: 0.0625
    tolerance: 0.001
  - kind: self_rated
    prompt: Explain in two sentences why deep sigmoid networks train slowly.
  - kind: short_text
    prompt: Which activation has a derivative of at most $1/4$?
    accepted: [sigmoid, logistic function]
    patterns: ['logistic( sigmoid)?']
    max_edits: 1
    hints: ["It squashes its input into $(0, 1)$."]
  - kind: ordering
    prompt: Put the steps of one training step in order.
    items: [Forward pass, Loss, Backward pass, Optimiser step]
  - kind: matching
    prompt: Match each activation with its largest derivative.
    pairs:
      - {{left: Sigmoid, right: "$1/4$"}}
      - {{left: Tanh, right: "$1$"}}
      - {{left: ReLU, right: "$1$ for $x > 0$"}}
    distractors: ["$2$"]
"""


def write_bank(root: Path) -> list[str]:
    (root / "questions").mkdir(parents=True)
    (root / "exercises").mkdir()
    (root / "topics.yaml").write_text(
        "".join(
            f"- slug: {slug}\n  title: {slug.replace('-', ' ').capitalize()}\n"
            f"  description: Questions about {slug.replace('-', ' ')}.\n"
            for slug in TOPICS
        )
    )
    slugs = []
    for n in range(QUESTIONS):
        slug = f"bench-question-{n:02d}"
        topics = ", ".join(TOPICS[(n + k) % len(TOPICS)] for k in range(1 + n % 3))
        (root / "questions" / f"{slug}.yaml").write_text(
            QUESTION.format(
                slug=slug, n=n, topics=topics, difficulty=("easy", "medium", "hard")[n % 3]
            )
        )
        slugs.append(slug)
    return slugs


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def new_user(username: str) -> User:
    user = User(username=username, username_key=username, password_hash="benchmark")
    db.session.add(user)
    db.session.commit()
    return user


# Responses by shown position, as a learner's form sends them (choices are shuffled).
ANSWERS = [
    (0, lambda rng: rng.choice([0, 1, 2])),
    (1, lambda rng: rng.choice(["0.0625", "0,063", "1/16", "6.25e-2", "0.25"])),
    (2, lambda rng: "Saturated units multiply small factors together."),
    (3, lambda rng: rng.choice(["Sigmoid", "sigmoud", "logistic function", "tanh"])),
    (4, lambda rng: rng.sample(range(4), 4)),
    (5, lambda rng: [rng.randrange(4) for _ in range(3)]),
]


def bench_submissions(app, slugs: list[str], count: int, rng: random.Random) -> dict:
    with app.app_context():
        user = new_user("answering")
        user_id = user.id
        timings = []
        for n in range(-WARM_UP, count):  # the first few compile SQL and fill caches: untimed
            check, response = ANSWERS[n % len(ANSWERS)]
            slug = slugs[rng.randrange(len(slugs))]
            rating = rng.choice(["again", "hard", "good", "easy"]) if check == 2 else None
            started = time.perf_counter()
            result = submit_answer(
                user,
                slug,
                check,
                response(rng),
                rating=rating,
                elapsed_ms=rng.randrange(2_000, 90_000),
                idempotency_key=f"form-{n}",
                hints_used=n % 2,
                tries_used=2,  # the last try: every answer is final and stored
            )
            if n >= 0:
                timings.append((time.perf_counter() - started) * 1000)
            assert result.stored
        stored = db.session.scalar(
            select(db.func.count()).select_from(Attempt).where(Attempt.user_id == user_id)
        )
        assert stored == WARM_UP + count, (stored, count)

        with db.engine.connect() as connection:
            connection.execute(text("CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, v TEXT)"))
            connection.commit()
            baseline = []
            for n in range(count):
                started = time.perf_counter()
                connection.execute(text("INSERT INTO bench_rows (v) VALUES (:v)"), {"v": str(n)})
                connection.commit()
                baseline.append((time.perf_counter() - started) * 1000)
    return {
        "p50": statistics.median(timings),
        "p95": percentile(timings, 0.95),
        "baseline_p50": statistics.median(baseline),
        "baseline_p95": percentile(baseline, 0.95),
    }


def bench_form_round_trip(app, slugs: list[str], count: int, rng: random.Random) -> dict:
    """POST /questions/<slug>/answer as a signed-in learner's form, and the page it returns.

    Baseline: GET of the same question page for the same learner (the page the answer
    renders again), interleaved so both see the same machine load."""
    with app.app_context():
        user_id = new_user("form").id
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = f"{user_id}:1"
        session["_fresh"] = True
    forms = [
        (0, lambda: {"response": str(rng.randrange(3))}),
        (1, lambda: {"response": rng.choice(["1/16", "0,0625", "0.3"]), "tries_used": "1"}),
        (3, lambda: {"response": rng.choice(["sigmoid", "relu"]), "tries_used": "1"}),
        (4, lambda: {f"position-{i}": str(p + 1) for i, p in enumerate(rng.sample(range(4), 4))}),
        (5, lambda: {f"match-{i}": str(rng.randrange(4)) for i in range(3)}),
    ]
    timings, baseline = [], []
    for n in range(-WARM_UP, count):
        check, fields = forms[n % len(forms)]
        slug = slugs[rng.randrange(len(slugs))]
        started = time.perf_counter()
        response = client.post(
            f"/questions/{slug}/answer",
            data={"check": str(check), "form_key": f"f-{n}", **fields()},
        )
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (response.status_code, check)
        started = time.perf_counter()
        client.get(f"/questions/{slug}")
        page = (time.perf_counter() - started) * 1000
        if n >= 0:
            timings.append(elapsed)
            baseline.append(page)
    return {"p50": statistics.median(timings), "baseline_p50": statistics.median(baseline)}


def add_history(slugs: list[str], attempts: int, rng: random.Random) -> int:
    """A learner with `attempts` answers over 120 days and a card per question, in bulk."""
    user = new_user("dashboard")
    now = datetime.now(UTC)
    ids = dict(db.session.execute(select(Question.slug, Question.id)).all())
    kinds = ("single_choice", "numeric", "self_rated")
    rows = []
    for n in range(attempts):
        check = n % 3
        score = rng.choice([0.0, 1.0, 1.0, 1.0, 0.5]) if check == 2 else rng.choice([0.0, 1.0])
        rows.append(
            {
                "user_id": user.id,
                "question_id": ids[rng.choice(slugs)],
                "check_index": check,
                "kind": kinds[check],
                "response": "An answer." if check == 2 else 1,
                "score": score,
                "correct": score == 1.0,
                "rating": {0.0: "again", 0.5: "hard", 1.0: "good"}[score] if check == 2 else None,
                "elapsed_ms": rng.randrange(2_000, 60_000),
                "idempotency_key": f"bulk-{n}",
                "created_at": now - timedelta(minutes=rng.randrange(0, 120 * 24 * 60)),
            }
        )
    db.session.execute(insert(Attempt), rows)
    cards = []
    for slug in slugs:
        reviewed = now - timedelta(days=rng.randrange(0, 30))
        outcome = schedule_review(None, rng.choice(["again", "hard", "good", "easy"]), reviewed)
        cards.append(
            {
                "user_id": user.id,
                "question_id": ids[slug],
                "state": outcome.state,
                "due_at": outcome.due,
                "stability": outcome.stability,
                "difficulty": outcome.difficulty,
                "reviews": rng.randrange(1, 40),
                "lapses": rng.randrange(0, 5),
                "last_review_at": reviewed,
                "version": 1,
            }
        )
    db.session.execute(insert(ReviewCard), cards)
    db.session.commit()
    return user.id


def bench_dashboard(app, slugs: list[str], attempts: int, renders: int, rng) -> dict:
    with app.app_context():
        user_id = add_history(slugs, attempts, rng)
        session_token = db.session.get(User, user_id).session_token
        engine = db.engine
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_token  # what a log-in puts in the cookie
        session["_fresh"] = True

    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    for path in ("/dashboard", "/_bench/empty"):  # warm templates and caches
        for _ in range(2):
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
    page = client.get("/dashboard").text
    assert f'<span class="stat-value">{attempts}</span>' in page, "dashboard shows the attempts"

    dashboard, empty = [], []
    for _ in range(renders):  # interleaved, so both see the same machine load
        started = time.perf_counter()
        client.get("/dashboard")
        dashboard.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        client.get("/_bench/empty")
        empty.append((time.perf_counter() - started) * 1000)

    event.listen(engine, "before_cursor_execute", count)
    client.get("/dashboard")
    event.remove(engine, "before_cursor_execute", count)
    return {
        "median": statistics.median(dashboard),
        "baseline": statistics.median(empty),
        "queries": len(statements),
        "bytes": len(page),
    }


def row(name: str, value: float, target: float | None, baseline: float | None) -> str:
    target_text = f"<= {target:.0f} ms" if target is not None else "-"
    verdict = "-" if target is None else ("PASS" if value <= target else "FAIL")
    base_text = f"{baseline:8.2f} ms" if baseline is not None else "-".rjust(11)
    ratio = f"{value / baseline:7.1f}x" if baseline else "-".rjust(8)
    return f"{name:<40} {value:8.2f} ms  {target_text:>10}  {base_text}  {ratio}  {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--attempts", type=int, default=5_000)
    parser.add_argument("--renders", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(5)

    with tempfile.TemporaryDirectory(prefix="bench-learning-") as folder:
        root = Path(folder)
        slugs = write_bank(root / "content")
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "benchmark",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'bench.sqlite'}",
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "QUIZAPP_CONTENT_DIR": str(root / "content"),
            }
        )

        @app.get("/_bench/empty")
        def empty_page():
            return render_template("base.html")

        with app.app_context():
            db.create_all()
            import_content(root / "content")

        answering = bench_submissions(app, slugs, args.submissions, rng)
        form = bench_form_round_trip(app, slugs, args.submissions, rng)
        dashboard = bench_dashboard(app, slugs, args.attempts, args.renders, rng)
        with app.app_context():
            db.engine.dispose()

    print(f"Answering and dashboard on SQLite ({QUESTIONS} questions, {len(TOPICS)} topics)")
    print(f"{'measure':<40} {'value':>11}  {'target':>10}  {'baseline':>11}  {'ratio':>8}  result")
    print(
        row(
            f"submit_answer p50 ({args.submissions} answers)",
            answering["p50"],
            SUBMISSION_P50_TARGET_MS,
            answering["baseline_p50"],
        )
    )
    print(
        row(
            f"submit_answer p95 ({args.submissions} answers)",
            answering["p95"],
            None,
            answering["baseline_p95"],
        )
    )
    print(
        row(
            "answer form POST + page p50 (vs page GET)",
            form["p50"],
            None,
            form["baseline_p50"],
        )
    )
    print(row(f"dashboard median ({args.attempts:,} attempts, n={args.renders})",
              dashboard["median"], DASHBOARD_TARGET_MS, dashboard["baseline"]))  # fmt: skip
    print(
        f"baselines: one-row INSERT + COMMIT on the same file; the empty page shell (base.html). "
        f"Dashboard: {dashboard['queries']} SQL statements, {dashboard['bytes']:,} bytes."
    )


if __name__ == "__main__":
    main()
