"""Summary and verdict from the measured backward signal. Pure Python: no torch import.

The verdict is decided by the backward signal ratio alone: below VANISHING_BELOW it is
vanishing, above EXPLODING_ABOVE (or on any non-finite value) exploding; an all-zero gradient
is vanishing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

VANISHING_BELOW = 1e-3
EXPLODING_ABOVE = 1e3
VERDICTS = ("vanishing", "healthy", "exploding")


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def safe_ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, with 0/0 = 0 (nothing flows) and x/0 = inf."""
    if denominator == 0.0:
        return 0.0 if numerator == 0.0 else math.inf
    return numerator / denominator


def fitted_growth(values: Iterable[float]) -> float | None:
    """Per-step factor by which values grow from the last to the first entry (log-linear fit).

    Entries are ordered input side first; the backward signal travels from the end to the
    start, so a factor below 1 means it shrinks on its way back. Zero and non-finite entries
    are left out; None if fewer than two remain.
    """
    points = [(i, math.log10(v)) for i, v in enumerate(values) if is_finite(v) and v > 0.0]
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return 10.0 ** (-sxy / sxx)


def decide_verdict(ratio: float, has_nonfinite: bool) -> str:
    if has_nonfinite or not math.isfinite(ratio):
        return "exploding"
    if ratio < VANISHING_BELOW:  # includes an all-zero gradient (ratio 0)
        return "vanishing"
    if ratio > EXPLODING_ABOVE:
        return "exploding"
    return "healthy"


def _all_numbers(probe: Any) -> list[float]:
    numbers = [probe.loss, probe.output_signal]
    for layer in probe.layers:
        numbers += [
            layer.backward_signal,
            layer.weight_grad_norm,
            layer.activation_mean,
            layer.activation_std,
        ]
        numbers += layer.steps or []
    return numbers


def summarize(probe: Any, recurrent: bool) -> dict[str, Any]:
    """Summary numbers (floats may be inf/nan here; the engine makes them JSON-safe)."""
    layers = probe.layers
    has_nonfinite = not all(math.isfinite(v) for v in _all_numbers(probe))
    signals = [layer.backward_signal for layer in layers]
    if recurrent:
        steps = layers[0].steps  # bottom layer: the one furthest from the loss in time
        ratio = safe_ratio(steps[0], steps[-1])
        growth_per_step = fitted_growth(steps)
        growth_per_layer = fitted_growth(signals[:-1]) if len(layers) > 2 else None
    else:
        ratio = safe_ratio(signals[0], probe.output_signal)
        growth_per_step = None
        growth_per_layer = fitted_growth(signals)
    underflow = (
        not has_nonfinite
        and probe.output_signal > 0.0
        and any(s == 0.0 for s in (layers[0].steps if recurrent else signals))
    )
    decades = math.log10(ratio) if is_finite(ratio) and ratio > 0.0 else None
    return {
        "verdict": decide_verdict(ratio, has_nonfinite),
        "backward_signal_ratio": ratio,
        "ratio_definition": (
            "‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ (first recurrent layer, earliest over latest step)"
            if recurrent
            else "‖∂L/∂x‖ at the network input / ‖∂L/∂y‖ at the output"
        ),
        "weight_grad_ratio": safe_ratio(layers[0].weight_grad_norm, layers[-1].weight_grad_norm),
        "growth_factor_per_layer": growth_per_layer,
        "growth_factor_per_step": growth_per_step,
        "decades_change": decades,
        "input_signal": layers[0].steps[0] if recurrent else signals[0],
        "output_signal": probe.output_signal,
        "loss": probe.loss,
        "has_nonfinite": has_nonfinite,
        "underflow": underflow,
        "thresholds": {"vanishing_below": VANISHING_BELOW, "exploding_above": EXPLODING_ABOVE},
    }
