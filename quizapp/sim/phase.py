"""Phase diagrams: a 2-D sweep of one network family, one small simulation per cell.

Pure Python at import (the sweep's cells are plain configs); `run_phase_cells` imports the
engine, so only a worker process runs it. A preset is one entry in `PHASE_PRESETS`: the base
network, the two swept fields with their ranges, and the reference line theory draws on top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from quizapp.sim.config import validate_config

MIN_SIZE, MAX_SIZE, DEFAULT_SIZE = 3, 24, 20


@dataclass(frozen=True)
class Axis:
    field: str
    low: float
    high: float
    scale: str  # "log", "linear" or "int"
    label: str

    def values(self, size: int) -> list[float]:
        """`size` grid values from low to high (whole numbers for "int", no repeats)."""
        if self.scale == "log":
            ratio = self.high / self.low
            return [_round(self.low * ratio ** (i / (size - 1))) for i in range(size)]
        points = [self.low + (self.high - self.low) * i / (size - 1) for i in range(size)]
        if self.scale == "int":
            return list(dict.fromkeys(round(p) for p in points))
        return [_round(p) for p in points]


def _round(value: float) -> float:
    """Four significant digits: short permalinks, and cells that open the same config."""
    return float(f"{value:.4g}")


@dataclass(frozen=True)
class PhasePreset:
    name: str
    title: str
    description: str
    base: dict[str, Any]
    x: Axis
    y: Axis
    # "chi1": theory's χ₁ = 1 line and the ±3-decade prediction from each cell's χ₁, for a
    # weight std × depth grid; "chi1_xy": the χ₁ = 1 curve and the ±3-decade curves across a
    # grid of two initialisation scales at the base's fixed depth (THEORY_CURVES: computed by
    # a worker); "inverse_sqrt_depth": the residual branch scale 1/√depth; None: no line.
    theory: str | None


PHASE_PRESETS: dict[str, PhasePreset] = {
    p.name: p
    for p in (
        PhasePreset(
            "tanh-edge-of-chaos",
            "tanh: the edge of chaos",
            "A tanh MLP with zero biases: below σ_w = 1 (weight std 1/√64 = 0.125) the signal "
            "dies, above it the network turns chaotic and gradients grow; χ₁ = 1 divides them.",
            {"kind": "mlp", "activation": "tanh", "init": "normal", "width": 64},
            Axis("init_std", 0.03, 0.5, "log", "weight std"),
            Axis("depth", 2, 50, "int", "depth"),
            "chi1",
        ),
        PhasePreset(
            "tanh-edge-of-chaos-bias",
            "tanh edge of chaos (σ_w × σ_b)",
            "A tanh MLP of depth 30 with random biases (Poole et al. 2016; Schoenholz et al. "
            "2017): bias noise keeps the signal's variance away from zero, so the edge of chaos "
            "χ₁ = 1 moves to larger weights as σ_b grows (σ_w = weight std · √64). Left of "
            "the curve gradients vanish, right of it the network is chaotic and they explode.",
            {"kind": "mlp", "activation": "tanh", "init": "normal", "width": 64, "depth": 30},
            Axis("init_std", 0.05, 0.5, "log", "weight std"),
            Axis("bias_std", 0.0, 1.0, "linear", "bias std σ_b"),
            "chi1_xy",
        ),
        PhasePreset(
            "relu-he-line",
            "ReLU: He's line",
            "A ReLU MLP: χ₁ = σ_w²/2, so only σ_w² = 2 (std √(2/64) ≈ 0.177, He's "
            "initialisation) keeps the gradient's size at any depth.",
            {"kind": "mlp", "activation": "relu", "init": "normal", "width": 64},
            Axis("init_std", 0.05, 0.6, "log", "weight std"),
            Axis("depth", 2, 50, "int", "depth"),
            "chi1",
        ),
        PhasePreset(
            "sigmoid-vanishing",
            "sigmoid: vanishing everywhere",
            "A sigmoid MLP: σ'(x) ≤ 1/4 and its mean is not zero, so χ₁ stays below 1 for "
            "any reasonable weight scale: deep sigmoid networks vanish.",
            {"kind": "mlp", "activation": "sigmoid", "init": "normal", "width": 64},
            Axis("init_std", 0.03, 1.0, "log", "weight std"),
            Axis("depth", 2, 50, "int", "depth"),
            "chi1",
        ),
        PhasePreset(
            "residual-scale",
            "Residual: scale 1/√depth",
            "A residual ReLU stack with He initialisation: the branch scale decides; about "
            "1/√depth (the line) keeps it healthy however deep.",
            {"kind": "residual_mlp", "activation": "relu", "init": "he_normal", "width": 64},
            Axis("residual_scale", 0.05, 2.0, "log", "residual branch scale"),
            Axis("depth", 2, 50, "int", "depth"),
            "inverse_sqrt_depth",
        ),
        PhasePreset(
            "lstm-forget-bias",
            "LSTM: forget bias × sequence length",
            "An LSTM's forget-gate bias against the length of the sequence: a positive bias "
            "keeps the gradient alive over many more steps.",
            {"kind": "lstm", "width": 32, "batch_size": 32},
            Axis("forget_bias", -2.0, 6.0, "linear", "forget-gate bias"),
            Axis("seq_len", 5, 100, "int", "sequence length"),
            None,
        ),
    )
}


def phase_grid(preset: PhasePreset, size: int) -> tuple[list[float], list[float]]:
    return preset.x.values(size), preset.y.values(size)


def cell_config(preset: PhasePreset, x: float, y: float) -> dict[str, Any]:
    """The normalised config of the grid point (x, y) of a preset."""
    return validate_config(dict(preset.base, **{preset.x.field: x, preset.y.field: y}))


def phase_cells(preset: PhasePreset, size: int) -> list[tuple[int, dict[str, Any]]]:
    """(cell index, normalised config) for every cell, row by row (y outer, x inner)."""
    xs, ys = phase_grid(preset, size)
    return [
        (row * len(xs) + column, cell_config(preset, x, y))
        for row, y in enumerate(ys)
        for column, x in enumerate(xs)
    ]


def cell_summary(result: dict[str, Any]) -> dict[str, Any]:
    """What a phase diagram keeps of one simulation."""
    ratio = result["summary"].get("backward_signal_ratio")
    return {
        "log10_ratio": math.log10(ratio) if ratio else None,
        "verdict": result["verdict"],
        "chi1": (result.get("theory") or {}).get("chi1"),
    }


def run_phase_cells(payload: dict[str, Any]) -> dict[str, Any]:
    """Simulate a batch of cells in this process (a worker): one job, many small networks.

    Plain MLP cells that differ only in their weight and bias scales run side by side as one
    batched network (sim/phase_batch.py); any other cell is one `simulate`. With "theory"
    naming a preset whose theory a worker computes, also its lines (THEORY_CURVES).
    """
    from quizapp.sim.phase_batch import run_cells

    cells = run_cells([(index, config) for index, config in payload["cells"]])
    preset = PHASE_PRESETS.get(payload.get("theory") or "")
    curve = None
    if preset is not None and preset.theory in THEORY_CURVES:
        curve = THEORY_CURVES[preset.theory](preset)
    return {"cells": cells, "theory": curve}


THEORY_POINTS = 160


def _fine_axis(axis: Axis, points: int) -> list[float]:
    return Axis(axis.field, axis.low, axis.high, axis.scale, "").values(points)


def chi1_curve(preset: PhasePreset) -> list[list[float]]:
    """[x, χ₁] at THEORY_POINTS values spanning the x axis (mean-field theory; imports torch).

    χ₁ does not depend on the y axis (depth): unit mean-square inputs, as the teacher task
    draws them, and χ₁ at the fixed point.
    """
    from quizapp.sim.theory import mlp_chi1

    fixed_y = preset.y.low
    return [
        [x, mlp_chi1(cell_config(preset, x, fixed_y))] for x in _fine_axis(preset.x, THEORY_POINTS)
    ]


CRITICAL_POINTS = 40
THRESHOLD_DECADES = 3.0  # the verdict's thresholds: 10⁻³ and 10³


def critical_lines(preset: PhasePreset) -> list[list[float | None]]:
    """[y, x where χ₁ = 1, x where theory predicts 10⁻³, x where 10³] at CRITICAL_POINTS
    values of the y axis, for a grid of two scales at a fixed depth (imports torch).

    The network sits at the variance fixed point after a few layers, so its depth − 1 hidden
    layers change the backward signal by ½·(depth − 1)·log10 χ₁ decades; the thresholds are
    where that is ±3. None where the value lies outside the x axis.
    """
    from quizapp.sim.theory import critical_weight_std

    if preset.x.field != "init_std":
        raise ValueError(f"{preset.name}: the critical line solves for init_std, not {preset.x}")
    hidden = preset.base["depth"] - 1
    out = []
    for y in _fine_axis(preset.y, CRITICAL_POINTS):
        row: list[float | None] = [y]
        config = cell_config(preset, preset.x.low, y)
        for decades in (0.0, -THRESHOLD_DECADES, THRESHOLD_DECADES):
            target = 10.0 ** (2.0 * decades / hidden)  # χ₁ at which the signal changes so
            row.append(critical_weight_std(config, preset.x.low, preset.x.high, target))
        out.append(row)
    return out


# Theory a worker computes once per sweep (it needs torch), stored with the sweep.
THEORY_CURVES = {"chi1": chi1_curve, "chi1_xy": critical_lines}
