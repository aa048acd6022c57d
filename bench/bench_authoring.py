"""Benchmark of the authors' tools, in-process.

Run: .venv/bin/python bench/bench_authoring.py [--attempts N] [--learners N] [--renders N]

1. /author item statistics over the real bank with N (default 100,000) attempts by M
   (default 1,000) learners inserted in bulk into a SQLite file (each learner answers a
   random subset of checks, some twice, with option picks and answer times): median and p95
   of 10 renders through the test client, signed in as an author; target <= 200 ms. The page
   reads the statistics snapshot; the time of the first render, which computes the snapshot
   from every attempt (as happens at most once a minute while answers arrive), is printed
   too. Baseline: the same client rendering the empty page shell (base.html).
2. `content convert moodle-xml` of a generated 1,000-question Moodle XML file (parse,
   convert, write YAML files): target <= 5 s.
3. `content export --format apkg` of the whole real bank: target <= 2 s.
4. The live preview (`flask content serve` in a subprocess, Debian's Chromium through
   Playwright): a question page is open, its file is saved with a new title, and the time
   until the page shows it (watcher, import, server-sent event, content swap) is measured over
   5 saves: median and worst; target <= 1 s. Skipped without Chromium.

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
from sqlalchemy import insert, select  # noqa: E402

from quizapp import create_app  # noqa: E402
from quizapp.content.interchange import CONVERTERS, EXPORTERS, write_cards  # noqa: E402
from quizapp.content.loader import load_bank  # noqa: E402
from quizapp.devtools.net import free_port, wait_until_up  # noqa: E402
from quizapp.extensions import db  # noqa: E402
from quizapp.models import Attempt, Question, User  # noqa: E402
from quizapp.services.content_import import import_content  # noqa: E402

CONTENT = ROOT / "content"
STATS_TARGET_MS = 200.0
CONVERT_TARGET_S = 5.0
APKG_TARGET_S = 2.0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _fill_attempts(app, attempts: int, learners: int) -> None:
    rng = random.Random(7)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    with app.app_context():
        db.session.execute(
            insert(User),
            [
                {"username": f"l{n}", "username_key": f"l{n}", "password_hash": "x",
                 "role": "learner", "created_at": start}
                for n in range(learners)
            ],
        )  # fmt: skip
        db.session.execute(
            insert(User),
            [{"username": "editor", "username_key": "editor", "password_hash": "x",
              "role": "author", "created_at": start}],
        )  # fmt: skip
        user_ids = list(db.session.scalars(select(User.id).where(User.role == "learner")))
        items = [
            (question.id, index, check)
            for question in db.session.scalars(select(Question))
            for index, check in enumerate(question.checks)
        ]
        ability = {user_id: rng.random() for user_id in user_ids}
        rows = []
        while len(rows) < attempts:
            user_id = rng.choice(user_ids)
            question_id, index, check = rng.choice(items)
            right = rng.random() < 0.3 + 0.6 * ability[user_id]
            kind = check["kind"]
            if kind == "single_choice":
                options = len(check["options"])
                response = check["correct"] if right else rng.randrange(options)
            elif kind == "multiple_choice":
                response = check["correct"] if right else [0]
            elif kind == "numeric":
                response = check["answer"] if right else check["answer"] * 2 + 1
            else:
                response = "my own words"
            rows.append(
                {
                    "user_id": user_id, "question_id": question_id, "check_index": index,
                    "kind": kind, "response": response, "score": 1.0 if right else 0.0,
                    "correct": right, "elapsed_ms": rng.randint(3_000, 90_000),
                    "created_at": start + timedelta(minutes=len(rows)),
                }
            )  # fmt: skip
        for offset in range(0, len(rows), 20_000):
            db.session.execute(insert(Attempt), rows[offset : offset + 20_000])
        db.session.commit()


def bench_statistics(attempts: int, learners: int, renders: int, scratch: Path) -> None:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{scratch / 'stats.sqlite'}",
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "QUIZAPP_CONTENT_DIR": str(CONTENT),
        }
    )
    with app.app_context():
        db.create_all()
        import_content(CONTENT)
    _fill_attempts(app, attempts, learners)
    client = app.test_client()
    with app.app_context():
        author = db.session.scalar(select(User).where(User.role == "author"))
    with client.session_transaction() as session:
        session["_user_id"] = author.get_id()
        session["_fresh"] = True
    began = time.perf_counter()
    assert client.get("/author").status_code == 200  # no snapshot yet: computes one
    cold_ms = (time.perf_counter() - began) * 1000
    timings = []
    for _ in range(renders):
        began = time.perf_counter()
        response = client.get("/author?sort=discrimination&order=desc")
        timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200
    baseline = []
    with app.test_request_context("/"):
        for _ in range(renders):
            began = time.perf_counter()
            render_template("base.html")
            baseline.append((time.perf_counter() - began) * 1000)
    median, p95 = statistics.median(timings), _percentile(timings, 0.95)
    verdict = "ok" if median <= STATS_TARGET_MS else "FAIL"
    print(
        f"/author item statistics, {attempts:,} attempts by {learners:,} learners: "
        f"median {median:.1f} ms, p95 {p95:.1f} ms (target <= {STATS_TARGET_MS:.0f} ms: "
        f"{verdict}); empty page shell {statistics.median(baseline):.2f} ms; "
        f"recomputing the snapshot from every attempt {cold_ms:.0f} ms (at most once a "
        "minute, when answers have arrived)"
    )


MOODLE_QUESTION = """  <question type="multichoice">
    <name><text>Generated question {n}</text></name>
    <questiontext format="markdown">
      <text>Which slope does the sigmoid have at \\(z = {n}\\)?</text></questiontext>
    <generalfeedback format="markdown">
      <text>Its derivative is \\(\\sigma(z)(1-\\sigma(z))\\).</text></generalfeedback>
    <single>true</single>
    <answer fraction="100" format="markdown"><text>Small</text>
      <feedback><text>Right.</text></feedback></answer>
    <answer fraction="0" format="markdown"><text>Large</text>
      <feedback><text>No.</text></feedback></answer>
    <answer fraction="0" format="markdown"><text>Exactly 1</text>
      <feedback><text>No.</text></feedback></answer>
  </question>
