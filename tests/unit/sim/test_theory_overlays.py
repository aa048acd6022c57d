"""Theory beside measurement for every kind it covers, and honest flags where it does not.

Stated tolerance: where a theory says it applies, its predicted decades are within 0.3 of the
measurement at width ≥ 128 (bench/bench_theory.py prints the whole agreement table).
"""

from __future__ import annotations

import math

import pytest

from quizapp.sim import simulate

SEEDS = [0, 1, 2]
TOLERANCE_DECADES = 0.3

COVERED = [
    # Batch norm: E[φ'²]/Var φ per layer, E[φ'²]/E[x²] for the first (Yang et al. 2019).
    {"kind": "mlp", "activation": "tanh", "init": "he_normal", "depth": 30, "norm": "batchnorm",
     "width": 256},
    {"kind": "mlp", "activation": "sigmoid", "init": "he_normal", "depth": 30,
     "norm": "batchnorm", "width": 256},
    # Layer norm: E[φ'²]/E[φ²].
    {"kind": "mlp", "activation": "relu", "init": "he_normal", "depth": 20, "norm": "layernorm",
     "width": 256},
    {"kind": "mlp", "activation": "tanh", "init": "default", "depth": 30, "norm": "layernorm",
     "width": 256},
    # Residual recursions (Yang & Schoenholz 2017).
    {"kind": "residual_mlp", "activation": "relu", "init": "he_normal", "depth": 30,
     "residual_scale": 0.2},
    {"kind": "residual_mlp", "activation": "tanh", "init": "xavier_normal", "depth": 30},
    {"kind": "residual_mlp", "activation": "relu", "init": "he_normal", "depth": 30,
     "norm": "layernorm"},
    # CNN with zero padding.
    {"kind": "cnn", "activation": "relu", "init": "default", "depth": 10, "batch_size": 16},
    {"kind": "cnn", "activation": "relu", "init": "he_normal", "depth": 10, "batch_size": 16},
    # Vanilla RNN, annealed.
    {"kind": "rnn", "activation": "tanh", "init": "xavier_normal", "seq_len": 30, "width": 256},
    {"kind": "rnn", "activation": "tanh", "init": "normal", "init_std": 1.5 / math.sqrt(256),
     "seq_len": 20, "width": 256},
]  # fmt: skip


