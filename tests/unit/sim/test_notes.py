"""The sentences a learner reads must be true: each test pins one fact about the notes."""

from __future__ import annotations

import math

import pytest

from quizapp.sim import simulate

SEEDS = [0, 1, 2]


def notes_of(**config) -> list[str]:
    return simulate(dict(config, batch_size=config.get("batch_size", 32)))["notes"]


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_zero_init_is_explained_by_the_weights_being_zero(activation):
    notes = notes_of(kind="mlp", depth=6, width=16, activation=activation, init="zeros")
    first = notes[0]
    assert "exactly zero" in first and "weights themselves are zero" in first
    assert "underflow" not in first.split("This is not")[0]
    assert "born dead" not in first


def test_zero_recurrent_weights_are_explained_as_no_path_through_time():
    first = notes_of(kind="rnn", width=8, seq_len=6, init="zeros")[0]
    assert "W_hh are exactly zero" in first


@pytest.mark.parametrize("seed", SEEDS)
def test_selu_units_negative_for_the_batch_are_not_said_to_pass_little(seed):
    notes = notes_of(kind="mlp", depth=30, width=4, activation="selu", init="lecun_normal",
                     seed=seed)  # fmt: skip
    negative = [note for note in notes if "negative for every example" in note]
    assert negative, notes
    assert "1.76" in negative[0]
    assert "only a small gradient" not in negative[0]


def test_relu_dead_units_pass_no_gradient():
    notes = notes_of(kind="mlp", depth=30, width=4, activation="relu", init="he_normal", seed=1)
    assert any("slope there is exactly 0" in note for note in notes)


@pytest.mark.parametrize("seed", SEEDS)
def test_an_exploding_residual_network_is_not_told_to_add_skip_connections(seed):
    result = simulate(
        {"kind": "residual_mlp", "depth": 40, "width": 32, "activation": "relu",
         "init": "he_normal", "seed": seed, "batch_size": 16}
    )  # fmt: skip
    assert result["verdict"] == "exploding"
    remedy = result["notes"][-1]
    assert "already has skip connections" in remedy
    assert "1/√L" in remedy and "zero" in remedy and "normalise inside the branch" in remedy
    plain = simulate({"kind": "mlp", "depth": 20, "width": 32, "activation": "relu",
                      "init": "normal", "init_std": 1.0, "batch_size": 16})  # fmt: skip
    assert plain["verdict"] == "exploding"
    assert "skip connections" in plain["notes"][-1]
    assert "already has" not in plain["notes"][-1]


def test_weight_gradient_paragraph_only_where_it_would_mislead():
    healthy = notes_of(kind="mlp", depth=10, width=64, activation="relu", init="he_normal")
    assert not any("Du, Hu & Lee" in note for note in healthy)
    hidden = notes_of(kind="mlp", depth=40, width=128, activation="relu", init="xavier_normal")
    assert any("Du, Hu & Lee" in note and "would say healthy" in note for note in hidden)
    # Recurrent kinds: the paragraph speaks of ∂L/∂h_t and why W_hh's gradient stays large.
    recurrent = notes_of(kind="rnn", width=32, seq_len=50, init="normal", init_std=0.05)
    paragraph = [note for note in recurrent if "weight-gradient ratio is" in note]
    assert paragraph and "∂L/∂h_t" in paragraph[0] and "Du, Hu & Lee" not in paragraph[0]


def test_spirals_inputs_are_not_taken_as_unit_variance():
    result = simulate({"kind": "mlp", "depth": 8, "width": 128, "activation": "tanh",
                       "init": "xavier_normal", "task": "spirals"})  # fmt: skip
    theory = result["theory"]
    assert 0.35 < theory["input_mean_square"] < 0.6
    assert f"input's mean square {theory['input_mean_square']:.3g}" in theory["note"]
    teacher = simulate({"kind": "mlp", "depth": 8, "width": 128, "activation": "tanh",
                        "init": "xavier_normal"})["theory"]  # fmt: skip
    assert teacher["input_mean_square"] == pytest.approx(1.0, abs=0.05)


def test_the_product_has_depth_minus_one_factors():
    result = simulate({"kind": "mlp", "depth": 12, "width": 64, "activation": "relu",
                       "init": "xavier_normal"})  # fmt: skip
    theory = result["theory"]
    assert theory["layers_compared"] == 11
    assert theory["predicted_decades_at_fixed_point"] == pytest.approx(11 * 0.5 * math.log10(0.5))
    assert "Over 11 hidden layers" in theory["note"]
    from quizapp.sim import theory as theory_module

    assert "depth ·" not in theory_module.__doc__
    assert "(depth − 1) ·" in theory_module.__doc__
