"""The lab's controls, derived from the config schema: one registry every form and script reads.

Which kinds a field applies to, its choices, its limits and its default per kind all come
from `config.py` (and the activation/init registries), so a new kind or field shows up in
the lab without touching a template. This module only adds what a person needs to read:
a label, one line of help, the group it belongs to and how a slider should move.
Pure Python: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quizapp.sim.activations import ACTIVATIONS
from quizapp.sim.config import (
    _APPLIES_TO,
    DEFAULT_BIAS_STD,
    DEFAULT_INIT_STD,
    FIELDS,
    JACOBIAN_SPECTRUM,
    KINDS,
    LIMITS,
    LOSSES,
    NORM_POSITIONS,
    NORMS,
    OPTIMIZERS,
    TASKS,
    TRANSFORMER_NORMS,
    SimConfigError,
    validate_config,
)
from quizapp.sim.inits import INITS

GROUPS: dict[str, str] = {
    "architecture": "Architecture",
    "initialisation": "Initialisation",
    "training": "Data and training",
}

# Short human names of the kinds, for "(MLP, CNN)" beside a field that only some kinds use.
KIND_SHORT_NAMES: dict[str, str] = {
    "mlp": "MLP",
    "residual_mlp": "residual MLP",
    "cnn": "CNN",
    "rnn": "RNN",
    "lstm": "LSTM",
    "gru": "GRU",
    "transformer": "transformer",
}

# Human names of choice values; a value missing here is shown as its name.
CHOICE_LABELS: dict[str, str] = {
    "mlp": "Multilayer perceptron (MLP)",
    "transformer": "Transformer",
    "layer": "Layer norm",
    "pre": "Pre-norm (before each block)",
    "post": "Post-norm (after each residual add)",
    "auto": "Automatic (exact when small)",
    "exact": "Exact",
    "off": "Off",
    "residual_mlp": "Residual MLP",
    "cnn": "Convolutional network (CNN)",
    "rnn": "Recurrent network (RNN)",
    "lstm": "LSTM",
    "gru": "GRU",
    "sigmoid": "Sigmoid",
    "tanh": "tanh",
    "relu": "ReLU",
    "leaky_relu": "Leaky ReLU",
    "elu": "ELU",
    "selu": "SELU",
    "gelu": "GELU",
    "silu": "SiLU (swish)",
    "softplus": "Softplus",
    "linear": "Linear (no activation)",
    "default": "PyTorch default (uniform ±1/√fan-in)",
    "xavier_uniform": "Xavier (Glorot) uniform",
    "xavier_normal": "Xavier (Glorot) normal",
    "he_uniform": "He (Kaiming) uniform",
    "he_normal": "He (Kaiming) normal",
    "lecun_normal": "LeCun normal",
    "orthogonal": "Orthogonal",
    "normal": "Normal, with the std below",
    "zeros": "All zeros",
    "none": "None",
    "batchnorm": "Batch norm",
    "layernorm": "Layer norm",
    "mse": "Mean squared error",
    "cross_entropy": "Cross-entropy",
    "sgd": "SGD",
    "adam": "Adam",
    "teacher": "Random teacher network",
    "spirals": "Spirals (2-D, 3 classes)",
}


@dataclass(frozen=True)
class Wording:
    label: str
    help: str
    group: str
    # Slider: (low, high, scale); the number box beside it accepts the schema's full range.
    slider: tuple[float, float, str] | None = None
    step: float | None = None


WORDING: dict[str, Wording] = {
    "kind": Wording("Network", "The architecture to build and probe.", "architecture"),
    "depth": Wording(
        "Depth",
        "Weight layers, the readout included (stacked recurrent layers for RNN, LSTM, GRU).",
        "architecture",
        (1, LIMITS["depth"], "linear"),
        1,
    ),
    "width": Wording(
        "Width",
        "Units per hidden layer (channels for a CNN).",
        "architecture",
        (2, LIMITS["width"], "log"),
        1,
    ),
    "activation": Wording(
        "Activation", "The nonlinearity after every hidden layer.", "architecture"
    ),
    "norm": Wording(
        "Normalisation", "Applied before each activation, in training mode.", "architecture"
    ),
    "skip_every": Wording(
        "Layers per residual block",
        "How many layers each skip connection jumps over.",
        "architecture",
        (1, 10, "linear"),
        1,
    ),
    "residual_scale": Wording(
        "Residual branch scale",
        "x ← x + scale · F(x); about 1/√depth keeps a deep stack stable.",
        "architecture",
        (0, 2, "linear"),
        0.01,
    ),
    "seq_len": Wording(
        "Sequence length",
        "Time steps the recurrent network is unrolled over.",
        "architecture",
        (2, LIMITS["seq_len"], "linear"),
        1,
    ),
    "norm_position": Wording(
        "Normalisation position", "Where each block's layer norm sits.", "architecture"
    ),
    "heads": Wording(
        "Attention heads",
        "Heads per attention layer (the width must divide evenly).",
        "architecture",
        (1, 16, "linear"),
        1,
    ),
    "jacobian_spectrum": Wording(
        "Jacobian spectrum",
        "Singular values of the input-output Jacobian: exact, estimated, or not computed.",
        "training",
    ),
    "init": Wording("Weight initialisation", "How every weight matrix starts.", "initialisation"),
    "init_std": Wording(
        "Weight std",
        "Standard deviation of each weight for the normal initialisation; σ_w = std · √width.",
        "initialisation",
        (0.001, 1, "log"),
        0.001,
    ),
    "bias_std": Wording(
        "Bias std",
        "Standard deviation σ_b of every bias (drawn N(0, σ_b²); 0 zeroes them). With tanh, "
        "σ_b > 0 moves the edge of chaos to larger weights.",
        "initialisation",
        (0, 1, "linear"),
        0.01,
    ),
    "forget_bias": Wording(
        "Forget-gate bias",
        "Added to the LSTM forget gate's bias: positive values keep memory for longer.",
        "initialisation",
        (-5, 10, "linear"),
        0.1,
    ),
    "task": Wording(
        "Task", "The synthetic data the network is probed (and trained) on.", "training"
    ),
    "batch_size": Wording(
        "Batch size",
        "Examples per forward and backward pass.",
        "training",
        (1, LIMITS["batch_size"], "log"),
        1,
    ),
    "loss": Wording("Loss", "What the backward pass starts from.", "training"),
    "seed": Wording("Random seed", "Same seed, same weights and data: same result.", "training"),
    "train_steps": Wording(
        "Training steps",
        "0 probes the untrained network only; more steps add the loss curve.",
        "training",
        (0, 200, "linear"),
        1,
    ),
    "optimizer": Wording("Optimiser", "Used for the training steps.", "training"),
    "lr": Wording(
        "Learning rate",
        "Step size of the optimiser (default 0.01 for SGD, 0.001 for Adam).",
        "training",
        (0.0001, 1, "log"),
        0.0001,
    ),
}

CHOICES: dict[str, tuple[str, ...]] = {
    "kind": tuple(KINDS),
    "activation": tuple(ACTIVATIONS),
    "init": tuple(INITS),
    "norm": NORMS + tuple(n for n in TRANSFORMER_NORMS if n not in NORMS),
    "norm_position": NORM_POSITIONS,
    "jacobian_spectrum": JACOBIAN_SPECTRUM,
    "loss": LOSSES,
    "task": TASKS,
    "optimizer": OPTIMIZERS,
}
# Choices that only some kinds accept (the schema refuses them elsewhere).
CHOICE_KINDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("task", "spirals"): ("mlp", "residual_mlp"),
    **{("norm", n): ("transformer",) for n in TRANSFORMER_NORMS if n not in NORMS},
    **{("norm", n): ("mlp", "residual_mlp", "cnn") for n in NORMS if n not in TRANSFORMER_NORMS},
}
# A field that only means something for some values of another field.
REQUIRES: dict[str, tuple[str, tuple[str, ...]]] = {
    "init_std": ("init", ("normal",)),
    # PyTorch's default init keeps its own uniform biases.
    "bias_std": ("init", tuple(i for i in INITS if i != "default")),
}
FLOAT_FIELDS = frozenset({"init_std", "bias_std", "residual_scale", "forget_bias", "lr"})


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    kinds: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LabField:
    name: str
    label: str
    help: str
    group: str
    kinds: tuple[str, ...]  # the kinds it applies to
    number_type: type | None  # int or float for numbers, None for choices
    choices: tuple[Choice, ...] = ()
    slider: tuple[float, float, str] | None = None
    step: float | None = None
    requires: tuple[str, tuple[str, ...]] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)  # kind -> the value used when blank

    def applies(self, config: dict[str, Any]) -> bool:
        """Whether a (partial) config with this kind and these values uses the field."""
        if config.get("kind") not in self.kinds:
            return False
        if self.requires is None:
            return True
        other, values = self.requires
        chosen = config.get(other) or DEFAULTS.get(config.get("kind"), {}).get(other)
        return chosen in values

    @property
    def kinds_text(self) -> str:
        """The kinds it applies to, as a learner reads them: "MLP, residual MLP, CNN"."""
        return ", ".join(KIND_SHORT_NAMES.get(kind, kind) for kind in self.kinds)

    @property
    def requires_text(self) -> str:
        """When it applies, in words ("Only with initialisation: Normal."), or empty."""
        if self.requires is None:
            return ""
        other, values = self.requires
        label = LAB_FIELDS[other].label.lower()
        left_out = [c.value for c in LAB_FIELDS[other].choices if c.value not in values]
        if len(left_out) < len(values):  # name the shorter list
            names = " or ".join(CHOICE_LABELS.get(value, value) for value in left_out)
            return f"Not with {label}: {names}."
        names = " or ".join(CHOICE_LABELS.get(value, value) for value in values)
        return f"Only with {label}: {names}."

    def default_text(self, kind: str) -> str:
        value = self.defaults.get(kind)
        if value is None:
            return "PyTorch's default" if self.name == "forget_bias" else "—"
        if self.choices:
            return CHOICE_LABELS.get(value, str(value))
        return f"{value:g}" if isinstance(value, float) else str(value)


def _defaults_per_kind() -> dict[str, dict[str, Any]]:
    """What validate_config fills in for each kind when only the kind is given."""
    out = {}
    for kind in KINDS:
        try:
            out[kind] = validate_config({"kind": kind})
        except SimConfigError:  # a kind whose bare default exceeds the budget: no defaults
            out[kind] = {"kind": kind}
    return out


DEFAULTS = _defaults_per_kind()


def _make_field(name: str) -> LabField:
    wording = WORDING.get(name) or Wording(name.replace("_", " ").capitalize(), "", "training")
    kinds = _APPLIES_TO.get(name) or tuple(KINDS)
    choices = tuple(
        Choice(value, CHOICE_LABELS.get(value, value), CHOICE_KINDS.get((name, value)))
        for value in CHOICES.get(name, ())
    )
    number_type = None if name in CHOICES else (float if name in FLOAT_FIELDS else int)
    defaults = {kind: DEFAULTS[kind].get(name) for kind in kinds}
    if name == "init_std":
        defaults = {kind: DEFAULT_INIT_STD for kind in kinds}  # what "normal" uses without a std
    if name == "bias_std":  # left out of the normalised config at its default
        defaults = {kind: DEFAULT_BIAS_STD for kind in kinds}
    return LabField(
        name=name,
        label=wording.label,
        help=wording.help,
        group=wording.group,
        kinds=tuple(k for k in KINDS if k in kinds),
        number_type=number_type,
        choices=choices,
        slider=wording.slider,
        step=wording.step,
        requires=REQUIRES.get(name),
        defaults=defaults,
    )


LAB_FIELDS: dict[str, LabField] = {name: _make_field(name) for name in FIELDS}


def fields_by_group() -> list[tuple[str, str, list[LabField]]]:
    """(group id, heading, fields) in the order the lab shows them."""
    return [
        (group, heading, [f for f in LAB_FIELDS.values() if f.group == group])
        for group, heading in GROUPS.items()
    ]


def applicable_config(values: dict[str, Any]) -> dict[str, Any]:
    """Keep the fields that apply to the chosen kind (and its init); drop the rest.

    A form shows every field without JavaScript, so a value typed into a field of another
    kind is ignored rather than refused.
    """
    kind = values.get("kind")
    return {
        name: value
        for name, value in values.items()
        if name not in LAB_FIELDS or LAB_FIELDS[name].applies(values) or kind not in KINDS
    }


def minimal_config(config: dict[str, Any]) -> dict[str, Any]:
    """The shortest config with the same normalised meaning: fields at their default dropped.

    It is the lab's permalink: the same configuration always gives the same short address.
    """
    normalised = validate_config(config)
    short = {k: v for k, v in normalised.items() if v is not None}
    for name in list(short):
        if name == "kind":
            continue
        trial = {k: v for k, v in short.items() if k != name}
        try:
            if validate_config(trial) == normalised:
                short = trial
        except SimConfigError:
            continue
    return {name: short[name] for name in FIELDS if name in short}


def differences(configs: list[dict[str, Any]]) -> set[str]:
    """Fields whose normalised values are not the same in every config."""
    names = {name for config in configs for name in config}
    return {name for name in names if len({repr(c.get(name)) for c in configs}) > 1}
