"""Benchmark of exercise runs: the result cache, the worker pool, and many learners at once.

Run: .venv/bin/python bench/bench_exercises.py [--cached N] [--uncached N] [--learners N]

Measures, with the shipped content imported into a fresh SQLite database:
(a) a cached exercise run answered server-side: POST /api/v1/exercises/<slug>/runs through
    the Flask test client for a configuration already in the cache; target p50 ≤ 20 ms.
(b) an uncached exercise run with a warm pool, submit → done (polling GET /api/v1/runs/<id>),
    the result cache emptied before each run; target p50 ≤ 0.5 s, per shipped exercise too.
(c) N concurrent learners (threads) against a real server in a subprocess on 127.0.0.1, each
    submitting uncached lab runs (the shipped exercises' configurations with fresh seeds) one
    after another and polling each every 50 ms (--poll-ms; the page's script starts at 400 ms);
    503s are counted and retried after Retry-After (capped at 1 s). Targets:
    no errors, no lost runs, the queue never above its bound. Reports p50/p95 submit → done.
(d) the baseline: bare `simulate()` of the same configurations in this process, with ratios.
Also prints whether the web process (this one before (d), and the server) imported torch.
A miss prints FAIL but the exit code stays 0.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, select  # noqa: E402

from quizapp import create_app  # noqa: E402
from quizapp.devtools.net import free_port, wait_until_up  # noqa: E402
from quizapp.domain.exercises import all_selections  # noqa: E402
from quizapp.extensions import db  # noqa: E402
from quizapp.models import Exercise, SimResult  # noqa: E402
from quizapp.services.content_import import import_content  # noqa: E402
from quizapp.sim import validate_config  # noqa: E402

CONTENT = ROOT / "content"
WAIT = 120.0  # seconds before a run counts as lost
CACHED_TARGET_S = 0.020
UNCACHED_TARGET_S = 0.5
RETRY_CAP_S = 1.0


def settings(database: Path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "bench",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "QUIZAPP_CONTENT_DIR": str(CONTENT),
        "QUIZAPP_JOBS": "local",
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def wait_done(client, run_id: str) -> dict:
    deadline = time.perf_counter() + WAIT
    while True:
        body = client.get(f"/api/v1/runs/{run_id}").get_json()
        if body["status"] not in ("queued", "running") or time.perf_counter() > deadline:
            return body
        time.sleep(0.002)


def shipped_exercises(app) -> list[tuple[str, list[dict], list[dict]]]:
    """(slug, selections, configs) of every active exercise."""
    with app.app_context():
        rows = db.session.scalars(
            select(Exercise).where(Exercise.retired_at.is_(None)).order_by(Exercise.slug)
        ).all()
        out = []
        for exercise in rows:
            selections = all_selections(exercise.choices)
            configs = [validate_config(exercise.network | s) for s in selections]
            out.append((exercise.slug, selections, configs))
        return out


# (a) cached runs


def bench_cached(app, client, slug: str, selection: dict, count: int) -> list[float]:
    first = client.post(f"/api/v1/exercises/{slug}/runs", json={"choices": selection})
    wait_done(client, first.get_json()["id"])
    times = []
    for _ in range(count):
        start = time.perf_counter()
        response = client.post(f"/api/v1/exercises/{slug}/runs", json={"choices": selection})
        times.append(time.perf_counter() - start)
        body = response.get_json()
        if response.status_code != 202 or body["status"] != "done" or not body["from_cache"]:
            raise SystemExit(f"(a) expected a cached answer, got {response.status_code} {body}")
    return times


# (b) uncached runs, one at a time


def bench_uncached(app, client, exercises, runs: int) -> dict[str, list[tuple[float, dict]]]:
    out: dict[str, list[tuple[float, dict]]] = {}
    for slug, selections, configs in exercises:
        out[slug] = []
        for index in range(runs):
            selection = selections[index % len(selections)]
            with app.app_context():
                db.session.execute(delete(SimResult))
                db.session.commit()
            start = time.perf_counter()
            response = client.post(f"/api/v1/exercises/{slug}/runs", json={"choices": selection})
            body = response.get_json()
            if response.status_code != 202 or body["from_cache"]:
                raise SystemExit(f"(b) expected an uncached run, got {response.status_code} {body}")
            body = wait_done(client, body["id"])
            elapsed = time.perf_counter() - start
            if body["status"] != "done":
                raise SystemExit(f"(b) run failed: {body['error']}")
            out[slug].append((elapsed, configs[index % len(configs)]))
    return out


# (c) concurrent learners against a real server

SERVER = textwrap.dedent(
    """\
    import json
    import sys

    from werkzeug.serving import make_server

    from quizapp import create_app
    from quizapp.extensions import db


    def main(settings_json, port):
        app = create_app(json.loads(settings_json))
        with app.app_context():
            db.create_all()

        @app.get("/_bench/torch")
        def torch_loaded():
            return {"torch": "torch" in sys.modules}

        make_server("127.0.0.1", int(port), app, threaded=True).serve_forever()


    if __name__ == "__main__":
        main(sys.argv[1], sys.argv[2])
    """
)


def http(method: str, url: str, body: dict | None = None) -> tuple[int, dict, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            parsed = json.loads(payload)
        except ValueError:
            parsed = {"message": payload[:200].decode(errors="replace")}
        return error.code, parsed, dict(error.headers)


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: list[float] = []
        self.busy = 0
        self.errors: list[str] = []
        self.accepted = 0
        self.finished = 0
        self.max_queued = 0
        self.queue_limit = 0

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)


def learner(base: str, configs: list[dict], tally: Tally, poll_s: float = 0.05) -> None:
    for config in configs:
        start = time.perf_counter()
        while True:
            status, body, headers = http("POST", f"{base}/api/v1/lab/runs", {"config": config})
            if status != 503:
                break
            with tally.lock:
                tally.busy += 1
            time.sleep(min(RETRY_CAP_S, float(headers.get("Retry-After", "1"))))
        if status != 202:
            tally.error(f"POST {status}: {body.get('message')}")
            continue
        with tally.lock:
            tally.accepted += 1
        run_id, deadline = body["id"], time.perf_counter() + WAIT
        while body["status"] in ("queued", "running") and time.perf_counter() < deadline:
            time.sleep(poll_s)
            status, body, _ = http("GET", f"{base}/api/v1/runs/{run_id}")
            if status != 200:
                tally.error(f"GET {status}: {body.get('message')}")
                break
        if body.get("status") != "done":
            tally.error(f"run {run_id} ended {body.get('status')}: {body.get('error')}")
            continue
        with tally.lock:
            tally.finished += 1
            tally.times.append(time.perf_counter() - start)


def watch_queue(base: str, tally: Tally, stop: threading.Event) -> None:
    while not stop.is_set():
        status, body, _ = http("GET", f"{base}/healthz")
        match = re.search(r"(\d+)/(\d+) queued", (body.get("checks") or {}).get("jobs", ""))
        if match:
            with tally.lock:
                tally.max_queued = max(tally.max_queued, int(match.group(1)))
                tally.queue_limit = int(match.group(2))
        time.sleep(0.02)


def bench_concurrent(
    tmp: Path, configs: list[dict], learners: int, per_learner: int, poll_s: float
):
    script = tmp / "bench_server.py"
    script.write_text(SERVER)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, str(script), json.dumps(settings(tmp / "server.sqlite")), str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=log,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        wait_until_up(f"{base}/healthz", 60, server, Path(log.name))
        # Warm the pool: every worker imports torch before the measurement starts.
        warm = [threading.Thread(target=learner, args=(base, [dict(configs[0], seed=s)], Tally()))
                for s in (900_001, 900_002)]  # fmt: skip
        for thread in warm:
            thread.start()
        for thread in warm:
            thread.join()
        seeds = itertools.count(1_000_000)
        work = [
            [dict(configs[(n + i) % len(configs)], seed=next(seeds)) for i in range(per_learner)]
            for n in range(learners)
        ]
        tally, stop = Tally(), threading.Event()
        watcher = threading.Thread(target=watch_queue, args=(base, tally, stop), daemon=True)
        watcher.start()
        threads = [threading.Thread(target=learner, args=(base, w, tally, poll_s)) for w in work]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        stop.set()
        watcher.join()
        torch_loaded = http("GET", f"{base}/_bench/torch")[1]["torch"]
        return tally, wall, [c for w in work for c in w], torch_loaded
    finally:
        server.terminate()
        server.wait(10)
        log.close()


# (d) the baseline


def bare_times(configs: list[dict], repeats: int = 3) -> dict[str, float]:
    """Median seconds of `simulate` per distinct config, in this process (one thread)."""
    from quizapp.jobs import cache_key
    from quizapp.sim import simulate

    simulate({"kind": "mlp", "depth": 4, "width": 8, "batch_size": 16})  # import + warm-up
    out = {}
    for config in configs:
        key = cache_key(config, "")
        if key in out:
            continue
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            simulate(config)
            samples.append(time.perf_counter() - start)
        out[key] = statistics.median(samples)
    return out


def mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cached", type=int, default=50, help="cached runs for (a)")
    parser.add_argument("--uncached", type=int, default=6, help="runs per exercise for (b)")
    parser.add_argument("--learners", type=int, default=20, help="concurrent learners for (c)")
    parser.add_argument("--per-learner", type=int, default=3, help="runs per learner for (c)")
    parser.add_argument(
        "--poll-ms", type=float, default=50, help="how often each learner polls its run in (c)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-exercises-") as name:
        tmp = Path(name)
        app = create_app(settings(tmp / "bench.sqlite"))
        with app.app_context():
            db.create_all()
            import_content(CONTENT)
        exercises = shipped_exercises(app)
        if not exercises:
            raise SystemExit("no exercises in content/exercises")
        client = app.test_client()
        print(f"{len(exercises)} shipped exercise(s): {', '.join(e[0] for e in exercises)}")

        # Warm the pool (each worker imports torch once) before timing anything.
        slug, selections, _ = exercises[0]
        warm = [client.post("/api/v1/lab/runs", json={"config": {"kind": "mlp", "seed": s}})
                for s in (1, 2)]  # fmt: skip
        for response in warm:
            wait_done(client, response.get_json()["id"])

        cached = bench_cached(app, client, slug, selections[0], args.cached)
        uncached = bench_uncached(app, client, exercises, args.uncached)
        web_torch = "torch" in sys.modules  # checked before (d) imports it here
        all_configs = [c for _, _, configs in exercises for c in configs]
        tally, wall, concurrent_configs, server_torch = bench_concurrent(
            tmp, all_configs, args.learners, args.per_learner, args.poll_ms / 1000
        )
        baseline = bare_times([c for runs in uncached.values() for _, c in runs])
        concurrent_baseline = bare_times(concurrent_configs[: 2 * len(all_configs)], repeats=1)

    from quizapp.jobs import cache_key

    rows: list[tuple[str, str, str, str]] = []
    p50_cached = statistics.median(cached)
    rows.append(
        (
            f"(a) cached run, POST → 202 done, n={len(cached)}",
            f"p50 {ms(p50_cached)}, p95 {ms(percentile(cached, 0.95))}",
            f"≤ {ms(CACHED_TARGET_S)}",
            mark(p50_cached <= CACHED_TARGET_S),
        )
    )
    every = [t for runs in uncached.values() for t, _ in runs]
    p50_all = statistics.median(every)
    bare_all = statistics.median(baseline[cache_key(c, "")] for runs in uncached.values()
                                 for _, c in runs)  # fmt: skip
    rows.append(
        (
            f"(b) uncached run, submit → done, n={len(every)}",
            f"p50 {ms(p50_all)}, p95 {ms(percentile(every, 0.95))}",
            f"≤ {ms(UNCACHED_TARGET_S)}",
            mark(p50_all <= UNCACHED_TARGET_S),
        )
    )
    for slug, runs in uncached.items():
        times = [t for t, _ in runs]
        bare = statistics.median(baseline[cache_key(c, "")] for _, c in runs)
        p50 = statistics.median(times)
        rows.append(
            (
                f"    {slug}",
                f"p50 {ms(p50)}; bare simulate {ms(bare)}; ×{p50 / bare:.1f}",
                f"≤ {ms(UNCACHED_TARGET_S)}",
                mark(p50 <= UNCACHED_TARGET_S),
            )
        )
    total_runs = args.learners * args.per_learner
    lost = tally.accepted - tally.finished
    queue_ok = tally.max_queued <= tally.queue_limit
    times = tally.times or [float("nan")]
    p50_c = statistics.median(times)
    bare_c = statistics.median(concurrent_baseline.values())
    rows.append(
        (
            f"(c) {args.learners} learners × {args.per_learner} uncached runs, "
            f"polling every {args.poll_ms:g} ms",
            f"p50 {ms(p50_c)}, p95 {ms(percentile(times, 0.95))}, wall {wall:.1f} s",
            "(report)",
            "",
        )
    )
    workers = app.config["QUIZAPP_SIM_WORKERS"]
    rows.append(
        (
            "    throughput",
            f"{tally.finished / wall:.1f} runs/s; bare simulate on {workers} workers: "
            f"{workers / bare_c:.0f} runs/s",
            "(report)",
            "",
        )
    )
    rows.append(("    errors", str(len(tally.errors)), "0", mark(not tally.errors)))
    rows.append(
        (
            "    lost runs (accepted, never done)",
            f"{lost} of {tally.accepted} accepted ({total_runs} wanted)",
            "0",
            mark(lost == 0 and tally.finished == total_runs),
        )
    )
    rows.append(
        (
            "    queue never above its bound",
            f"max {tally.max_queued} queued of {tally.queue_limit}; {tally.busy} × 503 retried",
            f"≤ {tally.queue_limit}",
            mark(queue_ok),
        )
    )
    rows.append(
        (
            "(d) bare simulate(), same configs as (b)",
            f"p50 {ms(bare_all)}; (b) / (d) ×{p50_all / bare_all:.1f}",
            "(report)",
            "",
        )
    )
    rows.append(
        (
            "    same size as (c)",
            f"p50 {ms(bare_c)}; (c) / (d) ×{p50_c / bare_c:.1f}",
            "(report)",
            "",
        )
    )
    rows.append(("web process imported torch (test client)", str(web_torch), "False",
                 mark(not web_torch)))  # fmt: skip
    rows.append(("web process imported torch (server)", str(server_torch), "False",
                 mark(not server_torch)))  # fmt: skip

    width = max(len(row[0]) for row in rows)
    value_width = max(len(row[1]) for row in rows)
    print(f"{'measure':<{width}}  {'value':<{value_width}}  {'target':<10}  result")
    for label, value, target, result in rows:
        print(f"{label:<{width}}  {value:<{value_width}}  {target:<10}  {result}")
    for error in tally.errors[:10]:
        print(f"  error: {error}")


if __name__ == "__main__":
    main()
