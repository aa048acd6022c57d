"""`make loadtest`: the production server on 127.0.0.1 with a fresh database, 50 learners for
60 s, then the question page against a bare Flask app under the same gunicorn settings.

Prints requests/s and p50/p95/p99 per endpoint, errors, and whether every answer the server
confirmed is in the database. Bounded and self-stopping; traffic only on 127.0.0.1.
Environment: LOADTEST_USERS (50), LOADTEST_SECONDS (60), LOADTEST_DATABASE_URL (default: a
fresh SQLite file), LOADTEST_PAGE_SECONDS (15).
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from quizapp.devtools.net import free_port, wait_until_up  # noqa: E402

BIN = Path(sys.executable).parent
USERS = int(os.environ.get("LOADTEST_USERS", "50"))
SECONDS = int(os.environ.get("LOADTEST_SECONDS", "60"))
PAGE_SECONDS = int(os.environ.get("LOADTEST_PAGE_SECONDS", "15"))
SETUP_SECONDS = int(os.environ.get("LOADTEST_SETUP_SECONDS", "20"))  # sign-ups before the clock
TARGET_P95_MS = 100.0


def start_gunicorn(app: str, port: int, env: dict) -> subprocess.Popen:
    command = [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), app]
    env = env | {"GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_LOG_LEVEL": "warning"}
    return subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)


def run_locust(user_class: str, port: int, seconds: int, users: int, prefix: Path, env: dict):
    command = [
        str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), user_class,
        "--headless", "--reset-stats", "-u", str(users), "-r", str(max(1, users // 5)),
        "-t", f"{seconds}s",
        "--host", f"http://127.0.0.1:{port}", "--csv", str(prefix), "--only-summary",
        "--stop-timeout", "10", "--exit-code-on-error", "0", "--loglevel", "ERROR",
    ]  # fmt: skip
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=seconds + 120)
    with open(f"{prefix}_stats.csv") as handle:
        return list(csv.DictReader(handle))


def print_stats(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    header = (
        f"{'endpoint':46} {'reqs':>7} {'fails':>6} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{(row['Type'] + ' ' + row['Name'])[:46]:46} {row['Request Count']:>7} "
            f"{row['Failure Count']:>6} {float(row['Requests/s']):7.1f} {row['50%']:>6} "
            f"{row['95%']:>6} {row['99%']:>6}"
        )


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="quizapp-load-"))
    database = os.environ.get("LOADTEST_DATABASE_URL") or f"sqlite:///{work / 'load.sqlite'}"
    env = os.environ | {
        "QUIZAPP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": database,
        "QUIZAPP_RATELIMIT": "0",  # 50 learners sign up from one address
        "QUIZAPP_LOG_REQUESTS": "0",
        "QUIZAPP_TRUST_PROXY": "0",
        "QUIZAPP_SECURE_COOKIES": "0",
    }
    flask = [str(BIN / "flask"), "--app", "wsgi"]
    if database.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        engine = create_engine(database)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    for step in (["db", "upgrade"], ["content", "import"], ["sim", "warm"]):
        subprocess.run(flask + step, cwd=ROOT, env=env, check=True, capture_output=True)
    print(
        f"database: {database.split('@')[-1]}  users: {USERS}  "
        f"duration: {SECONDS}s after {SETUP_SECONDS}s of sign-ups"
    )

    port, hello_port = free_port(), free_port()
    servers = [start_gunicorn("wsgi:app", port, env)]
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz")
        journey = {
            "LOADTEST_COUNTS": str(work / "counts.json"),
            "LOADTEST_SETUP_SECONDS": str(SETUP_SECONDS),
        }
        learners = run_locust(
            "Learner", port, SECONDS + SETUP_SECONDS, USERS, work / "learners", env | journey
        )
        print_stats("Learners (mixed journey)", learners)
        pages = run_locust("PageReader", port, PAGE_SECONDS, USERS, work / "pages",
                           env | {"LOADTEST_MODE": "pages"})  # fmt: skip
        servers.append(start_gunicorn("bench.hello_app:app", hello_port, env))
        wait_until_up(f"http://127.0.0.1:{hello_port}/")
        hello = run_locust("PageReader", hello_port, PAGE_SECONDS, USERS, work / "hello",
                           env | {"LOADTEST_MODE": "hello"})  # fmt: skip
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait(30)

    stored_claimed = json.loads((work / "counts.json").read_text())["attempts"]
    from sqlalchemy import create_engine, text

    engine = create_engine(database)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM attempts WHERE kind != 'exercise'"))
        stored = stored.scalar()
    engine.dispose()

    total = next(row for row in learners if row["Name"] == "Aggregated")
    errors = int(total["Failure Count"])
    page_rps = float(next(r for r in pages if r["Name"] == "Aggregated")["Requests/s"])
    hello_rps = float(next(r for r in hello if r["Name"] == "Aggregated")["Requests/s"])
    # Sign-up and token creation (argon2, once per learner) are set-up, not the journey.
    worst_p95 = max(
        float(row["95%"])
        for row in learners
        if row["Name"] != "Aggregated" and "runs" not in row["Name"] and "setup" not in row["Name"]
    )
    ratio = page_rps / hello_rps if hello_rps else 0.0
    print("\nSummary")
    checks = [
        ("errors", f"{errors}", errors == 0),
        (
            "answers confirmed stored / in database",
            f"{stored_claimed} / {stored}",
            stored_claimed == stored,
        ),  # fmt: skip
        (
            "worst p95 of pages and answers (ms)",
            f"{worst_p95:.0f} (≤ {TARGET_P95_MS:.0f})",
            worst_p95 <= TARGET_P95_MS,
        ),  # fmt: skip
        (
            "question page req/s vs bare Flask",
            f"{page_rps:.0f} / {hello_rps:.0f} = {ratio:.2f} (≥ 0.33)",
            ratio >= 1 / 3,
        ),  # fmt: skip
    ]
    for name, value, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {value}")


if __name__ == "__main__":
    main()
