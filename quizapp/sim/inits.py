"""Registry of weight initialisations.

Conventions (the science depends on them):
- `default` keeps PyTorch's own initialisation of weights *and* biases.
- Every other scheme initialises the weights as named and sets biases to zero.
- No scheme applies an activation-dependent gain except He, whose factor 2 is its definition;
  `orthogonal` has gain 1 as in Saxe et al. (2014).
Each entry also gives σ_w² = fan_in · Var(W) for a square layer of width n, used by the theory.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Init:
    name: str
    # apply(weight, std) initialises `weight` in place; None means "keep PyTorch's default".
    apply: Callable[[Any, float | None], None] | None
    # sigma_w2(width, std): fan_in · Var(W) for a square hidden layer.
    sigma_w2: Callable[[int, float | None], float]
    # Variance of each bias (PyTorch's default uniform bias); zero for every other scheme.
    bias_var: Callable[[int], float] = lambda width: 0.0


def _nn_init() -> Any:
    import torch.nn.init as nn_init

    return nn_init


def _lecun_normal(weight: Any, std: float | None) -> None:
    fan_in = weight.shape[1] * (weight[0][0].numel() if weight.dim() > 2 else 1)
    _nn_init().normal_(weight, 0.0, 1.0 / math.sqrt(fan_in))


INITS: dict[str, Init] = {
    i.name: i
    for i in (
        # nn.Linear/Conv default: kaiming_uniform_(a=√5) -> U(±1/√fan_in), Var = 1/(3·fan_in);
        # bias U(±1/√fan_in) too.
        Init("default", None, lambda n, s: 1.0 / 3.0, lambda n: 1.0 / (3.0 * n)),
        Init(
            "xavier_uniform",
            lambda w, s: _nn_init().xavier_uniform_(w),
            lambda n, s: 1.0,
        ),
        Init("xavier_normal", lambda w, s: _nn_init().xavier_normal_(w), lambda n, s: 1.0),
        Init(
            "he_uniform",
            lambda w, s: _nn_init().kaiming_uniform_(w, nonlinearity="relu"),
            lambda n, s: 2.0,
        ),
        Init(
            "he_normal",
            lambda w, s: _nn_init().kaiming_normal_(w, nonlinearity="relu"),
            lambda n, s: 2.0,
        ),
        Init("lecun_normal", _lecun_normal, lambda n, s: 1.0),
        Init(
            "orthogonal",
            lambda w, s: _nn_init().orthogonal_(w, gain=1.0),
            lambda n, s: 1.0,
        ),
        Init("normal", lambda w, s: _nn_init().normal_(w, 0.0, s), lambda n, s: n * s * s),
        Init("zeros", lambda w, s: _nn_init().zeros_(w), lambda n, s: 0.0),
    )
}


def init_weight(weight: Any, init: str, std: float | None) -> None:
    """Initialise one weight tensor in place (no-op for `default`)."""
    apply = INITS[init].apply
    if apply is not None:
        apply(weight, std)
