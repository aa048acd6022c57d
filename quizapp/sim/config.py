"""Validation of a simulation config at the boundary. Pure Python: no torch import.

`validate_config` returns a normalised config with every field present (fields that do not
apply to the chosen kind are None), so the same computation always has the same cache key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from quizapp.sim.activations import ACTIVATIONS
from quizapp.sim.inits import INITS

SIMULATOR_VERSION = "2.1.0"
SCHEMA_VERSION = 1

LIMITS: dict[str, int] = {
    "depth": 200,
    "width": 1024,
    "batch_size": 512,
    "seq_len": 500,
    "train_steps": 1000,
    "heads": 64,
}

# Work is counted in multiply-adds (forward + backward ≈ 3 × forward), plus a fixed cost per
# layer (per cell and time step for recurrent kinds) and pass that stands for PyTorch's
# per-operation overhead (measured: ~70 µs per layer-step when training a small mlp, ~120 µs
# per lstm cell step), so that many tiny steps are bounded as well as a few huge ones. On one
# core the budget is at most about 6 s. The memory budget bounds the float32 values autograd
# keeps for one backward pass (1.2e8 ≈ 0.5 GB).
COMPUTE_BUDGET = 1.5e11
MEMORY_BUDGET_ELEMENTS = 1.2e8
_OVERHEAD_PER_LAYER_STEP = {False: 2.0e6, True: 4.0e6}  # keyed by "recurrent"

IMAGE_SIZE = 8  # cnn inputs are IMAGE_CHANNELS × 8 × 8
IMAGE_CHANNELS = 3
TEACHER_OUTPUTS = 10  # outputs (mse) or classes (cross_entropy) of the teacher task
SPIRAL_ARMS = 3


NORMS = ("none", "batchnorm", "layernorm")
# The transformer's own vocabulary (Xiong et al. 2020): layer norm or none, before or after.
TRANSFORMER_NORMS = ("layer", "none")
NORM_POSITIONS = ("pre", "post")
# "auto": computed when it costs at most a quarter of the probe itself; "exact": always
# (within the width limit); "off": never.
JACOBIAN_SPECTRUM = ("auto", "exact", "off")


@dataclass(frozen=True)
class KindSpec:
    name: str
    recurrent: bool
    default_depth: int
    min_depth: int
    default_width: int
    # Gate count: multiplies the recurrent matrices (rnn 1, gru 3, lstm 4).
    gates: int = 1
    default_activation: str | None = "relu"
    norms: tuple[str, ...] = NORMS
    default_norm: str = "none"
    default_seq_len: int = 50
    label: str = ""
    # Units of `depth` in words, for forms and messages.
    depth_means: str = "weight layers, readout included"


KINDS: dict[str, KindSpec] = {
    k.name: k
    for k in (
        KindSpec("mlp", False, 10, 2, 64, label="Fully connected (MLP)"),
        KindSpec("residual_mlp", False, 10, 2, 64, label="Residual MLP"),
        KindSpec("cnn", False, 10, 2, 16, label="Convolutional (CNN)"),
        KindSpec(
            "rnn", True, 1, 1, 64, gates=1, default_activation="tanh", label="Vanilla RNN",
            depth_means="stacked recurrent layers",
        ),
        KindSpec(
            "lstm", True, 1, 1, 64, gates=4, default_activation=None, label="LSTM",
            depth_means="stacked recurrent layers",
        ),
        KindSpec(
            "gru", True, 1, 1, 64, gates=3, default_activation=None, label="GRU",
            depth_means="stacked recurrent layers",
        ),
        KindSpec(
            "transformer", False, 6, 1, 64, default_activation="gelu", norms=TRANSFORMER_NORMS,
            default_norm="layer", default_seq_len=16, label="Transformer",
            depth_means="blocks (attention + feed-forward)",
        ),
    )
}  # fmt: skip
SEQUENCE_KINDS = tuple(k for k, spec in KINDS.items() if spec.recurrent) + ("transformer",)
LOSSES = ("mse", "cross_entropy")
OPTIMIZERS = ("sgd", "adam")
TASKS = ("teacher", "spirals")
DEFAULT_LR = {"sgd": 0.01, "adam": 0.001}


class SimConfigError(ValueError):
    """A config the simulator refuses; names the field, what is wrong, and what is allowed."""

    def __init__(self, field: str, message: str, allowed: list[Any] | None = None):
        self.field = field
        self.message = message
        self.allowed = allowed
        text = f"{field}: {message}"
        if allowed is not None:
            text += f" (allowed: {', '.join(str(a) for a in allowed)})"
        super().__init__(text)


# --- field readers -----------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return type(value).__name__


def _read_choice(field: str, value: Any, allowed: list[str] | tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise SimConfigError(
            field, f"must be a string, got {_type_name(value)} {value!r}", list(allowed)
        )
    normalised = value.strip().lower()
    if normalised not in allowed:
        raise SimConfigError(field, f"unknown value {value!r}", list(allowed))
    return normalised


def _read_int(field: str, value: Any, low: int, high: int, reduce_hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SimConfigError(field, f"must be an integer, got {_type_name(value)} {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise SimConfigError(field, f"must be a whole number, got {value!r}")
        value = int(value)
    if value < low:
        raise SimConfigError(field, f"must be at least {low}, got {value}")
    if value > high:
        hint = f" {reduce_hint}" if reduce_hint else ""
        raise SimConfigError(
            field,
            f"is {value}, above the limit of {high}: reduce it to {high} or less.{hint}",
        )
    return value


def _read_float(field: str, value: Any, low: float, high: float, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SimConfigError(field, f"must be a number, got {_type_name(value)} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise SimConfigError(field, f"must be a finite number, got {value!r}")
    too_low = value <= low if low_open else value < low
    if too_low:
        bound = "above" if low_open else "at least"
        raise SimConfigError(field, f"must be {bound} {low:g}, got {value:g}")
    if value > high:
        raise SimConfigError(field, f"is {value:g}, above the limit of {high:g}: reduce it.")
    return value


# --- the schema --------------------------------------------------------------------------

# Fields and the kinds they apply to (None: every kind). A field given for a kind it does not
# apply to is rejected, so a config never carries a value that silently does nothing.
_APPLIES_TO: dict[str, tuple[str, ...] | None] = {
    "kind": None,
    "depth": None,
    "width": None,
    "activation": ("mlp", "residual_mlp", "cnn", "rnn", "transformer"),
    "init": None,
    "init_std": None,  # only with init "normal"; checked separately
    "bias_std": ("mlp", "residual_mlp"),  # not with init "default"; checked separately
    "norm": ("mlp", "residual_mlp", "cnn", "transformer"),
    "norm_position": ("transformer",),
    "heads": ("transformer",),
    "skip_every": ("residual_mlp",),
    "residual_scale": ("residual_mlp", "transformer"),
    "forget_bias": ("lstm",),
    "jacobian_spectrum": ("mlp",),
    "batch_size": None,
    "seq_len": ("rnn", "lstm", "gru", "transformer"),
    "loss": None,
    "seed": None,
    "task": None,
    "train_steps": None,
    "optimizer": None,
    "lr": None,
}
FIELDS = tuple(_APPLIES_TO)
DEFAULT_INIT_STD = 0.01
DEFAULT_BIAS_STD = 0.0


def validate_config(config: dict) -> dict:
    """Check a simulation config and return it normalised, with every default filled in."""
    if not isinstance(config, dict):
        raise SimConfigError(
            "config", f"must be a mapping of field to value, got {_type_name(config)}"
        )
    unknown = sorted(str(k) for k in config if k not in _APPLIES_TO)
    if unknown:
        raise SimConfigError(
            unknown[0],
            f"unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
            list(FIELDS),
        )
    if config.get("kind") is None:
        raise SimConfigError("kind", "is required", list(KINDS))
    kind = KINDS[_read_choice("kind", config["kind"], tuple(KINDS))]

    given = {k: v for k, v in config.items() if v is not None}
    for field in given:
        kinds = _APPLIES_TO[field]
        if kinds is not None and kind.name not in kinds:
            raise SimConfigError(
                field,
                f"does not apply to kind {kind.name!r}; it applies to: {', '.join(kinds)}",
            )

    def get(field: str, default: Any) -> Any:
        return given.get(field, default)

    out: dict[str, Any] = {"kind": kind.name}
    out["depth"] = _read_int(
        "depth", get("depth", kind.default_depth), kind.min_depth, LIMITS["depth"]
    )
    out["width"] = _read_int("width", get("width", kind.default_width), 2, LIMITS["width"])

    if kind.default_activation is None:
        out["activation"] = None
    else:
        out["activation"] = _read_choice(
            "activation", get("activation", kind.default_activation), tuple(ACTIVATIONS)
        )

    init_value = get("init", "default")
    init_std = get("init_std", None)
    # Shorthand used in exercise files: "normal_0.01" means init normal with std 0.01.
    if isinstance(init_value, str) and init_value.strip().lower().startswith("normal_"):
        if init_std is not None:
            raise SimConfigError("init_std", f"given twice: in init {init_value!r} and as init_std")
        try:
            init_std = float(init_value.strip()[len("normal_") :])
        except ValueError:
            raise SimConfigError(
                "init", f"cannot read the std in {init_value!r}", list(INITS)
            ) from None
        init_value = "normal"
    out["init"] = _read_choice("init", init_value, tuple(INITS))
    if out["init"] == "normal":
        out["init_std"] = _read_float(
            "init_std",
            DEFAULT_INIT_STD if init_std is None else init_std,
            0.0,
            10.0,
            low_open=True,
        )
    elif init_std is not None:
        raise SimConfigError("init_std", f"applies only to init 'normal', not {out['init']!r}")
    else:
        out["init_std"] = None

    # Biases drawn N(0, bias_std²). Zero (the default) is left out of the normalised config,
    # so every config written before the field existed keeps its cache key and its result.
    bias_std = _read_float("bias_std", get("bias_std", DEFAULT_BIAS_STD), 0.0, 10.0)
    if bias_std > 0.0:
        if out["init"] == "default":
            raise SimConfigError(
                "bias_std",
                "does not apply to init 'default', which keeps PyTorch's own uniform biases; "
                "choose another initialisation to draw the biases from N(0, bias_std²)",
            )
        out["bias_std"] = bias_std

    out["norm"] = (
        _read_choice("norm", get("norm", kind.default_norm), kind.norms)
        if _applies("norm", kind)
        else None
    )
    # Without a norm there is nothing to place: pre and post are the same network, so the
    # position is dropped and both spellings share one cache entry.
    out["norm_position"] = (
        _read_choice("norm_position", get("norm_position", "pre"), NORM_POSITIONS)
        if _applies("norm_position", kind) and out["norm"] != "none"
        else None
    )
    if _applies("heads", kind):
        out["heads"] = _read_int("heads", get("heads", 4), 1, LIMITS["heads"])
        if out["width"] % out["heads"]:
            raise SimConfigError(
                "heads",
                f"width {out['width']} must be a multiple of heads {out['heads']} "
                "(each head gets width / heads dimensions)",
                [h for h in (1, 2, 4, 8, 16) if out["width"] % h == 0],
            )
    else:
        out["heads"] = None
    out["skip_every"] = (
        _read_int("skip_every", get("skip_every", 1), 1, max(1, out["depth"] - 1))
        if _applies("skip_every", kind)
        else None
    )
    out["residual_scale"] = (
        _read_float("residual_scale", get("residual_scale", 1.0), 0.0, 10.0)
        if _applies("residual_scale", kind)
        else None
    )
    out["forget_bias"] = (
        _read_float("forget_bias", given["forget_bias"], -20.0, 20.0)
        if "forget_bias" in given
        else None
    )
    out["jacobian_spectrum"] = (
        _read_choice("jacobian_spectrum", get("jacobian_spectrum", "auto"), JACOBIAN_SPECTRUM)
        if _applies("jacobian_spectrum", kind)
        else None
    )
    out["batch_size"] = _read_int("batch_size", get("batch_size", 64), 1, LIMITS["batch_size"])
    if out["norm"] == "batchnorm" and out["batch_size"] < 2:
        raise SimConfigError("batch_size", "batch norm needs at least 2 examples per batch, got 1")
    out["seq_len"] = (
        _read_int("seq_len", get("seq_len", kind.default_seq_len), 2, LIMITS["seq_len"])
        if _applies("seq_len", kind)
        else None
    )
    out["loss"] = _read_choice("loss", get("loss", "mse"), LOSSES)
    out["seed"] = _read_int("seed", get("seed", 0), 0, 2**31 - 1)
    out["task"] = _read_choice("task", get("task", "teacher"), TASKS)
    if out["task"] == "spirals" and kind.name not in ("mlp", "residual_mlp"):
        raise SimConfigError(
            "task",
            f"'spirals' is a 2-D task for mlp and residual_mlp, not {kind.name!r}",
            ["teacher"],
        )
    out["train_steps"] = _read_int("train_steps", get("train_steps", 0), 0, LIMITS["train_steps"])
    out["optimizer"] = _read_choice("optimizer", get("optimizer", "sgd"), OPTIMIZERS)
    out["lr"] = _read_float("lr", get("lr", DEFAULT_LR[out["optimizer"]]), 0.0, 10.0, low_open=True)

    _check_budget(out)
    from quizapp.sim.memory import check_memory_budget  # it builds on this module

    check_memory_budget(out)
    return out


def _applies(field: str, kind: KindSpec) -> bool:
    kinds = _APPLIES_TO[field]
    return kinds is None or kind.name in kinds


# --- compute and memory budget -----------------------------------------------------------


def input_dim(config: dict) -> int:
    """Features per example (per time step or token for sequence kinds; channels for cnn).

    Spirals are 2-D points embedded in `width` dimensions by a fixed random linear map, so
    every hidden layer of an mlp is square. Their features do not have unit variance: about
    0.48 on average over embeddings (0.42–0.53 for a given seed); the theory starts from the
    batch's measured mean square instead of assuming 1.
    """
    return IMAGE_CHANNELS if config["kind"] == "cnn" else config["width"]


def output_dim(config: dict) -> int:
    return SPIRAL_ARMS if config["task"] == "spirals" else TEACHER_OUTPUTS


def estimate_work(config: dict) -> tuple[float, float]:
    """(multiply-adds for the whole simulation, float32 elements kept for one backward)."""
    kind = KINDS[config["kind"]]
    depth, width, batch = config["depth"], config["width"], config["batch_size"]
    n_in, n_out = input_dim(config), output_dim(config)
    passes = 1 + config["train_steps"]
    if kind.recurrent:
        steps = config["seq_len"]
        per_step = (
            kind.gates * width * (n_in + width) + (depth - 1) * kind.gates * 2 * width * width
        )
        macs = batch * (steps * per_step + width * n_out)
        layer_steps = depth * steps
        kept = batch * width * steps * depth * (kind.gates + 3)
    elif kind.name == "transformer":
        tokens = batch * config["seq_len"]
        weights = batch * config["heads"] * config["seq_len"] ** 2  # attention weights
        # Per block: q, k, v and output projections (4w²), the 4×-wide feed-forward (8w²),
        # scores and weighted values (2·T·w per token). Measured on one core, these run at
        # ~1/1.6 of an mlp's multiply-add rate, and each attention weight (softmax forward and
        # backward, entropy and saturation probes) costs about 200 multiply-adds' time.
        per_token = 12 * width * width + 2 * config["seq_len"] * width
        macs = 1.6 * tokens * (depth * per_token + width * n_out) + depth * weights * 200.0 / 3.0
        layer_steps = depth * 12  # about a dozen operations per block
        # Per block: ~20 width-sized vectors per token and 3 copies of the attention weights.
        kept = depth * (tokens * width * 20 + 3 * weights)
    else:
        positions = IMAGE_SIZE * IMAGE_SIZE if kind.name == "cnn" else 1
        taps = 9 if kind.name == "cnn" else 1
        hidden = taps * width * (n_in + (depth - 2) * width)
        macs = batch * (positions * hidden + width * n_out)
        layer_steps = depth
        kept = batch * width * positions * depth * 5
    work = passes * (3.0 * macs + layer_steps * _OVERHEAD_PER_LAYER_STEP[kind.recurrent])
    if config.get("jacobian_spectrum") == "exact":
        work += 4.0 * (depth - 1) * width**3  # float64 products: ~4× a float32 multiply-add
    return work, float(kept)


def _check_budget(config: dict) -> None:
    work, kept = estimate_work(config)
    if work <= COMPUTE_BUDGET and kept <= MEMORY_BUDGET_ELEMENTS:
        return
    if work > COMPUTE_BUDGET:
        what = (
            f"estimated work of {work:.2g} multiply-adds exceeds the budget of {COMPUTE_BUDGET:.2g}"
        )
    else:
        what = (
            f"estimated memory of {kept:.2g} stored values exceeds the budget"
            f" of {MEMORY_BUDGET_ELEMENTS:.2g}"
        )
    hints = []
    for field in ("depth", "width", "batch_size", "seq_len", "train_steps"):
        if config.get(field) is None:
            continue
        largest = _largest_fitting(config, field)
        if largest is not None and largest < config[field]:
            hints.append((field, largest))
    if not hints:
        raise SimConfigError(
            "config", f"{what}: reduce several of depth, width, batch_size, seq_len."
        )
    suggestion = " or ".join(f"{field} to {value}" for field, value in hints)
    raise SimConfigError(
        hints[0][0], f"{what}: reduce {suggestion} (keeping the others as they are)."
    )


def _fits(config: dict) -> bool:
    from quizapp.sim.memory import MEMORY_BUDGET_BYTES, estimate_peak_bytes

    work, kept = estimate_work(config)
    # Memory too: a suggested value that fits the work but not the memory is no way out.
    fits_memory = estimate_peak_bytes(config) <= MEMORY_BUDGET_BYTES
    return work <= COMPUTE_BUDGET and kept <= MEMORY_BUDGET_ELEMENTS and fits_memory


def _largest_fitting(config: dict, field: str) -> int | None:
    """The largest value of `field` that fits the budget with the other fields unchanged."""
    minimum = {
        "depth": KINDS[config["kind"]].min_depth,
        "width": config.get("heads") or 2,
        "batch_size": 1,
        "seq_len": 2,
        "train_steps": 0,
    }[field]
    if not _fits(dict(config, **{field: minimum})):
        return None
    # Widths a transformer accepts are multiples of its head count: search in those steps.
    step = config.get("heads") or 1 if field == "width" else 1
    low, high = minimum // step, config[field] // step
    while low < high:
        mid = (low + high + 1) // 2
        if _fits(dict(config, **{field: mid * step})):
            low = mid
        else:
            high = mid - 1
    return low * step
