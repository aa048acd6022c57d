"""Benchmark of per-learner variants: what a question with params costs over a plain one.

Run: .venv/bin/python bench/bench_variants.py [--pages N]

1. Server side, the question page of a signed-in learner (GET /questions/<slug> through the
   test client, SQLite file with the real content/ imported): p50 over N (default 200)
   requests for each card with params, against the same for a plain card of the bank
   (vanishing-gradient-problem) in the same run: ratio, target <= 1.5x.
   Each request is a different learner, so each draws its own variant (the cost of a
   variant seen for the first time, not only of a cached one).
2. resolve_check of each check of a card with params vs of a plain check (µs, ratio).
3. `content check` sampling of each card with params (50 variants, every text rendered):
   ms, the first run in the process (nothing cached).

Timing: time.perf_counter. A missed target prints FAIL; the exit code stays 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from quizapp import create_app  # noqa: E402
from quizapp.content.loader import load_bank  # noqa: E402
from quizapp.content.rendering import render_question  # noqa: E402
from quizapp.content.variant_check import variant_problems  # noqa: E402
from quizapp.domain.grading import check_id, resolve_check  # noqa: E402
from quizapp.extensions import db  # noqa: E402
from quizapp.models import User  # noqa: E402
from quizapp.services.content_import import import_content  # noqa: E402

CONTENT = ROOT / "content"
PLAIN = "vanishing-gradient-problem"
PAGE_RATIO_TARGET = 1.5


def page_p50(app, slug: str, users: list[str]) -> float:
    times = []
    for token in users:
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = token
            session["_fresh"] = True
        started = time.perf_counter()
        response = client.get(f"/questions/{slug}")
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    bank = load_bank(CONTENT)
    varied = sorted(slug for slug, doc in bank.documents.items() if doc.data.get("params"))
    print(f"{len(varied)} cards with params in content/")

    print("\n3. content check sampling (50 variants per card)")
    for slug in varied:
        document = bank.documents[slug]
        started = time.perf_counter()
        problems = variant_problems(document)
        first = time.perf_counter() - started
        print(f"   {slug}: {first * 1000:.0f} ms, {len(problems)} problem(s)")

    print("\n2. resolve_check, per check (µs)")
    plain = render_question(bank.documents[PLAIN])["checks"]
    for slug in varied:
        stored = render_question(bank.documents[slug])["checks"]
        rounds = 200
        started = time.perf_counter()
        for round_ in range(rounds):
            for index, check in enumerate(stored):
                resolve_check(check, f"user:{round_}", check_id(slug, index))
        mine = (time.perf_counter() - started) / rounds / len(stored) * 1e6
        started = time.perf_counter()
        for round_ in range(rounds):
            for index, check in enumerate(plain):
                resolve_check(check, f"user:{round_}", check_id(PLAIN, index))
        base = (time.perf_counter() - started) / rounds / len(plain) * 1e6
        print(f"   {slug}: {mine:.0f} µs vs plain {base:.0f} µs ({mine / base:.1f}x)")

    print(f"\n1. question page of a signed-in learner, p50 over {args.pages} learners")
    with tempfile.TemporaryDirectory() as scratch:
        app = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{scratch}/bench.sqlite",
                "SECRET_KEY": "bench",
                "RATELIMIT_ENABLED": False,
                "WTF_CSRF_ENABLED": False,
            }
        )
        with app.app_context():
            db.create_all()
            import_content(CONTENT)
            users = [User(username=f"b{n}", username_key=f"b{n}", password_hash="-")
                     for n in range(args.pages)]  # fmt: skip
            db.session.add_all(users)
            db.session.commit()
            tokens = [user.session_token for user in users]
        page_p50(app, PLAIN, tokens[:5])  # warm the caches of the shared parts
        base = page_p50(app, PLAIN, tokens)
        print(f"   {PLAIN} (plain): {base:.1f} ms")
        for slug in varied:
            mine = page_p50(app, slug, tokens)
            verdict = "ok" if mine / base <= PAGE_RATIO_TARGET else "FAIL"
            print(f"   {slug}: {mine:.1f} ms ({mine / base:.2f}x plain; target <= "
                  f"{PAGE_RATIO_TARGET}x) {verdict}")  # fmt: skip
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
