"""Benchmark of the review screen and of fitting a learner's schedule.

Run: .venv/bin/python bench/bench_review.py [--ratings N] [--cards N] [--reviews N]

1. Server side, per rating: POST /review/rate as the review script sends it (fragment header:
   grade, reschedule, log, commit, then render the next card) through the test client, on
   a SQLite file with the real content/ imported, for one learner rating N (default 200)
   cards after 10 untimed ones: p50 and p95, target p95 <= 15 ms.
   Baseline: the same client GETting a view that returns a constant string.
2. In the browser: keypress "3" (Good) on a revealed card to the next card's fragment
   swapped in and painted (the next animation frame), measured in the page with
   performance.now(), over N (default 40) cards, against a real `flask run` server on
   loopback and Debian's Chromium driven by Playwright: p50 and p95, target p95 <= 50 ms.
   Baseline: the same page fetching a static file and swapping its text in, on a keypress.
3. Optimisation: a `fit_schedule` job over N (default 5,000) reviews of a seeded synthetic
   learner, submitted to the local worker pool (a process that has already imported torch),
   submit to outcome: target <= 10 s. Baseline: a tiny simulation through the same pool.
   Log loss and RMSE before/after are printed too. Reference (skip with --no-reference):
   py-fsrs's own `Optimizer` (compute_optimal_parameters, then compute_optimal_retention) on
   the same history in this process, as the job ran before the batched optimiser, with the
   log loss of its fit.

Timing: time.perf_counter (performance.now in the browser). A missed target prints FAIL;
the exit code stays 0.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import synthetic_reviews  # noqa: E402

from quizapp import create_app  # noqa: E402
from quizapp.devtools.net import free_port, wait_until_up  # noqa: E402
from quizapp.extensions import db  # noqa: E402
from quizapp.models import User  # noqa: E402
from quizapp.services.content_import import import_content  # noqa: E402

RATING_P95_TARGET_MS = 15.0
BROWSER_P95_TARGET_MS = 50.0
FIT_TARGET_S = 10.0
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "a long benchmark passphrase"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def row(name: str, value: float, unit: str, target: float | None, baseline: float | None) -> str:
    target_text = f"<= {target:g} {unit}" if target is not None else "-"
    verdict = "-" if target is None else ("PASS" if value <= target else "FAIL")
    base_text = f"{baseline:8.2f} {unit}" if baseline is not None else "-".rjust(11)
    ratio = f"{value / baseline:7.1f}x" if baseline else "-".rjust(8)
    return f"{name:<44} {value:8.2f} {unit}  {target_text:>10}  {base_text}  {ratio}  {verdict}"


# ------------------------------------------------------------------------------ 1. server


def bench_server(root: Path, ratings: int) -> dict:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "benchmark",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'server.sqlite'}",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )

    @app.get("/_bench/constant")
    def constant():
        return "ok"

    with app.app_context():
        db.create_all()
        import_content(ROOT / "content")
        user = User(username="bench", username_key="bench", password_hash="x",
                    new_cards_per_day=500, max_reviews_per_day=9999)  # fmt: skip
        db.session.add(user)
        db.session.commit()
        token = user.session_token
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = token
    headers = {"X-Review-Fragment": "1"}
    page = client.get("/review").get_data(as_text=True)
    timings, baseline = [], []
    for number in range(ratings + 10):
        slug = re.search(r'name="question" value="([\w-]+)"', page)
        if slug is None:
            break
        rating = ("good", "easy", "hard", "again")[number % 4]
        started = time.perf_counter()
        form = {"question": slug.group(1), "rating": rating, "form_key": f"k{number}"}
        response = client.post("/review/rate", data=form, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.status_code
        page = response.get_data(as_text=True)
        started = time.perf_counter()
        client.get("/_bench/constant")
        base = (time.perf_counter() - started) * 1000
        if number >= 10:
            timings.append(elapsed)
            baseline.append(base)
    with app.app_context():
        db.engine.dispose()
    return {
        "n": len(timings),
        "p50": statistics.median(timings),
        "p95": percentile(timings, 0.95),
        "base_p95": percentile(baseline, 0.95),
        "base_p50": statistics.median(baseline),
    }


# ----------------------------------------------------------------------------- 2. browser


def bench_browser(root: Path, cards: int) -> dict | None:
    if not Path(CHROMIUM).exists():
        print(f"browser: {CHROMIUM} is missing; skipped")
        return None
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{root / 'browser.sqlite'}",
           "SECRET_KEY": "bench-secret", "QUIZAPP_RATELIMIT": "0", "QUIZAPP_LOG_REQUESTS": "0",
           "FLASK_DEBUG": "0", "PYTHONPATH": str(ROOT)}  # fmt: skip
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    for command in (["db", "upgrade"], ["content", "import"]):
        subprocess.run([*flask, *command], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*flask, "users", "create", "reviewer", "--password-stdin"], cwd=ROOT, env=env,
                   input=PASSWORD, text=True, check=True, capture_output=True)  # fmt: skip
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*flask, "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_until_up(url + "/healthz", 60, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            # bypass_csp: Playwright's wait_for_function evaluates a string, which the app's
            # CSP (no unsafe-eval) would refuse; the page's own script is unchanged.
            page = browser.new_context(base_url=url, bypass_csp=True).new_page()
            page.goto("/login")
            page.get_by_label("Username").fill("reviewer")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(re.compile(r".*/(?!login).*"))
            subprocess.run(  # enough new cards for the run
                ["sqlite3", str(root / "browser.sqlite"),
                 "UPDATE users SET new_cards_per_day = 500"], check=False,
            )  # fmt: skip
            page.goto("/review")
            page.evaluate(
                """() => {
                window.benchTimes = [];
                document.addEventListener('keydown', (e) => {
                  if (e.key === '3' || e.key === 'b') window.benchStart = performance.now();
                }, true);
                const done = () => requestAnimationFrame(() => {
                  window.benchTimes.push(performance.now() - window.benchStart);
                });
                document.addEventListener('quizapp:review-rendered', () => {
                  if (window.benchRating) done();
                });
                document.addEventListener('keydown', async (e) => {
                  if (e.key !== 'b') return;
                  const text = await (await fetch('/static/favicon.svg')).text();
                  document.querySelector('.review-aside').dataset.bench = text.length;
                  done();
                });
              }"""
            )
            for _ in range(cards):
                page.evaluate("window.benchRating = false")
                page.keyboard.press("Space")
                page.wait_for_selector("[data-review-rate]")
                page.evaluate("window.benchRating = true")
                page.keyboard.press("3")
                page.wait_for_selector("[data-review-reveal], .review-summary, .empty")
                page.wait_for_function("window.benchTimes.length > 0")
                page.wait_for_timeout(20)
            rating_times = page.evaluate("window.benchTimes.slice()")
            page.evaluate("window.benchTimes = []; window.benchRating = false")
            for _ in range(cards):
                page.keyboard.press("b")
                page.wait_for_function("window.benchTimes.length > 0")
            base_times = page.evaluate("window.benchTimes.slice()")
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
    return {
        "n": len(rating_times),
        "p50": statistics.median(rating_times),
        "p95": percentile(rating_times, 0.95),
        "base_p95": percentile(base_times, 0.95) if base_times else None,
    }


# ------------------------------------------------------------------------------ 3. fitting


def bench_fit(reviews: int) -> dict:
    from quizapp.jobs.pool import SimulationPool

    pool = SimulationPool(workers=1, queue_limit=4, timeout=600)
    done: dict[str, tuple[float, object]] = {}
    finished = threading.Event()

    def on_complete(job_id, outcome):
        done[job_id] = (time.perf_counter(), outcome)
        finished.set()

    def run(job_id, payload, kind):
        finished.clear()
        started = time.perf_counter()
        pool.submit(job_id, payload, on_complete, kind=kind)
        finished.wait(900)
        ended, outcome = done[job_id]
        return ended - started, outcome

    tiny = {"kind": "mlp", "depth": 3, "width": 4, "batch_size": 8}
    run("warm-up", tiny, "simulate")  # the worker imports torch here, outside the timings
    baseline, _ = run("baseline", dict(tiny, seed=2), "simulate")
    raw = synthetic_reviews(reviews, seed=11)
    seconds, outcome = run("fit", {"reviews": raw}, "fit_schedule")
    pool.close()
    if not outcome.ok:
        raise RuntimeError(f"the fit failed: {outcome.message}")
    return {"seconds": seconds, "baseline": baseline, "result": outcome.result, "raw": raw}


def bench_py_fsrs(raw: list) -> dict:
    """py-fsrs's optimiser on the same history (what fit_schedule ran before)."""
    from datetime import UTC, datetime

    from fsrs import Rating, ReviewLog
    from fsrs.optimizer import Optimizer

    from quizapp.domain.memory import Review, score_parameters

    logs = [
        ReviewLog(card, Rating(rating), datetime.fromtimestamp(ms / 1000, UTC), duration)
        for card, ms, rating, duration in raw
    ]
    started = time.perf_counter()
    optimizer = Optimizer(logs)
    parameters = optimizer.compute_optimal_parameters()
    retention = optimizer.compute_optimal_retention(parameters)
    seconds = time.perf_counter() - started
    reviews = [Review(log.card_id, log.review_datetime, int(log.rating)) for log in logs]
    return {
        "seconds": seconds,
        "log_loss": score_parameters(reviews, parameters).log_loss,
        "retention": retention,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=200)
    parser.add_argument("--cards", type=int, default=40)
    parser.add_argument("--reviews", type=int, default=5_000)
    parser.add_argument("--no-reference", action="store_true", help="skip py-fsrs's optimiser")
    parser.add_argument("--only-fit", action="store_true", help="measure the fit alone")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-review-"))
    try:
        server = None if args.only_fit else bench_server(folder, args.ratings)
        browser = None if args.only_fit else bench_browser(folder, args.cards)
        fit = bench_fit(args.reviews)
        reference = None if args.no_reference else bench_py_fsrs(fit["raw"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print("Review screen and schedule fitting")
    print(f"{'measure':<44} {'value':>11}  {'target':>10}  {'baseline':>11}  {'ratio':>8}  result")
    if server:
        print(row(f"rating, server p50 (n={server['n']})", server["p50"], "ms", None,
                  server["base_p50"]))  # fmt: skip
        print(row(f"rating, server p95 (n={server['n']})", server["p95"], "ms",
                  RATING_P95_TARGET_MS, server["base_p95"]))  # fmt: skip
    if browser:
        print(row(f"keypress to next card, p50 (n={browser['n']})", browser["p50"], "ms", None,
                  None))  # fmt: skip
        print(row(f"keypress to next card, p95 (n={browser['n']})", browser["p95"], "ms",
                  BROWSER_P95_TARGET_MS, browser["base_p95"]))  # fmt: skip
    result = fit["result"]
    print(row(f"fit {args.reviews:,} reviews in a worker", fit["seconds"], "s", FIT_TARGET_S,
              fit["baseline"]))  # fmt: skip
    print(
        f"fit: log loss {result['log_loss_before']:.4f} -> {result['log_loss_after']:.4f}, "
        f"RMSE(bins) {result['rmse_before']:.4f} -> {result['rmse_after']:.4f}, "
        f"recommended retention {result['recommended_retention']}"
    )
    if reference:
        print(row("  reference: py-fsrs Optimizer, same history", reference["seconds"], "s",
                  None, None))  # fmt: skip
        print(
            f"  the batched fit took {fit['seconds'] / reference['seconds']:.2f}x py-fsrs's time; "
            f"py-fsrs's fit: log loss {reference['log_loss']:.4f}, "
            f"recommended retention {reference['retention']}"
        )
    print(
        "baselines: a constant-string view through the same test client; a static file "
        "fetched and swapped in on a keypress; a 3-layer simulation through the same pool."
    )


if __name__ == "__main__":
    main()
