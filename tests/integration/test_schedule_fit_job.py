"""Fitting FSRS parameters: on a seeded synthetic learner, and end to end through the real
local worker pool with the web process never importing torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import torch
from conftest import CONTENT_DIR, REPO_ROOT, SYNTHETIC_DECAY, SYNTHETIC_MEMORY, synthetic_reviews
from fsrs import Rating, ReviewLog
from fsrs.optimizer import Optimizer
from fsrs.scheduler import DEFAULT_PARAMETERS

from quizapp.domain.memory import Review, score_parameters
from quizapp.jobs import fsrs_optimizer
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


def as_reviews(raw) -> list[Review]:
    return [Review(c, datetime.fromtimestamp(ms / 1000, UTC), r, d) for c, ms, r, d in raw]


def py_fsrs_logs(raw) -> list[ReviewLog]:
    return [
        ReviewLog(c, Rating(r), datetime.fromtimestamp(ms / 1000, UTC), d) for c, ms, r, d in raw
    ]


def test_the_batched_forward_pass_predicts_what_py_fsrs_replays() -> None:
    raw = synthetic_reviews(600, seed=4)  # same-day steps, lapses, every rating
    weights = list(DEFAULT_PARAMETERS)
    for index, factor in SYNTHETIC_MEMORY.items():
        weights[index] *= factor
    weights[20] = SYNTHETIC_DECAY
    history = fsrs_optimizer.histories(raw)

    for parameters in (DEFAULT_PARAMETERS, weights):
        ours = fsrs_optimizer.loss(torch.tensor(parameters, dtype=torch.float64), history)
        replayed = score_parameters(as_reviews(raw), parameters)  # py-fsrs's Scheduler
        assert history.scored_count == replayed.reviews
        assert float(ours) == pytest.approx(replayed.log_loss, rel=1e-9)


def test_the_written_out_adam_steps_as_torch_adam_under_cosine_annealing() -> None:
    target = torch.linspace(-2, 3, 21, dtype=torch.float64)
    theirs = torch.zeros(21, dtype=torch.float64, requires_grad=True)
    ours = torch.zeros(21, dtype=torch.float64, requires_grad=True)
    adam = torch.optim.Adam([theirs], lr=0.04)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(adam, T_max=12)
    written_out = fsrs_optimizer._Adam(ours, 0.04, total_steps=12)
    for _ in range(12):
        for params in (theirs, ours):
            params.grad = None
            ((params - target) ** 4).sum().backward()
        adam.step()
        schedule.step()
        written_out.step()
        written_out.anneal()
        assert written_out.lr == pytest.approx(adam.param_groups[0]["lr"], abs=1e-15)
    assert torch.allclose(ours, theirs, rtol=0, atol=1e-12)
    assert not torch.allclose(ours, torch.zeros(21, dtype=torch.float64))


def test_the_batched_fit_predicts_as_well_as_py_fsrs_optimizer() -> None:
    raw = synthetic_reviews(800, seed=3)
    reviews = as_reviews(raw)

    ours = fsrs_optimizer.compute_optimal_parameters(fsrs_optimizer.histories(raw))
    theirs = Optimizer(py_fsrs_logs(raw)).compute_optimal_parameters()

    defaults = score_parameters(reviews, DEFAULT_PARAMETERS).log_loss
    theirs_loss = score_parameters(reviews, theirs).log_loss
    ours_loss = score_parameters(reviews, ours).log_loss
    assert theirs_loss < defaults
    assert ours_loss <= theirs_loss + 0.003, (ours_loss, theirs_loss, defaults)
    assert all(
        low <= value <= high
        for value, low, high in zip(
            ours,
            fsrs_optimizer.LOWER_BOUNDS_PARAMETERS,
            fsrs_optimizer.UPPER_BOUNDS_PARAMETERS,
            strict=True,
        )
    )


def test_the_retention_search_simulates_what_py_fsrs_simulates() -> None:
    raw = synthetic_reviews(700, seed=6)
    optimizer = Optimizer(py_fsrs_logs(raw))
    expected = optimizer._compute_probs_and_costs()
    habits = fsrs_optimizer.rating_habits(raw)
    ratings = ("again", "hard", "good", "easy")
    assert habits.first_probs == pytest.approx([expected[f"prob_first_{r}"] for r in ratings])
    assert habits.recall_probs == pytest.approx([expected[f"prob_{r}"] for r in ratings[1:]])
    assert habits.costs == pytest.approx([expected[f"avg_{r}_review_duration"] for r in ratings])

    # py-fsrs draws 1,000 cards (about 2 % noise); ours averages 20,000 of the same process.
    theirs = optimizer._simulate_cost(
        desired_retention=0.8,
        parameters=DEFAULT_PARAMETERS,
        num_cards_simulate=1000,
        probs_and_costs_dict=expected,
    )
    (ours,) = fsrs_optimizer.simulate_costs(DEFAULT_PARAMETERS, habits, [0.8], cards=20_000)
    assert ours == pytest.approx(theirs, rel=0.06)


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
