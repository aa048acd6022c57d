"""The shape, determinism and hygiene of `simulate` results, training runs and the report."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from quizapp.sim import SIMULATOR_VERSION, SimConfigError, format_result_table, simulate
from quizapp.sim.activations import ACTIVATIONS
from quizapp.sim.config import KINDS
from quizapp.sim.inits import INITS

SMALL = {"depth": 4, "width": 16, "batch_size": 8}
LAYER_KEYS = {
    "index", "name", "backward_signal", "weight_grad_norm", "activation_mean",
    "activation_std", "dead_fraction", "saturated_fraction", "nonfinite",
}  # fmt: skip


def strip_timing(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "elapsed_ms"}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_gives_a_complete_json_result(kind):
    config = {"kind": kind, "width": 16, "batch_size": 8}
    config.update({"seq_len": 6, "depth": 2} if kind in ("rnn", "lstm", "gru") else {"depth": 4})
    if kind == "transformer":  # depth counts blocks of two sub-layers
        config.update(depth=2, seq_len=6)
    result = simulate(config)
    json.dumps(result, allow_nan=False)
    assert result["schema_version"] == 1
    assert result["simulator_version"] == SIMULATOR_VERSION
    assert result["config"]["kind"] == kind
    assert result["verdict"] in ("vanishing", "healthy", "exploding")
    for key in ("backward_signal_ratio", "weight_grad_ratio", "growth_factor_per_layer"):
        assert key in result["summary"]
    assert result["summary"]["has_nonfinite"] is False
    assert result["layers"][-1]["name"] == "readout"
    for layer in result["layers"]:
        assert set(layer) >= LAYER_KEYS
    recurrent = kind in ("rnn", "lstm", "gru")
    # Recurrent: 2 layers + readout; transformer: 2 blocks of 2 sub-layers + readout.
    assert len(result["layers"]) == {"rnn": 3, "lstm": 3, "gru": 3, "transformer": 5}.get(kind, 4)
    if recurrent:
        steps = result["layers"][0]["steps"]
        assert [s["t"] for s in steps] == list(range(1, 7))
    assert {"covered", "chi1", "predicted_decades", "note"} <= set(result["theory"])
    assert result["training"] is None
    assert result["notes"] and all(isinstance(n, str) and n for n in result["notes"])
    assert result["elapsed_ms"] > 0


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_runs(activation):
    result = simulate({"kind": "mlp", "activation": activation, **SMALL})
    theory = result["theory"]
    # Mean field covers every activation except where it says why it does not apply.
    assert theory["covered"] is (theory["not_applicable_reason"] is None)
    assert theory["theory_decades"] is not None
    family = ACTIVATIONS[activation].family
    hidden = result["layers"][0]
    assert (hidden["dead_fraction"] is not None) == (family == "relu")
    assert (hidden["saturated_fraction"] is not None) == (family == "saturating")


@pytest.mark.parametrize("init", sorted(INITS))
def test_every_init_runs_on_feedforward_and_recurrent_kinds(init):
    for kind in ("mlp", "cnn", "lstm"):
        config = {"kind": kind, "init": init, "width": 16, "batch_size": 4}
        config.update({"seq_len": 4} if kind == "lstm" else {"depth": 3})
        json.dumps(simulate(config), allow_nan=False)


def test_default_init_keeps_pytorch_biases_and_other_inits_zero_them():
    from quizapp.sim.config import validate_config
    from quizapp.sim.networks import build_network

    torch.manual_seed(0)
    default = build_network(validate_config({"kind": "mlp", "depth": 3, "width": 8}))
    he = build_network(
        validate_config({"kind": "mlp", "depth": 3, "width": 8, "init": "he_normal"})
    )
    biases = [p for p in default.parameters if p.dim() == 1]
    assert all(b.abs().sum() > 0 for b in biases)
    assert all(p.abs().sum() == 0 for p in he.parameters if p.dim() == 1)


def test_recurrent_init_applies_per_gate_block():
    from quizapp.sim.config import validate_config
    from quizapp.sim.networks import build_network

    net = build_network(validate_config({"kind": "lstm", "width": 8, "init": "orthogonal"}))
    w_hh = net.layer_weights[0][1].detach()
    for block in w_hh.split(8):
        assert torch.allclose(block @ block.T, torch.eye(8), atol=1e-5)


def test_forget_bias_sets_the_lstm_forget_gate():
    from quizapp.sim.config import validate_config
    from quizapp.sim.networks import build_network

    net = build_network(validate_config({"kind": "lstm", "width": 8, "forget_bias": 3.0}))
    b_ih, b_hh = (p for p in net.parameters if p.dim() == 1 and p.shape[0] == 32)
    assert torch.all(b_ih[8:16] + b_hh[8:16] == 3.0)


def test_residual_blocks_with_a_shorter_last_block():
    result = simulate({"kind": "residual_mlp", "depth": 8, "skip_every": 3, **SMALL} | {"depth": 8})
    names = [layer["name"] for layer in result["layers"]]
    assert names == [
        "block1.fc1", "block1.fc2", "block1.fc3", "block2.fc1", "block2.fc2", "block2.fc3",
        "block3.fc1", "readout",
    ]  # fmt: skip


def test_residual_scale_zero_leaves_only_the_identity_path():
    # With the branches switched off the gradient reaching the input equals the readout's.
    result = simulate({"kind": "residual_mlp", "residual_scale": 0.0, **SMALL})
    layers = result["layers"]
    assert layers[0]["backward_signal"] == pytest.approx(layers[-1]["backward_signal"])


def test_same_config_and_seed_give_identical_numbers():
    config = {"kind": "lstm", "seq_len": 10, "width": 16, "batch_size": 8, "train_steps": 3}
    assert strip_timing(simulate(config)) == strip_timing(simulate(config))
    mlp = {"kind": "mlp", "init": "he_uniform", "norm": "batchnorm", **SMALL}
    assert strip_timing(simulate(mlp)) == strip_timing(simulate(mlp))
    other_seed = simulate(dict(mlp, seed=1))
    assert other_seed["layers"] != simulate(mlp)["layers"]


def test_simulation_restores_threads_and_global_rng():
    threads = torch.get_num_threads()
    rng = torch.random.get_rng_state()
    simulate({"kind": "mlp", **SMALL})
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), rng)


def test_simulation_runs_inside_no_grad():
    with torch.no_grad():
        result = simulate({"kind": "mlp", **SMALL})
    assert result["layers"][0]["backward_signal"] > 0


def test_a_bad_config_is_a_validation_error_raised_before_torch_is_imported():
    code = (
        "import sys\n"
        "from quizapp.sim import simulate, SimConfigError\n"
        "try:\n"
        "    simulate({'kind': 'mlp', 'depth': 'abc'})\n"
        "except SimConfigError as e:\n"
        "    print(e.field, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["depth", "False"]
    with pytest.raises(SimConfigError):
        simulate({"kind": "mlp", "width": 10_000})


def test_training_shows_that_early_layers_do_not_learn_when_the_gradient_vanished():
    config = {"kind": "mlp", "depth": 12, "width": 32, "batch_size": 16, "train_steps": 20}
    vanishing = simulate(dict(config, activation="sigmoid"))
    healthy = simulate(dict(config, activation="relu", init="he_normal"))
    for result in (vanishing, healthy):
        training = result["training"]
        assert training["steps_completed"] == 20 and len(training["loss"]) == 20
        assert len(training["update_ratio_per_layer"]) == 12
    ratios = vanishing["training"]["update_ratio_per_layer"]
    assert ratios[0] < 1e-4 * ratios[-1]
    healthy_ratios = healthy["training"]["update_ratio_per_layer"]
    assert healthy_ratios[0] > 0.05 * healthy_ratios[-1]
    assert any("first layer" in note for note in vanishing["notes"])


def test_training_on_spirals_reduces_the_loss():
    result = simulate(
        {
            "kind": "residual_mlp", "depth": 4, "width": 32, "init": "he_normal",
            "residual_scale": 0.5, "task": "spirals", "loss": "cross_entropy",
            "optimizer": "adam", "lr": 0.01, "train_steps": 150, "batch_size": 64,
        }
    )  # fmt: skip
    losses = result["training"]["loss"]
    assert sum(losses[-10:]) / 10 < 0.8 * sum(losses[:10]) / 10


def test_training_that_diverges_stops_and_says_so():
    result = simulate(
        {"kind": "mlp", "depth": 8, "width": 64, "init": "normal", "init_std": 0.5,
         "train_steps": 50, "lr": 1.0, "batch_size": 8}
    )  # fmt: skip
    training = result["training"]
    assert training["diverged"] is True
    assert training["steps_completed"] < 50
    assert training["loss"][-1] is None  # the non-finite loss, made JSON-safe
    json.dumps(result, allow_nan=False)


def test_theory_is_honest_about_what_it_does_not_cover():
    cnn = simulate({"kind": "cnn", "norm": "batchnorm", **SMALL})
    assert cnn["theory"]["covered"] is False
    assert cnn["theory"]["note"].startswith("Theory does not cover this")
    lstm = simulate({"kind": "lstm", "width": 8, "seq_len": 4, "batch_size": 4})
    assert lstm["theory"]["covered"] is False
    # Layer norm's rate is a large-width limit: at width 16 it says so.
    layer_norm = simulate({"kind": "mlp", "norm": "layernorm", **SMALL})
    assert layer_norm["theory"]["covered"] is False
    assert "Theory does not apply here" in layer_norm["theory"]["note"]
    assert layer_norm["theory"]["theory_decades"] is not None
    rnn = simulate({"kind": "rnn", "width": 16, "seq_len": 5, "init": "normal", "init_std": 0.01})
    assert rnn["theory"]["largest_singular_value"] < 1.0
    assert "sufficient" in rnn["theory"]["note"]


def test_report_renders_a_table_with_log_scale_bars():
    result = json.loads(json.dumps(simulate({"kind": "mlp", "activation": "sigmoid", **SMALL})))
    text = format_result_table(result)
    assert "Verdict: VANISHING" in text or "Verdict: HEALTHY" in text
    for layer in result["layers"]:
        assert layer["name"] in text
    bars = [line for line in text.splitlines() if "█" in line]
    assert len(bars) == len(result["layers"])
    # Log scale: the layer with the largest signal has the longest bar.
    lengths = [line.count("█") for line in bars]
    signals = [layer["backward_signal"] for layer in result["layers"]]
    assert lengths.index(max(lengths)) == signals.index(max(signals))
    assert "log10 scale" in text


def test_report_shows_time_steps_and_training_and_nonfinite_values():
    recurrent = simulate({"kind": "rnn", "width": 16, "seq_len": 60, "train_steps": 2})
    text = format_result_table(recurrent)
    assert "‖∂L/∂h_t‖ through time" in text and "Training:" in text
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "through time" in line) + 2
    step_rows = lines[start : start + 26]
    assert step_rows[0].split()[0] == "1" and step_rows[24].split()[0] == "60"
    assert "log10 scale" in step_rows[25]  # 25 rows, first and last step included
    exploding = simulate(
        {"kind": "mlp", "depth": 60, "width": 512, "init": "normal", "init_std": 1.0,
         "batch_size": 4}
    )  # fmt: skip
    assert "non-finite" in format_result_table(exploding)
