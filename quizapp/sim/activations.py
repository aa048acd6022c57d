"""Registry of activation functions: names, families and how saturation is judged.

Pure Python at import time: the torch callable is resolved only when a network is built,
so `validate_config` can use the names without importing torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Activation:
    name: str
    # Receives torch.nn.functional and returns the elementwise function.
    resolve: Callable[[Any], Callable[[Any], Any]]
    # "relu" family: units can die (negative pre-activation for every example).
    # "saturating": units can saturate (|pre-activation| beyond `saturation_at`).
    family: str
    # |pre-activation| beyond which the unit counts as saturated: where the output is within
    # 1 % of its asymptote (sigmoid: σ(h) > 0.99 or < 0.01; tanh: |tanh(h)| > 0.99).
    saturation_at: float | None = None
    # What a unit whose pre-activation is negative for the whole batch passes back: the
    # slope on the negative side, in words (only the relu family has "dead" units).
    negative_side: str = ""


def _linear(functional: Any) -> Callable[[Any], Any]:
    return lambda x: x


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", lambda F: F.sigmoid, "saturating", math.log(99.0)),
        Activation("tanh", lambda F: F.tanh, "saturating", math.atanh(0.99)),
        Activation(
            "relu",
            lambda F: F.relu,
            "relu",
            negative_side="ReLU's slope there is exactly 0: no gradient passes through them",
        ),
        Activation(
            "leaky_relu",
            lambda F: F.leaky_relu,
            "relu",
            negative_side="leaky ReLU's slope there is 0.01: they pass 1 % of the gradient",
        ),
        Activation(
            "elu",
            lambda F: F.elu,
            "relu",
            negative_side="ELU's slope there is e^h: close to 1 just below zero, fading "
            "towards 0 for very negative h",
        ),
        Activation(
            "selu",
            lambda F: F.selu,
            "relu",
            negative_side="SELU's slope there is λα·e^h ≈ 1.76·e^h: up to 1.76 just below "
            "zero (more than its slope of 1.05 above zero), fading only for very negative h",
        ),
        Activation(
            "gelu",
            lambda F: F.gelu,
            "relu",
            negative_side="GELU's slope there is small (between −0.13 and 0.5) and fades "
            "towards 0 for very negative h",
        ),
        Activation(
            "silu",
            lambda F: F.silu,
            "relu",
            negative_side="SiLU's slope there is small (between −0.1 and 0.5) and fades "
            "towards 0 for very negative h",
        ),
        Activation("softplus", lambda F: F.softplus, "smooth"),
        Activation("linear", _linear, "linear"),
    )
}

# Gated recurrent cells use sigmoid gates and a tanh candidate: their saturation is judged
# on the gate pre-activations with the sigmoid rule.
GATE_SATURATION_AT = ACTIVATIONS["sigmoid"].saturation_at


def activation_fn(name: str) -> Callable[[Any], Any]:
    """The torch elementwise function for an activation name (imports torch)."""
    import torch.nn.functional as F

    return ACTIVATIONS[name].resolve(F)
