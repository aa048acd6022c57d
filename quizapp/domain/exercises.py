"""Exercise rules: which configuration a learner's choices make, and whether it meets the goals.

Pure functions over plain data: a simulator result is the JSON-able dict that
`quizapp.sim.simulate` returns; nothing here runs a simulation.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quizapp.sim.fields import LAB_FIELDS

VERDICTS = ("vanishing", "healthy", "exploding")
# Exhaustive solvability checks stop here; larger spaces use the declared solutions.
MAX_EXHAUSTIVE_COMBINATIONS = 36


class InvalidChoice(ValueError):
    """A learner's choice outside the exercise's choice space."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def choice_title(name: str) -> str:
    """A choice's heading as the lab labels its field ("init": "Weight initialisation")."""
    field = LAB_FIELDS.get(name)
    return field.label if field else name.replace("_", " ").capitalize()


def _summary(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda result: (result.get("summary") or {}).get(name)


def _loss_drop(result: Mapping[str, Any]) -> float | None:
    """Fraction by which the training loss fell: 1 − final / initial (None without training)."""
    training = result.get("training") or {}
    losses = [v for v in training.get("loss") or [] if v is not None]
    if len(losses) < 2 or not losses[0]:
        return None
    return 1.0 - losses[-1] / losses[0]


def _first_layer_update_ratio(result: Mapping[str, Any]) -> float | None:
    training = result.get("training") or {}
    ratios = training.get("update_ratio_per_layer") or []
    return ratios[0] if ratios else None


def _probe(probe: str, name: str) -> Callable[[Mapping[str, Any]], Any]:
    """A number from one of the simulator's probes (None where the probe did not run)."""

    def read(result: Mapping[str, Any]) -> Any:
        found = (result.get("probes") or {}).get(probe) or {}
        return found.get(name) if found.get("computed", True) else None

    return read


@dataclass(frozen=True)
class Metric:
    description: str
    read: Callable[[Mapping[str, Any]], Any]


# A new metric is one entry: its description (shown to learners) and how to read it.
METRICS: dict[str, Metric] = {
    "verdict": Metric("the simulator's verdict", lambda result: result.get("verdict")),
    "backward_signal_ratio": Metric(
        "backward signal at the input over the output", _summary("backward_signal_ratio")
    ),
    "weight_grad_ratio": Metric(
        "weight-gradient norm of the first layer over the last", _summary("weight_grad_ratio")
    ),
    "growth_factor_per_layer": Metric(
        "fitted change of the backward signal per layer", _summary("growth_factor_per_layer")
    ),
    "growth_factor_per_step": Metric(
        "fitted change of the backward signal per time step", _summary("growth_factor_per_step")
    ),
    "jacobian_log10_std": Metric(
        "spread of the input–output Jacobian's singular values (std of log10)",
        _probe("jacobian_spectrum", "log10_std"),
    ),
    "output_token_similarity": Metric(
        "mean cosine similarity between tokens at the transformer's output",
        _probe("attention", "output_token_similarity"),
    ),
    "loss_drop": Metric("fraction of the training loss removed", _loss_drop),
    "first_layer_update_ratio": Metric(
        "first layer's update-to-weight ratio during training", _first_layer_update_ratio
    ),
}


@dataclass(frozen=True)
class GoalOutcome:
    metric: str
    description: str
    value: Any
    passed: bool


def describe_goal(goal: Mapping[str, Any]) -> str:
    """A goal in words, e.g. "backward signal at the input over the output ≥ 0.01"."""
    if goal.get("label"):
        return str(goal["label"])
    name = METRICS[goal["metric"]].description if goal["metric"] in METRICS else goal["metric"]
    parts = []
    if "equals" in goal:
        parts.append(f"is {goal['equals']}")
    if "at_least" in goal:
        parts.append(f"≥ {goal['at_least']:g}")
    if "at_most" in goal:
        parts.append(f"≤ {goal['at_most']:g}")
    return f"{name} {' and '.join(parts)}"


def evaluate_goal(goal: Mapping[str, Any], result: Mapping[str, Any]) -> GoalOutcome:
    """Whether one goal holds for a simulator result; a missing or non-finite value fails."""
    metric = METRICS.get(goal["metric"])
    if metric is None:
        raise ValueError(f"unknown metric {goal['metric']!r}; known: {', '.join(METRICS)}")
    value = metric.read(result)
    passed = value is not None
    if passed and "equals" in goal:
        passed = value == goal["equals"]
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    for bound, holds in (
        ("at_least", lambda v, b: v >= b),
        ("at_most", lambda v, b: v <= b),
    ):
        if passed and bound in goal:
            passed = numeric and math.isfinite(value) and holds(value, goal[bound])
    return GoalOutcome(goal["metric"], describe_goal(goal), value, bool(passed))


def evaluate_goals(
    goals: Sequence[Mapping[str, Any]], result: Mapping[str, Any]
) -> list[GoalOutcome]:
    return [evaluate_goal(goal, result) for goal in goals]


def goals_met(outcomes: Sequence[GoalOutcome]) -> bool:
    return all(outcome.passed for outcome in outcomes)


def choice_values(choices: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[Any]]:
    """The allowed values of each choice, from the stored [{value, label}] lists."""
    return {field: [option["value"] for option in options] for field, options in choices.items()}


def build_config(
    network: Mapping[str, Any],
    choices: Mapping[str, Sequence[Mapping[str, Any]]],
    selected: Mapping[str, Any],
) -> dict[str, Any]:
    """The simulator config for the learner's selection; InvalidChoice names a bad field."""
    if not isinstance(selected, Mapping):
        raise InvalidChoice("choices", "must be a mapping of choice to value")
    allowed = choice_values(choices)
    unknown = sorted(set(selected) - set(allowed))
    if unknown:
        raise InvalidChoice(unknown[0], f"is not a choice here; choose {', '.join(allowed)}")
    config = dict(network)
    for field, values in allowed.items():
        if field not in selected:
            raise InvalidChoice(field, f"is required; choose one of {_listing(values)}")
        value = _coerce(selected[field], values)
        if value is _MISSING:
            raise InvalidChoice(
                field, f"{selected[field]!r} is not offered; choose one of {_listing(values)}"
            )
        config[field] = value
    return config


_MISSING = object()


def _coerce(raw: Any, values: Sequence[Any]) -> Any:
    """Match a submitted value to an offered one (forms send text: "true", "30")."""
    for value in values:
        if raw == value and type(raw) is type(value):
            return value
        if isinstance(raw, str) and raw == _as_form_text(value):
            return value
    return _MISSING


def _as_form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _listing(values: Sequence[Any]) -> str:
    return ", ".join(_as_form_text(value) for value in values)


def all_selections(choices: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Every combination of the choices, in a stable order."""
    allowed = choice_values(choices)
    fields = list(allowed)
    return [dict(zip(fields, combo, strict=True)) for combo in itertools.product(*allowed.values())]


def feedback_key(verdict: str | None, passed: bool) -> list[str]:
    """Which feedback entries apply, most specific first: the verdict, then pass or fail."""
    keys = [verdict] if verdict in VERDICTS else []
    keys.append("pass" if passed else "fail")
    return keys


def prediction_correct(prediction: str | None, verdict: str | None) -> bool | None:
    """Whether the learner foresaw the verdict (None when no prediction was made)."""
    if prediction is None:
        return None
    return prediction == verdict


def intuition_score(predictions: Sequence[bool]) -> float | None:
    """Share of correct predictions: the learner's gradient intuition."""
    return sum(predictions) / len(predictions) if predictions else None