def run(**config):
    return simulate(dict({"kind": "mlp", "width": 128, "batch_size": 64}, **config))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("config", COVERED, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_covered_overlays_agree_within_the_stated_tolerance(config, seed):
    theory = run(seed=seed, **config)["theory"]
    assert theory["covered"] is True, theory["note"]
    assert abs(theory["predicted_decades"] - theory["measured_decades"]) <= TOLERANCE_DECADES
    series = theory["predicted_log10_signal"]
    assert series[-1] == 0.0 and series[0] == pytest.approx(theory["predicted_decades"])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_batch_norm_first_layer_reads_the_input_not_phis_output(activation, seed):
    # The first layer's squared factor is E[φ'²]/E[x²], not the rate E[φ'²]/Var φ of the
    # layers that read φ's output (ReLU: 1/2 against π/(π−1)).
    result = run(activation=activation, init="he_normal", depth=30, norm="batchnorm", seed=seed)
    theory = result["theory"]
    signals = [layer["backward_signal"] for layer in result["layers"]]
    first = (signals[0] / signals[1]) ** 2
    assert first == pytest.approx(theory["first_layer_rate"], rel=0.1)
    assert abs(math.log(first / theory["rate_per_layer"])) > 0.5


@pytest.mark.parametrize("seed", SEEDS)
def test_cnn_zero_padding_is_what_makes_the_prediction_right(seed):
    # Without the border the per-layer factor would be the mlp's χ; the image-wide one is
    # smaller because edge and corner pixels read 6 and 4 taps of 9.
    result = run(kind="cnn", activation="relu", init="default", depth=10, batch_size=16, seed=seed)
    theory = result["theory"]
    interior_only = 9 * 0.5 * math.log10(1.0 / 6.0)  # σ_w² E[φ'²] = (1/3)(1/2)
    error = abs(theory["predicted_decades"] - theory["measured_decades"])
    assert error < 0.1
    assert abs(interior_only - theory["measured_decades"]) > error + 0.1


@pytest.mark.parametrize("seed", SEEDS)
def test_softplus_with_he_init_is_flagged_where_gradient_independence_fails(seed):
    theory = run(activation="softplus", init="he_normal", depth=50, seed=seed)["theory"]
    assert theory["covered"] is False
    assert "gradient independence fails" in theory["not_applicable_reason"]
    assert theory["predicted_decades"] is None and theory["theory_decades"] is not None
    assert "does not apply" in theory["note"]


def test_small_width_is_flagged_and_wide_enough_is_not():
    narrow = run(activation="relu", init="he_normal", depth=40, width=16)["theory"]
    # At width 128 and depth 50 the fluctuation is ±0.3 decades (1 sd): no longer claimed.
    assert run(activation="relu", init="he_normal", depth=50)["theory"]["covered"] is False
    wide = run(activation="relu", init="he_normal", depth=10, width=256)["theory"]
    assert narrow["covered"] is False and "width 16" in narrow["not_applicable_reason"]
    assert wide["covered"] is True


@pytest.mark.parametrize("seed", SEEDS)
def test_finite_width_band_contains_the_measurement(seed):
    # Hanin 2018: the log of the squared signal is about normal, variance Σ κ_l / width.
    theory = run(activation="relu", init="he_normal", depth=20, width=256, seed=seed)["theory"]
    band = theory["finite_width_band"]
    assert band["low"][0] <= theory["measured_decades"] <= band["high"][0]
    assert band["high"][0] - band["low"][0] == pytest.approx(4 * band["sd_decades"], rel=1e-6)
    assert band["sd_decades"] == pytest.approx(math.sqrt(19 * 5 / 256) / (2 * math.log(10)))


# --- Jacobian spectrum ---------------------------------------------------------------------


def spectrum(**config):
    config = dict({"kind": "mlp", "batch_size": 8, "jacobian_spectrum": "exact"}, **config)
    return simulate(config)["probes"]["jacobian_spectrum"]


def test_deep_linear_orthogonal_network_is_an_exact_isometry():
    # Saxe et al. 2014: every singular value of a product of orthogonal matrices is 1.
    found = spectrum(depth=30, width=64, activation="linear", init="orthogonal")
    assert found["computed"] is True
    # float32 weights: orthogonal to about 1e-7 each, 29 of them.
    assert found["max_singular_value"] == pytest.approx(1.0, abs=1e-5)
    assert found["min_singular_value"] == pytest.approx(1.0, abs=1e-5)
    assert len(found["singular_values"]) == found["examples"] * 64


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("width", [16, 128])
def test_orthogonal_tanh_is_near_isometry_and_gaussian_is_not(seed, width):
    # Pennington, Schoenholz & Ganguli 2017: at σ_w² = 1 (tanh's edge of chaos), orthogonal
    # weights keep the singular values together; Gaussian weights of the same scale spread
    # them over many decades (the mean square is the same).
    orthogonal = spectrum(depth=30, width=width, activation="tanh", init="orthogonal", seed=seed)
    gaussian = spectrum(depth=30, width=width, activation="tanh", init="lecun_normal", seed=seed)
    assert orthogonal["log10_std"] < 0.35 * gaussian["log10_std"]
    assert orthogonal["spread_decades"] < 0.5 * gaussian["spread_decades"]


@pytest.mark.parametrize("seed", SEEDS)
def test_spectrum_mean_square_follows_mean_field(seed):
    # The mean squared singular value is ‖J‖_F² / width = Π χ_l in expectation.
    result = simulate({"kind": "mlp", "depth": 20, "width": 128, "activation": "tanh",
                       "init": "xavier_normal", "seed": seed, "batch_size": 8,
                       "jacobian_spectrum": "exact"})  # fmt: skip
    found = result["probes"]["jacobian_spectrum"]
    predicted = 2 * result["theory"]["theory_decades"]  # squared norm, in decades
    assert abs(math.log10(found["mean_squared_singular_value"]) - predicted) < 0.5


def test_relu_spectrum_has_a_wide_spread_and_the_histogram_counts_every_value():
    found = spectrum(depth=30, width=64, activation="relu", init="he_normal")
    histogram = found["histogram"]
    positive = [v for v in found["singular_values"] if v > 0]
    assert sum(histogram["counts"]) == len(positive)
    assert len(histogram["log10_edges"]) == len(histogram["counts"]) + 1
    assert math.log10(max(positive) / min(positive)) > 2


def test_spectrum_says_why_it_is_not_computed():
    assert spectrum(depth=4, width=512)["reason"].startswith("computed up to width")
    assert "couples the examples" in spectrum(depth=4, width=16, norm="batchnorm")["reason"]
    assert "jacobian_spectrum" not in simulate({"kind": "cnn", "depth": 3, "width": 4})["probes"]
    assert "switched off" in spectrum(depth=4, width=16, jacobian_spectrum="off")["reason"]
    # auto: computed where it is cheap beside the probe, not where it would dominate it.
    assert spectrum(depth=4, width=16, batch_size=64, jacobian_spectrum="auto")["computed"]
    costly = spectrum(depth=30, width=128, batch_size=8, jacobian_spectrum="auto")
    assert costly["computed"] is False and "jacobian_spectrum: exact" in costly["reason"]


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gated_cells_get_an_annealed_estimate_that_is_not_claimed(kind):
    result = simulate({"kind": kind, "width": 64, "seq_len": 8, "batch_size": 16})
    theory = result["theory"]
    assert theory["model"] == f"annealed_{kind}"
    assert theory["covered"] is False and "estimate" in theory["not_applicable_reason"]
    # Same sign and within a factor of 1.5 of the measured decades.
    assert theory["theory_decades"] < 0 and theory["measured_decades"] < 0
    assert 1 / 1.5 < theory["theory_decades"] / theory["measured_decades"] < 1.5
