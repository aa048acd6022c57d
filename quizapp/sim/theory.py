"""Theory beside measurement. Imports torch (float64, for the activation and its derivative).

- Plain MLP (no norm): mean-field signal propagation (Poole et al. 2016; Schoenholz et al.
  2017). Pre-activation variance q_{l+1} = σ_w² E[φ(√q_l z)²] + σ_b², z ~ N(0, 1); the
  backward signal's squared norm changes by χ_l = σ_w² E[φ'(√q_l z)²] per layer. χ₁ is χ at
  the fixed point q*. The predicted decades follow q_l from the input variance (1), which
  equals depth · ½·log10 χ₁ once the network sits at q*.
- MLP with batch norm and ReLU: gradient explosion at rate π/(π−1) per layer in squared norm
  (Yang et al. 2019), asymptotically for large batch and width, for any weight scale.
- Vanilla RNN: Pascanu et al. (2013)'s sufficient condition for vanishing: the largest
  singular value of W_hh below 1/γ, γ the largest |φ'|.
- Everything else: stated as not covered.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
import torch

from quizapp.sim.activations import activation_fn
from quizapp.sim.inits import INITS

# Moments are tabulated once per activation on a log grid of variances (20 a decade) and
# interpolated log-log. Each expectation is a trapezoid sum in pre-activation space u over
# the union of a grid spanning ±12 standard deviations and a fixed fine grid on ±20: Gauss–
# Hermite nodes in z would miss the narrow peak of φ'(√q z) once q is large (tanh at q = 256).
_LOG10_Q_GRID = np.linspace(-10.0, 12.0, 441)
# Even point counts: no node sits at 0, so the interval holding a kink at 0 (ReLU's step in
# φ') has it at its midpoint, where the trapezoid rule is exact.
_SPREAD_POINTS = 600
_FINE_GRID = np.linspace(-20.0, 20.0, 2000)
YANG_BN_RELU_RATE = math.pi / (math.pi - 1.0)


@cache
def _moment_tables(activation: str) -> tuple[np.ndarray, np.ndarray]:
    """log E[φ(√q z)²] and log E[φ'(√q z)²] on the variance grid."""
    sigma = 10.0 ** (_LOG10_Q_GRID / 2.0)
    spread = sigma[:, None] * np.linspace(-12.0, 12.0, _SPREAD_POINTS)[None, :]
    fine = np.broadcast_to(_FINE_GRID, (len(sigma), len(_FINE_GRID)))
    u = np.sort(np.concatenate((spread, fine), axis=1), axis=1)
    density = np.exp(-0.5 * (u / sigma[:, None]) ** 2) / (math.sqrt(2.0 * math.pi) * sigma[:, None])
    du = np.diff(u, axis=1)
    weights = np.zeros_like(u)  # trapezoid weights on the non-uniform grid
    weights[:, :-1] += du / 2.0
    weights[:, 1:] += du / 2.0
    weights *= density
    h = torch.tensor(u, dtype=torch.float64, requires_grad=True)
    out = activation_fn(activation)(h)
    (slope,) = torch.autograd.grad(out.sum(), h)
    phi2 = (out.detach().numpy() ** 2 * weights).sum(axis=1)
    slope2 = (slope.numpy() ** 2 * weights).sum(axis=1)
    tiny = 1e-300  # not np.finfo: it warns once denormals are flushed
    return np.log(np.maximum(phi2, tiny)), np.log(np.maximum(slope2, tiny))


class _Moments:
    """q -> E[φ(√q z)²], E[φ'(√q z)²] by interpolation in log q (q clamped to the grid)."""

    def __init__(self, activation: str):
        self.log_phi2, self.log_slope2 = _moment_tables(activation)

    def __call__(self, q: float) -> tuple[float, float]:
        x = math.log10(min(max(q, 1e-10), 1e12))
        return (
            math.exp(np.interp(x, _LOG10_Q_GRID, self.log_phi2)),
            math.exp(np.interp(x, _LOG10_Q_GRID, self.log_slope2)),
        )

    def fixed_point(self, sigma_w2: float, sigma_b2: float, q0: float) -> tuple[float, bool]:
        """The fixed point that iterating the variance map from q0 reaches; (q*, unbounded).

        The map is increasing in q, so iteration moves monotonically towards the first
        crossing of q_next = q in the direction of the first step.
        """
        q_grid = 10.0**_LOG10_Q_GRID
        gap = sigma_w2 * np.exp(self.log_phi2) + sigma_b2 - q_grid
        start = int(np.searchsorted(_LOG10_Q_GRID, math.log10(min(max(q0, 1e-10), 1e12))))
        start = min(start, len(q_grid) - 1)
        if gap[start] > 0:
            above = np.nonzero(gap[start:] <= 0)[0]
            if len(above) == 0:
                return float(q_grid[-1]), True
            i = start + int(above[0])
        else:
            below = np.nonzero(gap[: start + 1] >= 0)[0]
            if len(below) == 0:
                return 0.0, False
            i = int(below[-1]) + 1
            if i >= len(q_grid):
                return float(q_grid[-1]), False
        # Linear interpolation of the crossing between grid points i - 1 and i.
        g0, g1 = gap[i - 1], gap[i]
        t = 0.0 if g1 == g0 else g0 / (g0 - g1)
        return float(q_grid[i - 1] + t * (q_grid[i] - q_grid[i - 1])), False


def _max_slope(activation: str) -> float:
    """γ = max |φ'| over the real line (numerically, on a fine grid)."""
    h = torch.linspace(-20.0, 20.0, 40001, dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(activation_fn(activation)(h).sum(), h)
    return float(slope.abs().max())


def _measured_decades(layers: list[dict]) -> float | None:
    # layers[i] carries ‖∂L/∂x_i‖; x_0 is the network input, layers[-1]'s input feeds the
    # readout, so the span covers the depth − 1 hidden layers the theory describes.
    first, last = layers[0]["backward_signal"], layers[-1]["backward_signal"]
    if first and last and math.isfinite(first) and math.isfinite(last):
        return math.log10(first / last)
    return None


def mean_field_mlp(cfg: dict, layers: list[dict]) -> dict[str, Any]:
    width, depth = cfg["width"], cfg["depth"]
    init = INITS[cfg["init"]]
    sigma_w2 = init.sigma_w2(width, cfg["init_std"])
    sigma_b2 = init.bias_var(width)
    moments = _Moments(cfg["activation"])

    # Fixed point of the variance map reached from the first layer's variance, χ₁ there.
    q, unbounded = moments.fixed_point(sigma_w2, sigma_b2, sigma_w2 * 1.0 + sigma_b2)
    chi1 = sigma_w2 * moments(q)[1]

    # Layer-by-layer prediction from the input variance, over the depth − 1 hidden layers.
    q_l, log_sum, zero = sigma_w2 * 1.0 + sigma_b2, 0.0, False
    for _ in range(depth - 1):
        e_phi2, e_slope2 = moments(q_l)
        chi = sigma_w2 * e_slope2
        if chi <= 0.0:
            zero = True
            break
        log_sum += 0.5 * math.log10(chi)
        q_l = sigma_w2 * e_phi2 + sigma_b2
    predicted = None if zero else log_sum
    measured = _measured_decades(layers)
    hidden = depth - 1
    note = (
        f"Mean-field theory (Poole et al. 2016; Schoenholz et al. 2017): each layer multiplies "
        f"the squared backward signal by χ = σ_w²·E[φ'(h)²]; here σ_w² = {sigma_w2:.4g} and "
        f"χ₁ = {chi1:.4g} at the variance fixed point q* = {q:.4g}"
        + (
            " (the variance grows without bound, so χ₁ is taken at very large variance)"
            if unbounded
            else ""
        )
        + ". "
    )
    if zero:
        note += "With zero weights the predicted signal below the readout is exactly zero."
    else:
        note += f"Over {hidden} hidden layers it predicts {predicted:+.2f} decades" + (
            f"; measured {measured:+.2f}." if measured is not None else "."
        )
    return {
        "covered": True,
        "model": "mean_field",
        "chi1": chi1,
        "sigma_w2": sigma_w2,
        "sigma_b2": sigma_b2,
        "fixed_point_variance": q,
        "fixed_point_unbounded": unbounded,
        "predicted_decades": predicted,
        "predicted_decades_at_fixed_point": (
            hidden * 0.5 * math.log10(chi1) if chi1 > 0.0 else None
        ),
        "measured_decades": measured,
        "predicted_growth_per_layer": None if zero else 10.0 ** (predicted / hidden),
        "measured_growth_per_layer": None if measured is None else 10.0 ** (measured / hidden),
        "layers_compared": hidden,
        "note": note,
    }


def batchnorm_relu(cfg: dict, layers: list[dict]) -> dict[str, Any]:
    hidden = cfg["depth"] - 1
    predicted = hidden * 0.5 * math.log10(YANG_BN_RELU_RATE)
    measured = _measured_decades(layers)
    return {
        "covered": True,
        "model": "batchnorm_mean_field",
        "chi1": None,
        "rate_per_layer": YANG_BN_RELU_RATE,
        "predicted_decades": predicted,
        "measured_decades": measured,
        "predicted_growth_per_layer": math.sqrt(YANG_BN_RELU_RATE),
        "measured_growth_per_layer": None if measured is None else 10.0 ** (measured / hidden),
        "layers_compared": hidden,
        "note": (
            "Batch norm makes gradients explode whatever the weight scale: for ReLU the squared "
            f"gradient grows by π/(π−1) ≈ {YANG_BN_RELU_RATE:.3f} per layer (Yang et al. 2019), "
            f"i.e. ×{math.sqrt(YANG_BN_RELU_RATE):.3f} in norm, {predicted:+.2f} decades over "
            f"{hidden} layers"
            + (f"; measured {measured:+.2f}" if measured is not None else "")
            + ". The rate is the large-batch, large-width limit."
        ),
    }


def pascanu_rnn(cfg: dict, net: Any) -> dict[str, Any]:
    gamma = _max_slope(cfg["activation"])
    w_hh = net.layer_weights[0][1].detach().double()
    sigma_max = float(torch.linalg.matrix_norm(w_hh, ord=2))
    bound = 1.0 / gamma
    if sigma_max < bound:
        judgement = (
            f"below 1/γ = {bound:.3g}, so the gradient through time must vanish (sufficient "
            "condition)"
        )
    else:
        judgement = (
            f"at or above 1/γ = {bound:.3g}, which is necessary for exploding gradients but "
            "does not guarantee them"
        )
    return {
        "covered": False,
        "model": "pascanu_bound",
        "chi1": None,
        "predicted_decades": None,
        "largest_singular_value": sigma_max,
        "max_activation_slope": gamma,
        "note": (
            "Theory does not predict the decades for recurrent networks here, but it bounds "
            f"them (Pascanu et al. 2013): the largest singular value of the first layer's W_hh is "
            f"{sigma_max:.3g}, {judgement}."
        ),
    }


def not_covered(cfg: dict, reason: str) -> dict[str, Any]:
    return {
        "covered": False,
        "model": None,
        "chi1": None,
        "predicted_decades": None,
        "note": f"Theory does not cover this: {reason}",
    }


_NOT_COVERED = {
    "residual_mlp": "the mean-field theory of residual networks (Yang & Schoenholz 2017) is not "
    "implemented here; the identity path keeps the signal from dying, but the stream's variance "
    "grows with depth unless residual_scale is small.",
    "cnn": "convolutions are not compared with theory here (in expectation the per-layer factor "
    "matches the MLP's χ₁, Xiao et al. 2018, but borders and pooling add corrections).",
    "lstm": "gated cells have no simple closed form; the cell state's gradient shrinks by about "
    "the forget gate's value per step, σ(forget bias) at initialisation (Gers et al. 2000).",
    "gru": "gated cells have no simple closed form; the state's gradient shrinks by about the "
    "update gate's value per step.",
}


def predict(cfg: dict, layers: list[dict], net: Any) -> dict[str, Any]:
    """Theory for a normalised config, beside the measured layers (result dicts)."""
    kind, norm = cfg["kind"], cfg["norm"]
    if kind == "mlp" and norm == "none":
        return mean_field_mlp(cfg, layers)
    if kind == "mlp" and norm == "batchnorm":
        if cfg["activation"] == "relu" and cfg["init"] != "zeros":
            return batchnorm_relu(cfg, layers)
        return not_covered(
            cfg, "batch norm's explosion rate is computed here only for ReLU (Yang et al. 2019)."
        )
    if kind == "mlp":
        return not_covered(cfg, "layer norm is not part of the mean-field theory used here.")
    if kind == "rnn":
        return pascanu_rnn(cfg, net)
    return not_covered(cfg, _NOT_COVERED[kind])
