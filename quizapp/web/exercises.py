"""Exercise pages, the gradient lab and run results."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from quizapp.domain.exercises import METRICS, VERDICTS, describe_goal
from quizapp.services import simulations as sim_service
from quizapp.services.errors import InvalidInput
from quizapp.sim import LIMITS
from quizapp.sim.activations import ACTIVATIONS
from quizapp.sim.config import (
    JACOBIAN_SPECTRUM,
    KINDS,
    LOSSES,
    NORM_POSITIONS,
    NORMS,
    OPTIMIZERS,
    TASKS,
    TRANSFORMER_NORMS,
)
from quizapp.sim.inits import INITS
from quizapp.web.run_charts import run_charts

exercises = Blueprint("exercises", __name__)

# The lab form's fields: name -> (type, allowed values or None). Blank means "default".
LAB_FIELDS: dict[str, tuple[type, tuple[str, ...] | None]] = {
    "kind": (str, tuple(KINDS)),
    "depth": (int, None),
    "width": (int, None),
    "activation": (str, tuple(ACTIVATIONS)),
    "init": (str, tuple(INITS)),
    "init_std": (float, None),
    "norm": (str, NORMS + tuple(n for n in TRANSFORMER_NORMS if n not in NORMS)),
    "norm_position": (str, NORM_POSITIONS),
    "heads": (int, None),
    "jacobian_spectrum": (str, JACOBIAN_SPECTRUM),
    "skip_every": (int, None),
    "residual_scale": (float, None),
    "forget_bias": (float, None),
    "batch_size": (int, None),
    "seq_len": (int, None),
    "loss": (str, LOSSES),
    "seed": (int, None),
    "task": (str, TASKS),
    "train_steps": (int, None),
    "optimizer": (str, OPTIMIZERS),
    "lr": (float, None),
}


def _user():
    return current_user if current_user.is_authenticated else None


def lab_config_from(values) -> dict[str, Any]:
    """A simulator config from form or query fields; blank fields take the defaults."""
    config: dict[str, Any] = {}
    for name, (kind, _) in LAB_FIELDS.items():
        raw = (values.get(name) or "").strip()
        if not raw:
            continue
        if kind is str:
            config[name] = raw
            continue
        try:
            config[name] = kind(raw) if kind is float else int(raw)
        except ValueError:
            label = "a whole number" if kind is int else "a number"
            raise InvalidInput(f"{name} must be {label}, not {raw[:20]!r}", field=name) from None
    unknown = [key for key in values if key not in LAB_FIELDS and key not in ("csrf_token",)]
    if unknown:
        raise InvalidInput(f"unknown field: {', '.join(sorted(unknown))[:200]}", field=unknown[0])
    return config


@exercises.get("/exercises")
def exercise_list():
    user = _user()
    solved = sim_service.solved_exercises(user) if user else set()
    return render_template(
        "exercises/list.html", exercises=sim_service.list_exercises(), solved=solved
    )


@exercises.get("/exercises/<slug>")
def exercise(slug: str):
    found = sim_service.get_exercise(slug)
    user = _user()
    return render_template(
        "exercises/exercise.html",
        exercise=found,
        goals=[describe_goal(goal) for goal in found.goals],
        questions=sim_service.linked_questions(found),
        verdicts=VERDICTS,
        runs=sim_service.recent_runs(user, found) if user else [],
    )


@exercises.post("/exercises/<slug>/runs")
def start_exercise_run(slug: str):
    exercise_found = sim_service.get_exercise(slug)
    selected = {name: request.form.get(name, "") for name in exercise_found.choices}
    run = sim_service.start_exercise_run(
        _user(), slug, selected, request.form.get("prediction") or None
    )
    return redirect(url_for("exercises.run", run_id=run.id))


@exercises.get("/lab")
def lab():
    values = request.args
    # The form's "shareable link" button submits by GET: keep the token and blanks out of URLs.
    if "csrf_token" in values or any(not value for value in values.values()):
        shared = {key: value for key, value in values.items() if value and key != "csrf_token"}
        return redirect(url_for("exercises.lab", **shared))
    return _render_lab(values)


def _render_lab(values, error: InvalidInput | None = None):
    return render_template(
        "exercises/lab.html",
        fields=LAB_FIELDS,
        values=values,
        limits=LIMITS,
        presets=LAB_PRESETS,
        error=error,
    )


@exercises.post("/lab/runs")
def start_lab_run():
    try:
        run = sim_service.start_lab_run(_user(), lab_config_from(request.form))
    except InvalidInput as error:
        # Back to the form with the learner's values and the reason, not to an error page.
        return _render_lab(request.form, error=error), 400
    return redirect(url_for("exercises.run", run_id=run.id))


@exercises.get("/runs/<run_id>")
def run(run_id: str):
    view = sim_service.get_run(run_id, _user())
    return render_template(
        "exercises/run.html",
        view=view,
        charts=run_charts(view.result) if view.result else None,
        metrics=METRICS,
        lab_query=_lab_query(view.run.config),
    )


@exercises.get("/runs/compare")
def compare():
    ids = [request.args.get("a", ""), request.args.get("b", "")]
    if not all(ids):
        raise InvalidInput("Choose two runs to compare (a and b).", field="a")
    views = [sim_service.get_run(run_id, _user()) for run_id in ids]
    return render_template(
        "exercises/compare.html",
        views=views,
        charts=[run_charts(v.result) if v.result else None for v in views],
    )


def _lab_query(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if value is not None}


LAB_PRESETS = [
    ("Deep sigmoid, default init", {"kind": "mlp", "depth": 30, "activation": "sigmoid"}),
    ("ReLU with He init", {"kind": "mlp", "depth": 50, "activation": "relu", "init": "he_normal"}),
    (
        "ReLU + batch norm, depth 100",
        {
            "kind": "mlp",
            "depth": 100,
            "activation": "relu",
            "init": "he_normal",
            "norm": "batchnorm",
        },
    ),
    ("Residual sigmoid stack", {"kind": "residual_mlp", "depth": 50, "activation": "sigmoid"}),
    ("LSTM, 50 steps", {"kind": "lstm", "seq_len": 50}),
    ("LSTM, forget bias 3", {"kind": "lstm", "seq_len": 50, "forget_bias": 3.0}),
    (
        "Transformer, 12 blocks, no norm",
        {"kind": "transformer", "depth": 12, "init": "xavier_normal", "norm": "none"},
    ),
    (
        "Transformer, 12 blocks, pre-LN",
        {"kind": "transformer", "depth": 12, "init": "xavier_normal", "norm": "layer"},
    ),
    ("Orthogonal tanh, width 16", {"kind": "mlp", "depth": 30, "width": 16,
                                   "activation": "tanh", "init": "orthogonal",
                                   "jacobian_spectrum": "exact"}),
]  # fmt: skip


def init_exercises(app) -> None:
    """Template helpers that the question page and the dashboard use to show exercises."""

    @app.context_processor
    def exercise_helpers():
        titles: dict[int, str] = {}

        def exercise_title(run) -> str:
            if run.exercise_id is None:
                return "Gradient lab"
            if not titles:
                titles.update({e.id: e.title for e in sim_service.list_exercises()})
            return titles.get(run.exercise_id, "Retired exercise")

        return {
            "question_exercises": sim_service.exercises_for_question,
            "intuition": sim_service.intuition,
            "recent_runs": sim_service.recent_runs,
            "exercise_title": exercise_title,
        }
