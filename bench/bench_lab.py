"""Benchmark of the gradient lab as an instrument: run pipeline overhead, click-to-chart.

Run: .venv/bin/python bench/bench_lab.py [--learners N] [--per-learner N] [--no-browser]

Every figure is a ratio to bare `simulate()` measured in the same run:
(a) one uncached lab run, submit → done (POST /api/v1/lab/runs?wait=…, the result pushed to
    the waiting request, no poll), warm pool, per shipped exercise configuration, each run
    paired with bare `simulate()` of the same configuration and seed right after it (the
    median of the paired ratios per configuration); target ≤ 1.5× (median over
    configurations).
(b) N learners × M uncached runs against a real server (threaded, local pool of W workers):
    throughput against bare `simulate()` of the same configurations in W processes;
    target ≥ 0.80.
(d) 20 × 20 phase diagrams (tanh MLP, width 64, batch 64: weight std × depth 2–50, and
    weight std × bias std at depth 30) cold through the real job backend (W workers): target
    ≤ 10 s, beside bare `simulate()` of the same 400 cells in W processes; then cached:
    target ≤ 0.15 s. The web process never imports torch.
(c) Playwright against gunicorn: change a control in the lab and wait for the charts to be
    redrawn in place; cached configuration target p50 ≤ 150 ms, uncached ≤ bare + 150 ms.
A miss prints FAIL but the exit code stays 0.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_exercises import (  # noqa: E402
    SERVER,
    free_port,
    http,
    mark,
    ms,
    percentile,
    settings,
    shipped_exercises,
)

from quizapp import create_app  # noqa: E402
from quizapp.extensions import db  # noqa: E402
from quizapp.services.content_import import import_content  # noqa: E402

CONTENT = ROOT / "content"
SINGLE_TARGET = 1.5
THROUGHPUT_TARGET = 0.80
CLICK_TARGET_S = 0.150
PHASE_TARGET_S = 10.0
PHASE_CACHED_TARGET_S = 0.150
WAIT = 25


def _bare_worker(configs: list[dict]) -> list[float]:
    from quizapp.sim import simulate

    simulate({"kind": "mlp", "depth": 4, "width": 8})
    times = []
    for config in configs:
        start = time.perf_counter()
        simulate(config)
        times.append(time.perf_counter() - start)
    return times


def bare_throughput(configs: list[dict], workers: int) -> float:
    """Runs/s of bare simulate() over `configs` in `workers` processes."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        pool.map(_bare_worker, [[configs[0]]] * workers)  # import torch, warm up
        shares = [configs[i::workers] for i in range(workers)]
        start = time.perf_counter()
        pool.map(_bare_worker, shares)
        wall = time.perf_counter() - start
    return len(configs) / wall


def bare_single(configs: list[dict], repeats: int = 5) -> list[float]:
    from quizapp.sim import simulate

    simulate({"kind": "mlp", "depth": 4, "width": 8})
    out = []
    for config in configs:
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            simulate(config)
            samples.append(time.perf_counter() - start)
        out.append(statistics.median(samples))
    return out


# (a) one uncached run at a time, in-process (the Flask test client, the real local pool)

SINGLE_REPEATS = 7


def single_runs(client, configs: list[dict], seeds) -> list[tuple[float, float, float]]:
    """Per config: (median submit → done, median bare simulate(), median of the paired
    ratios). Each pipeline run is followed at once by bare simulate() of the same config and
    seed in this process, so both sides of a ratio see the same machine load."""
    from quizapp.sim import simulate

    simulate({"kind": "mlp", "depth": 4, "width": 8})  # torch imported, first-call costs paid
    out = []
    for config in configs:
        pipeline, bare = [], []
        for _ in range(SINGLE_REPEATS):
            body = {"config": dict(config, seed=next(seeds))}
            start = time.perf_counter()
            response = client.post("/api/v1/lab/runs?wait=20", json=body)
            pipeline.append(time.perf_counter() - start)
            data = response.get_json()
            if data["status"] != "done" or data["from_cache"]:
                raise SystemExit(f"(a) expected an uncached finished run, got {data}")
            start = time.perf_counter()
            simulate(body["config"])
            bare.append(time.perf_counter() - start)
        ratios = [p / b for p, b in zip(pipeline, bare, strict=True)]
        out.append(
            (statistics.median(pipeline), statistics.median(bare), statistics.median(ratios))
        )
    return out


