"""Fitting FSRS parameters: on a seeded synthetic learner, and end to end through the real
local worker pool with the web process never importing torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from conftest import CONTENT_DIR, REPO_ROOT, synthetic_reviews
from fsrs.scheduler import DEFAULT_PARAMETERS

from quizapp.domain.memory import Review, score_parameters
from quizapp.jobs.kinds import run_job
from quizapp.jobs.schedule_fit import fit_schedule

pytestmark = pytest.mark.slow


def test_fitted_parameters_predict_a_synthetic_learner_better_than_the_defaults() -> None:
    raw = synthetic_reviews(1500, seed=7)
    reviews = [Review(c, datetime.fromtimestamp(ms / 1000, UTC), r, d) for c, ms, r, d in raw]

    result = fit_schedule({"reviews": raw})

    defaults = score_parameters(reviews, DEFAULT_PARAMETERS)
    fitted = score_parameters(reviews, result["parameters"])
    assert result["log_loss_before"] == pytest.approx(defaults.log_loss)
    assert fitted.log_loss < defaults.log_loss
    assert result["log_loss_after"] == pytest.approx(fitted.log_loss)
    assert list(result["parameters"]) != list(DEFAULT_PARAMETERS)
    assert 0.7 <= result["recommended_retention"] <= 0.95


def test_too_short_a_history_is_refused_not_failed() -> None:
    status, message = run_job("fit_schedule", {"reviews": synthetic_reviews(40)})

    assert status == "invalid"
    assert "at least 512" in message


SCRIPT = """
import json, sys, time
from quizapp import create_app
from quizapp.extensions import db
from quizapp.models import User
from quizapp.services.content_import import import_content
app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///%(db)s", "TESTING": True,
                  "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
                  "QUIZAPP_SIM_WORKERS": 1})
with app.app_context():
    db.create_all()
    import_content(%(content)r)
    fitter = User(username="fitter", username_key="fitter", password_hash="x")
    db.session.add(fitter)
    db.session.commit()
    token = fitter.session_token
client = app.test_client()
with client.session_transaction() as session:
    session["_user_id"] = token
imported = client.post("/api/v1/me/review-log", data=sys.stdin.read(), content_type="text/csv")
assert imported.status_code == 200, imported.get_json()
started = client.post("/api/v1/me/schedule/fits")
assert started.status_code == 202, started.get_json()
fit_id = started.get_json()["id"]
deadline = time.monotonic() + 280
while time.monotonic() < deadline:
    fit = client.get("/api/v1/me/schedule/fits/" + fit_id).get_json()
    if fit["status"] in ("done", "failed"):
        break
    time.sleep(0.5)
page = client.get("/account/schedule").get_data(as_text=True)
print(json.dumps({"fit": fit, "torch": "torch" in sys.modules, "page": "Log loss" in page}))
"""


def test_a_fit_runs_end_to_end_in_the_worker_pool_and_torch_stays_out_of_the_web(tmp_path):
    slugs = sorted(path.stem for path in (CONTENT_DIR / "questions").glob("*.yaml"))
    raw = synthetic_reviews(900, seed=5, cards_per_day=1)
    # More synthetic cards than questions: later cards continue earlier ones' histories.
    csv = "card_id,review_time,review_rating\n" + "".join(
        f"{slugs[(card - 1) % len(slugs)]},{ms},{rating}\n" for card, ms, rating, _ in raw
    )
    script = SCRIPT % {"db": tmp_path / "fit.sqlite", "content": str(CONTENT_DIR)}

    done = subprocess.run(
        [sys.executable, "-c", script],
        input=csv,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    fit = report["fit"]
    assert fit["status"] == "done", fit
    assert fit["version"] == 1 and len(fit["parameters"]) == 21
    assert fit["log_loss_after"] <= fit["log_loss_before"]
    assert fit["recommended_retention"] is None  # the CSV had no review durations
    assert report["page"] is True
    assert report["torch"] is False
