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
    # "chi1": theory's χ₁ = 1 line and the ±3-decade prediction from each cell's χ₁;
    # "inverse_sqrt_depth": the residual branch scale 1/√depth; None: no theory line.
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


def phase_cells(preset: PhasePreset, size: int) -> list[tuple[int, dict[str, Any]]]:
    """(cell index, normalised config) for every cell, row by row (y outer, x inner)."""
    xs, ys = phase_grid(preset, size)
    cells = []
    for row, y in enumerate(ys):
        for column, x in enumerate(xs):
            config = dict(preset.base, **{preset.x.field: x, preset.y.field: y})
            cells.append((row * len(xs) + column, validate_config(config)))
    return cells


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

    With "theory" naming a preset, also χ₁ along its x axis on a fine grid (for the line).
    """
    from quizapp.sim import simulate

    cells = [{"index": index, **cell_summary(simulate(config))} for index, config in
             payload["cells"]]  # fmt: skip
    theory = payload.get("theory")
    curve = chi1_curve(PHASE_PRESETS[theory]) if theory in PHASE_PRESETS else None
    return {"cells": cells, "theory": curve}


THEORY_POINTS = 160


def chi1_curve(preset: PhasePreset) -> list[list[float]]:
    """[x, χ₁] at THEORY_POINTS values spanning the x axis (mean-field theory; imports torch)."""
    from quizapp.sim.theory import mean_field_mlp

    xs = Axis(preset.x.field, preset.x.low, preset.x.high, preset.x.scale, "").values(THEORY_POINTS)
    curve = []
    layers = [{"backward_signal": 1.0}, {"backward_signal": 1.0}]
    for x in xs:
        config = validate_config(dict(preset.base, **{preset.x.field: x, preset.y.field: 2}))
        # unit mean-square inputs, as the teacher task draws them; χ₁ is taken at the fixed point
        curve.append([x, mean_field_mlp(config, layers, 1.0)["chi1"]])
    return curve
