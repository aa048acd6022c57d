"""Bias std, the σ_w × σ_b edge of chaos, batched phase cells, and the training signal record."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quizapp.jobs.kinds import run_job
from quizapp.sim import SimConfigError, simulate, validate_config
from quizapp.sim.networks import build_network
from quizapp.sim.phase import (
    PHASE_PRESETS,
    PhasePreset,
    cell_config,
    cell_summary,
    critical_lines,
    phase_cells,
)
from quizapp.sim.phase_batch import run_cells
from quizapp.sim.theory import critical_weight_std, mlp_chi1

EDGE = PHASE_PRESETS["tanh-edge-of-chaos-bias"]
TANH = {"kind": "mlp", "activation": "tanh", "init": "normal", "width": 64}


# --- bias std --------------------------------------------------------------------------------


def test_zero_bias_std_is_todays_config_and_other_uses_are_refused():
    plain = validate_config(dict(TANH, init_std=0.1))
    assert "bias_std" not in plain  # same cache key and result as before the field existed
    assert validate_config(dict(TANH, init_std=0.1, bias_std=0)) == plain
    assert validate_config(dict(TANH, init_std=0.1, bias_std=0.2))["bias_std"] == 0.2
    for config, words in (
        ({"kind": "mlp", "bias_std": 0.1}, "init 'default'"),
        ({"kind": "lstm", "bias_std": 0.1}, "does not apply to kind 'lstm'"),
        (dict(TANH, bias_std=-1), "at least 0"),
    ):
        with pytest.raises(SimConfigError) as error:
            validate_config(config)
        assert error.value.field == "bias_std" and words in error.value.message


def test_biases_are_drawn_with_the_bias_std_after_the_same_first_weights():
    import torch

    def parameters(**extra):
        config = validate_config(dict(TANH, width=512, depth=3, init_std=0.05, **extra))
        torch.manual_seed(config["seed"])
        return build_network(config).parameters

    plain, biased = parameters(), parameters(bias_std=0.3)
    assert torch.equal(plain[0], biased[0])  # the first weight is drawn before any bias
    assert all(float(b.detach().abs().sum()) == 0.0 for b in plain[1::2])
    assert float(biased[1].detach().std()) == pytest.approx(0.3, rel=0.1)


def test_theory_takes_the_bias_variance_into_the_fixed_point():
    result = simulate(dict(TANH, depth=10, init_std=0.2, bias_std=0.3))
    theory = result["theory"]
    assert theory["sigma_b2"] == pytest.approx(0.09)
    assert "σ_b² = 0.09" in theory["note"]
    assert theory["chi1"] == pytest.approx(mlp_chi1(result["config"]), rel=1e-9)


# --- the σ_w × σ_b edge of chaos ---------------------------------------------------------------


def _critical_sigma_w(sigma_b: float) -> float:
    """An independent solve: Gauss–Hermite expectations, q* by iteration, bisection on χ₁."""
    z, w = np.polynomial.hermite_e.hermegauss(201)
    w = w / w.sum()

    def chi1(sigma_w: float) -> float:
        q, previous = 1.0, -1.0
        while abs(q - previous) > 1e-12:
            previous = q
            q = sigma_w**2 * np.sum(w * np.tanh(math.sqrt(q) * z) ** 2) + sigma_b**2
        return sigma_w**2 * np.sum(w / np.cosh(math.sqrt(q) * z) ** 4)

    low, high = 0.5, 4.0
    for _ in range(30):
        middle = math.sqrt(low * high)
        low, high = (middle, high) if chi1(middle) < 1.0 else (low, middle)
    return low


def test_the_critical_line_lies_where_a_numeric_solve_puts_it():
    width = EDGE.base["width"]
    for sigma_b in (0.05, 0.5):
        std = critical_weight_std(cell_config(EDGE, 0.1, sigma_b), EDGE.x.low, EDGE.x.high)
        solved = _critical_sigma_w(sigma_b)
        assert std * math.sqrt(width) == pytest.approx(solved, rel=2e-3)
        if sigma_b == 0.05:
            assert solved == pytest.approx(1.12, abs=0.01)  # σ_b = 0 would give 1
    rows = critical_lines(EDGE)
    assert rows[0][0] == 0.0 and rows[0][1] * math.sqrt(width) == pytest.approx(1.0, abs=2e-3)
    # The line bends to larger weights as σ_b grows; the thresholds lie on either side of it.
    criticals = [row[1] for row in rows]
    assert criticals == sorted(criticals)
    assert all(low < critical < high for _, critical, low, high in rows)


def test_measured_cells_vanish_left_of_the_line_and_explode_right_of_it():
    sigma_b = 0.05
    critical = critical_weight_std(cell_config(EDGE, 0.1, sigma_b), EDGE.x.low, EDGE.x.high)
    stds = [critical * f for f in (0.5, 0.9, 1.0, 1.2, 3.0)]
    cells = run_cells([(i, cell_config(EDGE, std, sigma_b)) for i, std in enumerate(stds)])
    assert [c["verdict"] for c in cells] == [
        "vanishing", "healthy", "healthy", "healthy", "exploding"
    ]  # fmt: skip
    decades = [c["log10_ratio"] for c in cells]
    assert decades == sorted(decades) and decades[1] < 0 < decades[3]


# --- batched phase cells ---------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["tanh-edge-of-chaos", "tanh-edge-of-chaos-bias"])
def test_batched_cells_are_simulate_cells(preset):
    small = PhasePreset(
        "small", "", "", dict(PHASE_PRESETS[preset].base, width=16, batch_size=8),
        PHASE_PRESETS[preset].x, PHASE_PRESETS[preset].y, None,
    )  # fmt: skip
    cells = phase_cells(small, 3)
    batched = run_cells(cells)
    for (index, config), cell in zip(cells, batched, strict=True):
        alone = cell_summary(simulate(config))
        assert cell["index"] == index and cell["verdict"] == alone["verdict"]
        assert cell["chi1"] == pytest.approx(alone["chi1"], rel=1e-12)
        if alone["log10_ratio"] is None:
            assert cell["log10_ratio"] is None
        else:
            assert cell["log10_ratio"] == pytest.approx(alone["log10_ratio"], abs=1e-4)


def test_a_batch_job_mixes_batched_and_single_cells_and_brings_the_lines():
    residual = phase_cells(PHASE_PRESETS["residual-scale"], 3)[:2]
    edge = phase_cells(EDGE, 3)[:2]
    mixed = [(i, c) for i, (_, c) in enumerate(residual + edge)]
    status, result = run_job("phase_cells", {"cells": mixed, "theory": EDGE.name})
    assert status == "done"
    assert [c["index"] for c in result["cells"]] == [0, 1, 2, 3]
    assert result["theory"] == critical_lines(EDGE)
    # A phase batch is its own job kind: the simulate kind takes configs only.
    assert run_job("simulate", {"job": "phase_cells", "cells": []})[0] == "invalid"


# --- training: the backward signal per layer, sampled over steps -------------------------------


def test_training_records_each_layers_backward_signal_like_the_probe():
    result = simulate({"kind": "mlp", "activation": "sigmoid", "depth": 12, "train_steps": 3})
    training, layers = result["training"], result["layers"]
    assert training["layer_signal_steps"] == [1, 2, 3]
    assert [len(row) for row in training["layer_backward_signals"]] == [len(layers)] * 3
    first = training["layer_backward_signals"][0]
    # A fresh batch, the same network: the same decades of vanishing as the probe's chart.
    probe = math.log10(layers[0]["backward_signal"] / result["summary"]["output_signal"])
    trained = math.log10(first[0] / training["output_signals"][0])
    assert probe < -3 and trained == pytest.approx(probe, abs=0.5)