"""


def bench_interchange(scratch: Path) -> None:
    source = scratch / "big.xml"
    category = '  <question type="category"><category><text>$course$/top/Generated</text>'
    category += "</category></question>\n"
    body = "".join(MOODLE_QUESTION.format(n=n) for n in range(1_000))
    source.write_text(f'<?xml version="1.0"?>\n<quiz>\n{category}{body}</quiz>\n')
    began = time.perf_counter()
    conversion = CONVERTERS["moodle-xml"](source.read_text())
    written = write_cards(conversion, scratch / "converted", str(source))
    elapsed = time.perf_counter() - began
    verdict = "ok" if elapsed <= CONVERT_TARGET_S and len(written) == 1_000 else "FAIL"
    print(
        f"Moodle XML conversion of 1,000 questions into YAML files: {elapsed:.2f} s "
        f"(target <= {CONVERT_TARGET_S:.0f} s: {verdict})"
    )

    bank = load_bank(CONTENT)
    began = time.perf_counter()
    notes = EXPORTERS["apkg"](bank, bank.questions, scratch / "bank.apkg")
    elapsed = time.perf_counter() - began
    verdict = "ok" if elapsed <= APKG_TARGET_S else "FAIL"
    size = (scratch / "bank.apkg").stat().st_size / 1e6
    print(
        f"Anki export of the whole bank ({notes} notes, {size:.1f} MB with mermaid.js): "
        f"{elapsed:.2f} s (target <= {APKG_TARGET_S:.0f} s: {verdict})"
    )


PREVIEW_TARGET_S = 1.0
CHROMIUM = Path("/usr/bin/chromium")


def bench_preview(scratch: Path, saves: int = 5) -> None:
    import os
    import shutil
    import signal
    import subprocess

    if not CHROMIUM.exists():
        print("Preview reload: skipped (no /usr/bin/chromium; `make browser` installs it)")
        return
    from playwright.sync_api import sync_playwright

    content = scratch / "preview-content"
    shutil.copytree(CONTENT, content)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{scratch / 'unused.sqlite'}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "content", "serve", str(content),
         "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/questions/vanishing-gradient-problem"
    path = content / "questions" / "vanishing-gradient-problem.yaml"
    original = path.read_text()
    timings = []
    try:
        wait_until_up(url, 60, process)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
            )
            tab = browser.new_page()
            tab.goto(url)
            for number in range(saves):
                title = f"Saved title number {number}"
                tab.wait_for_timeout(300)  # the page's event stream is connected
                began = time.perf_counter()
                path.write_text(
                    original.replace(
                        "title: Explain the vanishing gradient problem", f"title: {title}"
                    )
                )
                tab.wait_for_function(
                    "title => document.querySelector('h1')?.textContent.trim() === title",
                    arg=title,
                    timeout=15_000,
                )
                timings.append(time.perf_counter() - began)
            browser.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    median = statistics.median(timings)
    verdict = "ok" if median <= PREVIEW_TARGET_S else "FAIL"
    print(
        f"Preview update after a save (watcher, import, event, page swap), {saves} saves: "
        f"median {median * 1000:.0f} ms, worst {max(timings) * 1000:.0f} ms "
        f"(target <= {PREVIEW_TARGET_S:.0f} s: {verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=100_000)
    parser.add_argument("--learners", type=int, default=1_000)
    parser.add_argument("--renders", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        bench_statistics(args.attempts, args.learners, args.renders, Path(scratch))
        bench_interchange(Path(scratch))
        bench_preview(Path(scratch))


if __name__ == "__main__":
    main()