# (b) many learners against a real server


def learner(base: str, configs: list[dict], times: list, errors: list, busy: list) -> None:
    for config in configs:
        start = time.perf_counter()
        while True:
            status, body, headers = http(
                "POST", f"{base}/api/v1/lab/runs?wait={WAIT}", {"config": config}
            )
            if status != 503:
                break
            busy.append(1)
            time.sleep(min(1.0, float(headers.get("Retry-After", "1"))))
        while status in (200, 202) and body["status"] in ("queued", "running"):
            status, body, _ = http("GET", f"{base}/api/v1/runs/{body['id']}?wait={WAIT}")
        if body.get("status") != "done":
            errors.append(f"{status}: {body.get('message') or body.get('error')}")
            continue
        times.append(time.perf_counter() - start)


def concurrent_runs(tmp: Path, work: list[list[dict]], workers: int, queue_limit: int):
    script = tmp / "bench_server.py"
    script.write_text(SERVER)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = settings(tmp / "server.sqlite") | {
        "QUIZAPP_SIM_WORKERS": workers,
        "QUIZAPP_SIM_QUEUE_LIMIT": queue_limit,
    }
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, str(script), json.dumps(config), str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=log,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        _wait_ready(base, server)
        warm = [
            threading.Thread(target=learner, args=(base, [dict(work[0][0], seed=s)], [], [], []))
            for s in (900_001, 900_002, 900_003)
        ]
        for thread in warm:
            thread.start()
        for thread in warm:
            thread.join()
        times, errors, busy = [], [], []
        threads = [
            threading.Thread(target=learner, args=(base, w, times, errors, busy)) for w in work
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        return times, errors, len(busy), wall
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def _wait_ready(base: str, process, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while True:
        try:
            http("GET", f"{base}/healthz")
            return
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                raise SystemExit("the server did not start") from None
            time.sleep(0.2)


# (c) the browser against gunicorn


def click_to_chart(tmp: Path, database: Path, cached_runs: int, uncached_config: dict):
    """p50 seconds from a control change to the redrawn chart (cached, uncached)."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "bench-secret-key",
        "QUIZAPP_RATELIMIT": "0",
        "QUIZAPP_LOG_REQUESTS": "0",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
    }
    log = (tmp / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        _wait_ready(base, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page()
            page.goto(f"{base}/lab?kind=mlp&depth={uncached_config['depth']}")
            page.wait_for_selector("#lab-result .lab-run[data-status=done]", timeout=60_000)
            # Timed inside the page: from the control's change event to the new panel in place.
            page.evaluate(
                "document.addEventListener('change', () => { window.t0 = performance.now(); },"
                " true); document.addEventListener('quizapp:lab-result', () => {"
                " window.t1 = performance.now(); })"
            )
            activations = ["tanh", "relu"]
            # Both into the cache and each gunicorn worker warm. Alternate: choosing the value a
            # menu already shows fires no change event, so no new run would ever come.
            for i in range(6):
                _change(page, "#lab-activation", activations[i % 2])
            cached = [_change(page, "#lab-activation", activations[i % 2])
                      for i in range(cached_runs)]  # fmt: skip
            uncached = []
            for seed in range(2000, 2000 + max(5, cached_runs // 4)):
                page.fill("#lab-seed", str(seed))  # typed: waits for the typing pause
                page.wait_for_timeout(400)
                page.wait_for_selector("#lab-result .lab-run[data-status=done]")
                uncached.append(_change(page, "#lab-activation", activations[seed % 2]))
            browser.close()
        return cached, uncached
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        log.close()


def _change(page, selector: str, value: str) -> float:
    """Choose a value in a menu, then time until the result panel of a new run is shown."""
    before = page.eval_on_selector("#lab-result", "node => node.dataset.runId || ''")
    page.select_option(selector, value)
    page.wait_for_function(
        "(before) => { const n = document.querySelector('#lab-result .lab-run');"
        " return n && n.dataset.runId !== before && n.dataset.status === 'done'; }",
        arg=before,
        timeout=60_000,
    )
    return page.evaluate("window.t1 - window.t0") / 1000


def phase_diagram(client, size: int, preset: str) -> tuple[float, float, int]:
    """(cold seconds, cached seconds, cells) for a preset through the API."""
    start = time.perf_counter()
    body = client.post("/api/v1/lab/phase", json={"preset": preset, "size": size})
    body = body.get_json()
    while not body["complete"]:
        seen = len(body["cells"])
        body = client.get(f"{body['url']}?seen={seen}&wait=25").get_json()
    cold = time.perf_counter() - start
    start = time.perf_counter()
    again = client.post("/api/v1/lab/phase", json={"preset": preset, "size": size})
    cached = time.perf_counter() - start
    assert again.get_json()["complete"]
    return cold, cached, len(body["cells"])


PHASE_PRESETS_TIMED = ("tanh-edge-of-chaos", "tanh-edge-of-chaos-bias")


def phase_rows(client, workers: int) -> list[tuple[str, str, str, str]]:
    """(d): 20 × 20 diagrams cold and cached, beside bare simulate() of their cells."""
    from quizapp.sim.phase import PHASE_PRESETS, phase_cells

    rows = []
    for preset in PHASE_PRESETS_TIMED:
        cold, cached_phase, cells = phase_diagram(client, 20, preset)
        web_torch = "torch" in sys.modules
        phase_configs = [c for _, c in phase_cells(PHASE_PRESETS[preset], 20)]
        bare_phase = len(phase_configs) / bare_throughput(phase_configs, workers)
        rows += [
            (
                f"(d) phase diagram {preset} 20 × 20 ({cells} cells), cold, {workers} workers",
                f"{cold:.2f} s; bare simulate of the cells {bare_phase:.2f} s: "
                f"×{cold / bare_phase:.2f}",
                f"≤ {PHASE_TARGET_S:g} s",
                mark(cold <= PHASE_TARGET_S),
            ),
            (
                "    cached",
                ms(cached_phase),
                f"≤ {ms(PHASE_CACHED_TARGET_S)}",
                mark(cached_phase <= PHASE_CACHED_TARGET_S),
            ),
        ]
    rows.append(("    web process imported torch", str(web_torch), "False", mark(not web_torch)))
    return rows


def single_rows(client, distinct: list[dict], seeds) -> list[tuple[str, str, str, str]]:
    """(a): one uncached run at a time against bare simulate() of the same configuration."""
    sample = distinct[:: max(1, len(distinct) // 8)]
    measured = single_runs(client, sample, seeds)
    ratios = [ratio for _, _, ratio in measured]
    rows = []
    for config, (s, b, ratio) in zip(sample, measured, strict=True):
        label = f"    {config['kind']} depth {config['depth']} {config.get('activation') or ''}"
        rows.append((label, f"{ms(s)} vs bare {ms(b)}: ×{ratio:.2f}", "", ""))
    median_ratio = statistics.median(ratios)
    summary = (
        f"(a) one uncached run, submit → done, {len(sample)} configs × {SINGLE_REPEATS}",
        f"median ×{median_ratio:.2f} of bare (worst config ×{max(ratios):.2f})",
        f"≤ ×{SINGLE_TARGET}",
        mark(median_ratio <= SINGLE_TARGET),
    )
    return [summary, *rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=20)
    parser.add_argument("--per-learner", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clicks", type=int, default=30)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument(
        "--parts", default="abcd", help="which measures to take, e.g. 'ad' (default: all)"
    )
    args = parser.parse_args()
    if args.no_browser:
        args.parts = args.parts.replace("c", "")

    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-lab-") as name:
        tmp = Path(name)
        database = tmp / "bench.sqlite"
        app = create_app(settings(database) | {"QUIZAPP_SIM_WORKERS": args.workers})
        with app.app_context():
            db.create_all()
            import_content(CONTENT)
        configs = [c for _, _, cs in shipped_exercises(app) for c in cs]
        distinct = list({json.dumps(c, sort_keys=True): c for c in configs}.values())
        client = app.test_client()
        seeds = iter(range(10_000, 10_000_000))
        # Spawn and warm every worker: as many runs at once as there are workers (one after
        # another, an idle worker would take each and the others would stay unstarted).
        warm = [
            client.post("/api/v1/lab/runs", json={"config": {"kind": "mlp", "seed": 7 + n}})
            for n in range(args.workers)
        ]
        for response in warm:
            client.get(f"/api/v1/runs/{response.get_json()['id']}?wait=25")
        errors: list[str] = []
        if "d" in args.parts:
            rows += phase_rows(client, args.workers)
        if "a" in args.parts:
            rows = single_rows(client, distinct, seeds) + rows
        if "b" in args.parts:
            work = [
                [dict(distinct[(n + i) % len(distinct)], seed=next(seeds)) for i in range(
                    args.per_learner)]
                for n in range(args.learners)
            ]  # fmt: skip
            flat = [c for w in work for c in w]
            queue_limit = max(16, args.learners)
            times, errors, busy, wall = concurrent_runs(tmp, work, args.workers, queue_limit)
            bare_rate = bare_throughput(flat, args.workers)
            rate = len(times) / wall
            rows.append(
                (
                    f"(b) {args.learners} learners × {args.per_learner} uncached runs, "
                    f"{args.workers} workers, queue limit {queue_limit}",
                    f"{rate:.1f} runs/s vs bare {bare_rate:.1f} runs/s: {rate / bare_rate:.2f}; "
                    f"p50 {ms(statistics.median(times or [0]))}, p95 "
                    f"{ms(percentile(times or [0], 0.95))}; {busy} × 503",
                    f"≥ {THROUGHPUT_TARGET:.2f}",
                    mark(rate / bare_rate >= THROUGHPUT_TARGET and not errors),
                )
            )
            rows.append(("    errors", str(len(errors)), "0", mark(not errors)))

        if "c" in args.parts:
            uncached_config = {"kind": "mlp", "depth": 8}
            cached, uncached = click_to_chart(tmp, database, args.clicks, uncached_config)
            bare_click = bare_single([dict(uncached_config, seed=2000)])[0]
            p50 = statistics.median(cached)
            rows.append(
                (
                    f"(c) lab, cached config: control change → chart, n={len(cached)}",
                    f"p50 {ms(p50)}, p95 {ms(percentile(cached, 0.95))}",
                    f"≤ {ms(CLICK_TARGET_S)}",
                    mark(p50 <= CLICK_TARGET_S),
                )
            )
            p50u = statistics.median(uncached)
            rows.append(
                (
                    f"    uncached config, n={len(uncached)}",
                    f"p50 {ms(p50u)}; bare simulate {ms(bare_click)}; "
                    f"over bare {ms(p50u - bare_click)}",
                    f"≤ bare + {ms(CLICK_TARGET_S)}",
                    mark(p50u - bare_click <= CLICK_TARGET_S),
                )
            )
        for error in errors[:5]:
            print("  error:", error)

    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"{'measure':<{width}}  {'value':<{value_width}}  {'target':<10}  result")
    for label, value, target, result in rows:
        print(f"{label:<{width}}  {value:<{value_width}}  {target:<10}  {result}")


if __name__ == "__main__":
    main()
