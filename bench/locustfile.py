"""Locust learners for `make loadtest`: browse, answer, review and run exercises.

LOADTEST_MODE=learners (default) runs the mixed learner journey; LOADTEST_MODE=pages hammers
one question page (throughput against the bare-Flask baseline); LOADTEST_MODE=hello hits "/".
Each learner writes how many answers the server confirmed it stored to LOADTEST_COUNTS.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time

from locust import HttpUser, between, constant, events, task

MODE = os.environ.get("LOADTEST_MODE", "learners")
QUESTION = "vanishing-gradient-problem"
EXERCISE = os.environ.get("LOADTEST_EXERCISE", "tanh-depth-30-init")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TOKEN = re.compile(r'<code class="token">([^<]+)</code>')
# Every learner signs up first (argon2: deliberately costly), then all start the journey at
# once, so the figures measure the journey and not a burst of sign-ups.
JOURNEY_STARTS_AT = time.time() + float(os.environ.get("LOADTEST_SETUP_SECONDS", "0"))
_stored = {"attempts": 0}
_lock = threading.Lock()


@events.quitting.add_listener
def write_counts(environment, **_):
    path = os.environ.get("LOADTEST_COUNTS")
    if path:
        with open(path, "w") as handle:
            json.dump(_stored, handle)


class Learner(HttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        name = f"load{random.getrandbits(40):x}"
        page = self.client.get("/register", name="/register [setup]")
        token = CSRF.search(page.text).group(1)
        password = "Load-test password 42"
        self.client.post(
            "/register",
            data={"csrf_token": token, "username": name, "password": password, "confirm": password},
            name="/register [setup POST]",
        )
        account = self.client.get("/account", name="/account [setup]")
        token = CSRF.search(account.text).group(1)
        created = self.client.post(
            "/account",
            data={
                "tok-csrf_token": token,
                "csrf_token": token,
                "action": "token",
                "tok-name": "load",
            },  # fmt: skip
            name="/account [setup token]",
        )
        match = TOKEN.search(created.text)
        self.api_token = match.group(1) if match else None
        self.questions = [
            item["slug"]
            for item in self.client.get(
                "/api/v1/questions?per_page=100", name="/api/v1/questions [setup]"
            ).json()["items"]
        ]
        time.sleep(max(0.0, JOURNEY_STARTS_AT - time.time()))  # gevent-patched: yields

    @task(4)
    def browse(self) -> None:
        self.client.get("/", name="/ (catalog)")
        slug = random.choice(self.questions)
        self.client.get(f"/questions/{slug}", name="/questions/<slug>")

    @task(4)
    def answer(self) -> None:
        if not self.api_token:
            return
        slug = random.choice(self.questions)
        detail = self.client.get(f"/api/v1/questions/{slug}", name="/api/v1/questions/<slug>")
        checks = [c for c in detail.json()["checks"] if c["kind"] == "single_choice"]
        if not checks:
            return
        check = checks[0]
        response = self.client.post(
            f"/api/v1/questions/{slug}/attempts",
            json={"check": check["index"], "response": random.randrange(len(check["options"]))},
            headers={"Authorization": f"Bearer {self.api_token}"},
            name="/api/v1/questions/<slug>/attempts",
        )
        if response.status_code == 201 and response.json().get("stored"):
            with _lock:
                _stored["attempts"] += 1

    @task(1)
    def review(self) -> None:
        self.client.get("/review", name="/review")
        self.client.get("/dashboard", name="/dashboard")

    def _wait_for(self, run_id: str) -> None:
        deadline = time.time() + 30
        while time.time() < deadline:
            status = self.client.get(f"/api/v1/runs/{run_id}", name="/api/v1/runs/<id>")
            if status.json().get("status") in ("done", "failed"):
                return
            time.sleep(0.3)

    @task(1)
    def cached_exercise(self) -> None:
        response = self.client.post(
            f"/api/v1/exercises/{EXERCISE}/runs",
            json={"choices": {"init": "xavier_normal"}, "prediction": "healthy"},
            headers={"Authorization": f"Bearer {self.api_token}"},
            name="/api/v1/exercises/<slug>/runs (cached)",
        )
        if response.status_code == 202:
            self._wait_for(response.json()["id"])

    @task(1)
    def uncached_lab(self) -> None:
        config = {"kind": "mlp", "depth": 10, "width": 32, "seed": random.randrange(2**30)}
        with self.client.post(
            "/api/v1/lab/runs",
            json={"config": config},
            headers={"Authorization": f"Bearer {self.api_token}"},
            name="/api/v1/lab/runs (uncached)",
            catch_response=True,
        ) as response:
            if response.status_code == 503:
                response.success()  # a full queue is the designed answer, not an error
                return
        if response.status_code == 202:
            self._wait_for(response.json()["id"])


class PageReader(HttpUser):
    wait_time = constant(0)

    @task
    def read(self) -> None:
        path = "/" if MODE == "hello" else f"/questions/{QUESTION}"
        self.client.get(path, name="page")
