"""Config validation: every rejected config names the field and says what is allowed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from quizapp.sim import LIMITS, SimConfigError, validate_config


def rejects(config: dict, field: str, *fragments: str) -> SimConfigError:
    with pytest.raises(SimConfigError) as caught:
        validate_config(config)
    error = caught.value
    assert error.field == field, str(error)
    for fragment in fragments:
        assert fragment in str(error), str(error)
    assert isinstance(error, ValueError)
    return error


def test_defaults_fill_every_field():
    config = validate_config({"kind": "mlp"})
    assert config == {
        "kind": "mlp", "depth": 10, "width": 64, "activation": "relu", "init": "default",
        "init_std": None, "norm": "none", "norm_position": None, "heads": None,
        "skip_every": None, "residual_scale": None,
        "forget_bias": None, "jacobian_spectrum": "auto", "batch_size": 64, "seq_len": None,
        "loss": "mse", "seed": 0,
        "task": "teacher", "train_steps": 0, "optimizer": "sgd", "lr": 0.01,
    }  # fmt: skip


def test_kind_specific_defaults():
    assert validate_config({"kind": "rnn"})["activation"] == "tanh"
    assert validate_config({"kind": "rnn"})["depth"] == 1
    assert validate_config({"kind": "lstm"})["seq_len"] == 50
    assert validate_config({"kind": "lstm"})["activation"] is None
    residual = validate_config({"kind": "residual_mlp"})
    assert (residual["skip_every"], residual["residual_scale"]) == (1, 1.0)
    assert validate_config({"kind": "mlp", "optimizer": "adam"})["lr"] == 0.001
    assert validate_config({"kind": "mlp", "init": "normal"})["init_std"] == 0.01


def test_transformer_defaults_follow_the_issue_vocabulary():
    config = validate_config({"kind": "transformer"})
    assert {k: config[k] for k in ("depth", "width", "heads", "seq_len", "activation")} == {
        "depth": 6, "width": 64, "heads": 4, "seq_len": 16, "activation": "gelu",
    }  # fmt: skip
    assert (config["norm"], config["norm_position"], config["residual_scale"]) == (
        "layer", "pre", 1.0,
    )  # fmt: skip
    assert config["skip_every"] is None and config["forget_bias"] is None
    # Without a norm there is nothing to place: both positions are the same network.
    none = validate_config({"kind": "transformer", "norm": "none", "norm_position": "post"})
    assert none["norm_position"] is None
    assert none == validate_config({"kind": "transformer", "norm": "none"})


def test_a_transformer_over_the_memory_budget_is_refused_with_what_to_reduce():
    # Attention keeps batch · heads · seq_len² weights per block: long sequences dominate.
    config = {"kind": "transformer", "depth": 4, "width": 64, "heads": 64, "seq_len": 500,
              "batch_size": 64}  # fmt: skip
    with pytest.raises(SimConfigError) as caught:
        validate_config(config)
    suggested = int(caught.value.message.split("seq_len to ")[1].split()[0])
    assert 2 <= suggested < 500
    assert validate_config(dict(config, seq_len=suggested))["seq_len"] == suggested
    with pytest.raises(SimConfigError):
        validate_config(dict(config, seq_len=suggested + 1))
    # A width suggestion is always a multiple of the head count.
    with pytest.raises(SimConfigError) as caught:
        validate_config({"kind": "transformer", "depth": 24, "width": 1024, "heads": 8,
                         "seq_len": 16, "batch_size": 32})  # fmt: skip
    width = int(caught.value.message.split("width to ")[1].split()[0])
    assert width % 8 == 0


def test_normalisation_is_idempotent_and_accepts_shorthands():
    config = validate_config({"kind": " MLP ", "init": "normal_0.5", "depth": 12.0})
    assert (config["kind"], config["init"], config["init_std"], config["depth"]) == (
        "mlp", "normal", 0.5, 12,
    )  # fmt: skip
    assert validate_config(config) == config


def test_none_means_default():
    assert validate_config({"kind": "mlp", "depth": None}) == validate_config({"kind": "mlp"})


def test_validation_does_not_import_torch():
    code = (
        "import sys; from quizapp.sim import validate_config, format_result_table; "
        "validate_config({'kind': 'lstm'}); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("config", "field", "fragments"),
    [
        ("mlp", "config", ["mapping"]),
        ({}, "kind", ["required", "residual_mlp"]),
        (
            {"kind": "mamba"},
            "kind",
            ["mamba", "mlp, residual_mlp, cnn, rnn, lstm, gru, transformer"],
        ),
        ({"kind": "transformer", "width": 30, "heads": 4}, "heads", ["multiple of heads 4"]),
        ({"kind": "transformer", "heads": 0}, "heads", ["at least 1"]),
        ({"kind": "transformer", "norm": "batchnorm"}, "norm", ["layer", "none"]),
        ({"kind": "transformer", "norm_position": "middle"}, "norm_position", ["pre", "post"]),
        ({"kind": "mlp", "heads": 4}, "heads", ["transformer"]),
        ({"kind": "mlp", "norm_position": "pre"}, "norm_position", ["transformer"]),
        ({"kind": "transformer", "skip_every": 2}, "skip_every", ["residual_mlp"]),
        ({"kind": "transformer", "task": "spirals"}, "task", ["teacher"]),
        ({"kind": 3}, "kind", ["string"]),
        ({"kind": "mlp", "depht": 3, "colour": 1}, "colour", ["colour", "depht", "allowed"]),
        ({"kind": "mlp", "depth": "abc"}, "depth", ["integer", "'abc'"]),
        ({"kind": "mlp", "depth": True}, "depth", ["integer", "bool"]),
        ({"kind": "mlp", "depth": 3.5}, "depth", ["whole number"]),
        ({"kind": "mlp", "depth": 1}, "depth", ["at least 2"]),
        ({"kind": "mlp", "depth": 201}, "depth", ["limit of 200", "reduce it to 200"]),
        ({"kind": "mlp", "width": 2048}, "width", ["limit of 1024", "reduce"]),
        ({"kind": "mlp", "batch_size": 513}, "batch_size", ["limit of 512"]),
        ({"kind": "mlp", "batch_size": 0}, "batch_size", ["at least 1"]),
        ({"kind": "rnn", "seq_len": 501}, "seq_len", ["limit of 500"]),
        ({"kind": "rnn", "seq_len": 1}, "seq_len", ["at least 2"]),
        ({"kind": "mlp", "train_steps": 1001}, "train_steps", ["limit of 1000"]),
        ({"kind": "mlp", "activation": "swish"}, "activation", ["swish", "gelu", "silu"]),
        ({"kind": "mlp", "activation": None, "init": "kaiming"}, "init", ["he_normal"]),
        ({"kind": "mlp", "init": "normal", "init_std": 0}, "init_std", ["above 0"]),
        ({"kind": "mlp", "init": "normal", "init_std": float("nan")}, "init_std", ["finite"]),
        (
            {"kind": "mlp", "init": "he_normal", "init_std": 0.1},
            "init_std",
            ["only to init 'normal'"],
        ),
        ({"kind": "mlp", "init": "normal_abc"}, "init", ["normal_abc"]),
        ({"kind": "mlp", "init": "normal_0.1", "init_std": 0.1}, "init_std", ["twice"]),
        ({"kind": "mlp", "norm": "groupnorm"}, "norm", ["batchnorm", "layernorm"]),
        ({"kind": "mlp", "norm": "batchnorm", "batch_size": 1}, "batch_size", ["at least 2"]),
        ({"kind": "mlp", "skip_every": 2}, "skip_every", ["residual_mlp"]),
        ({"kind": "residual_mlp", "depth": 5, "skip_every": 5}, "skip_every", ["limit of 4"]),
        ({"kind": "residual_mlp", "residual_scale": -1}, "residual_scale", ["at least 0"]),
        ({"kind": "mlp", "forget_bias": 1.0}, "forget_bias", ["lstm"]),
        ({"kind": "gru", "forget_bias": 1.0}, "forget_bias", ["lstm"]),
        ({"kind": "lstm", "activation": "relu"}, "activation", ["does not apply", "lstm"]),
        ({"kind": "lstm", "norm": "batchnorm"}, "norm", ["does not apply"]),
        ({"kind": "mlp", "seq_len": 10}, "seq_len", ["rnn, lstm, gru"]),
        ({"kind": "mlp", "loss": "hinge"}, "loss", ["mse", "cross_entropy"]),
        ({"kind": "mlp", "seed": -1}, "seed", ["at least 0"]),
        ({"kind": "cnn", "task": "spirals"}, "task", ["spirals", "teacher"]),
        ({"kind": "mlp", "optimizer": "rmsprop"}, "optimizer", ["sgd", "adam"]),
        ({"kind": "mlp", "lr": 0}, "lr", ["above 0"]),
        ({"kind": "mlp", "lr": "fast"}, "lr", ["number"]),
    ],
)
def test_rejected_configs_name_the_field(config, field, fragments):
    rejects(config, field, *fragments)


def test_allowed_values_are_listed_on_the_error():
    error = rejects({"kind": "mlp", "activation": "swish"}, "activation")
    assert error.allowed is not None and "relu" in error.allowed
    assert error.message.startswith("unknown value")


def test_over_budget_configs_are_refused_with_what_to_reduce():
    # Within every hard cap, but far too much work together.
    config = {"kind": "mlp", "depth": 200, "width": 1024, "batch_size": 512}
    error = rejects(config, "depth", "budget", "reduce depth to")
    # No batch size alone would do: 200 layers of 1024 x 1024 weights exceed the memory
    # budget whatever the batch (sim/memory.py), so it is not suggested.
    assert "width to" in error.message and "batch_size to" not in error.message
    # The suggestions really fit.
    for field in ("depth", "width"):
        suggested = int(error.message.split(f" {field} to ")[1].split()[0])
        validate_config(dict(config, **{field: suggested}))


def test_training_steps_count_towards_the_budget():
    config = {"kind": "mlp", "depth": 30, "width": 256, "batch_size": 256}
    validate_config(config)
    with pytest.raises(SimConfigError) as caught:
        validate_config(dict(config, train_steps=1000))
    assert "budget" in caught.value.message and " train_steps to " in caught.value.message
    suggested = int(caught.value.message.split(" train_steps to ")[1].split()[0])
    validate_config(dict(config, train_steps=suggested))


def test_limits_are_published():
    assert LIMITS == {
        "depth": 200, "width": 1024, "batch_size": 512, "seq_len": 500, "train_steps": 1000,
        "heads": 64,
    }  # fmt: skip


def test_config_schema_describes_every_field_with_defaults_validate_config_uses():
    import json

    from quizapp.sim.schema import FIELD_DEFAULTS, config_schema

    schema = config_schema()
    json.dumps(schema, allow_nan=False)
    by_name = {field["name"]: field for field in schema["fields"]}
    # Every field but those left out at their default (bias_std 0: old configs keep their key).
    assert set(by_name) == set(validate_config({"kind": "mlp"})) | set(FIELD_DEFAULTS)
    for field in schema["fields"]:
        assert field["label"] and field["help"]
        for kind, default in field["default"].items():
            normalised = validate_config({"kind": kind})
            assert normalised.get(field["name"], FIELD_DEFAULTS.get(field["name"])) == default
    assert by_name["heads"]["kinds"] == ["transformer"]
    assert by_name["norm"]["choices"]["transformer"] == ["layer", "none"]
    assert by_name["norm"]["choices"]["mlp"] == ["none", "batchnorm", "layernorm"]
    assert by_name["activation"]["default"]["transformer"] == "gelu"
    assert [k["name"] for k in schema["kinds"]][-1] == "transformer"
    # Every choice offered for a kind is one validate_config accepts for that kind.
    for field in schema["fields"]:
        for kind, choices in (field.get("choices") or {}).items():
            if field["name"] == "kind":
                continue
            for value in choices:
                extra = {"norm": "layer"} if field["name"] == "norm_position" else {}
                validate_config({"kind": kind, field["name"]: value, **extra})
