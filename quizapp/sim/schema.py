"""The config fields as data, for forms and API clients. Pure Python: no torch import.

`config_schema()` describes every field of `validate_config`: label, help, type, allowed
values (per kind where they differ), range, default per kind and the kinds it applies to. The
defaults are read from `validate_config` itself, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from quizapp.sim.activations import ACTIVATIONS
from quizapp.sim.config import (
    _APPLIES_TO,
    DEFAULT_BIAS_STD,
    FIELDS,
    JACOBIAN_SPECTRUM,
    KINDS,
    LIMITS,
    LOSSES,
    NORM_POSITIONS,
    OPTIMIZERS,
    SIMULATOR_VERSION,
    validate_config,
)
from quizapp.sim.inits import INITS


@dataclass(frozen=True)
class FieldInfo:
    label: str
    help: str
    type: str  # "choice", "int" or "float"
    minimum: float | None = None
    maximum: float | None = None


FIELD_INFO: dict[str, FieldInfo] = {
    "kind": FieldInfo("Network", "The architecture to build.", "choice"),
    "depth": FieldInfo(
        "Depth",
        "Weight layers including the readout (mlp, residual_mlp, cnn); stacked recurrent "
        "layers (rnn, lstm, gru); blocks of attention + feed-forward (transformer).",
        "int", 1, LIMITS["depth"],
    ),
    "width": FieldInfo(
        "Width", "Hidden units; channels for cnn; d_model for transformer.", "int", 2,
        LIMITS["width"],
    ),
    "activation": FieldInfo(
        "Activation", "The nonlinearity (the feed-forward layer's, for a transformer).", "choice"
    ),
    "init": FieldInfo(
        "Initialisation",
        "default is PyTorch's own (nn.Linear, nn.Conv2d, nn.RNN/LSTM/GRU, "
        "nn.MultiheadAttention), biases included; every other scheme zeroes the biases.",
        "choice",
    ),
    "init_std": FieldInfo("Weight std", "Standard deviation for init normal.", "float", 0.0, 10.0),
    "bias_std": FieldInfo(
        "Bias std",
        "mlp, residual_mlp: biases drawn N(0, bias_std²) (any init but default); 0 (the "
        "default) zeroes them. With tanh it moves the edge of chaos (Poole et al. 2016).",
        "float", 0.0, 10.0,
    ),
    "norm": FieldInfo(
        "Normalisation",
        "Batch or layer norm after each linear layer (mlp, cnn); inside each residual branch "
        "(residual_mlp); layer norm or none around each sub-layer (transformer).",
        "choice",
    ),
    "norm_position": FieldInfo(
        "Norm position",
        "Transformer: pre-LN normalises each branch's input, post-LN the stream after each "
        "addition (Xiong et al. 2020). Ignored without a norm.",
        "choice",
    ),
    "heads": FieldInfo(
        "Attention heads", "Transformer: heads per attention layer; must divide the width.",
        "int", 1, LIMITS["heads"],
    ),
    "skip_every": FieldInfo(
        "Layers per residual branch", "residual_mlp: layers inside each skip connection.", "int",
        1, LIMITS["depth"],
    ),
    "residual_scale": FieldInfo(
        "Residual scale",
        "Multiplies each residual branch: x ← x + scale · F(x). About 1/√depth keeps a deep "
        "unnormalised stack near the identity; 0 starts every branch at zero (ReZero).",
        "float", 0.0, 10.0,
    ),
    "forget_bias": FieldInfo(
        "Forget-gate bias", "lstm: the forget gate's total bias (blank: PyTorch's).", "float",
        -20.0, 20.0,
    ),
    "jacobian_spectrum": FieldInfo(
        "Jacobian spectrum",
        "mlp: singular values of the input–output Jacobian, exact in float64. auto computes "
        "them when they cost at most a quarter of the probe; exact always (width ≤ 256).",
        "choice",
    ),
    "batch_size": FieldInfo("Batch size", "Examples per batch (sequences for transformer).",
                            "int", 1, LIMITS["batch_size"]),
    "seq_len": FieldInfo(
        "Sequence length", "Time steps (rnn, lstm, gru) or tokens (transformer).", "int", 2,
        LIMITS["seq_len"],
    ),
    "loss": FieldInfo("Loss", "Mean squared error or cross-entropy on the task.", "choice"),
    "seed": FieldInfo("Seed", "Seeds the weights and the data.", "int", 0, 2**31 - 1),
    "task": FieldInfo("Task", "A random teacher network, or 2-D spirals (mlp only).", "choice"),
    "train_steps": FieldInfo(
        "Training steps", "0: gradients at initialisation only.", "int", 0,
        LIMITS["train_steps"],
    ),
    "optimizer": FieldInfo("Optimiser", "For the training steps.", "choice"),
    "lr": FieldInfo("Learning rate", "For the training steps.", "float", 0.0, 10.0),
}  # fmt: skip


def _choices(field: str, kind: str) -> list[str] | None:
    spec = KINDS[kind]
    return {
        "kind": list(KINDS),
        "activation": list(ACTIVATIONS),
        "init": list(INITS),
        "norm": list(spec.norms),
        "norm_position": list(NORM_POSITIONS),
        "jacobian_spectrum": list(JACOBIAN_SPECTRUM),
        "loss": list(LOSSES),
        "task": ["teacher", "spirals"] if kind in ("mlp", "residual_mlp") else ["teacher"],
        "optimizer": list(OPTIMIZERS),
    }.get(field)


# Fields the normalised config leaves out at their default (see validate_config).
FIELD_DEFAULTS: dict[str, Any] = {"bias_std": DEFAULT_BIAS_STD}


@cache
def config_schema() -> dict[str, Any]:
    """Every config field as JSON-able data: what a form needs to build its controls."""
    defaults = {kind: validate_config({"kind": kind}) for kind in KINDS}
    fields = []
    for name in FIELDS:
        info = FIELD_INFO[name]
        kinds = list(_APPLIES_TO[name] or KINDS)
        entry: dict[str, Any] = {
            "name": name,
            "label": info.label,
            "help": info.help,
            "type": info.type,
            "kinds": kinds,
            "default": {kind: defaults[kind].get(name, FIELD_DEFAULTS.get(name)) for kind in kinds},
            "minimum": info.minimum,
            "maximum": info.maximum,
        }
        if info.type == "choice":
            entry["choices"] = {kind: _choices(name, kind) for kind in kinds}
        fields.append(entry)
    return {
        "simulator_version": SIMULATOR_VERSION,
        "kinds": [
            {
                "name": k.name,
                "label": k.label,
                "depth_means": k.depth_means,
                "recurrent": k.recurrent,
            }
            for k in KINDS.values()
        ],  # fmt: skip
        "fields": fields,
        "limits": dict(LIMITS),
    }
