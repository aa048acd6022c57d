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
    if kind == "transformer":
        return transformer_theory(cfg, layers, net)
    return not_covered(cfg, _NOT_COVERED[kind])


# --- two-point expectations (token and example correlations) ------------------------------

_HERMITE_NODES, _HERMITE_WEIGHTS = np.polynomial.hermite_e.hermegauss(48)
_HERMITE_WEIGHTS = _HERMITE_WEIGHTS / _HERMITE_WEIGHTS.sum()


def pair_moments(activation: str, q: float, c: float) -> tuple[float, float, float, float]:
    """E[φ(u)²], E[φ(u)φ(u')], E[φ'(u)²], E[φ'(u)φ'(u')] for (u, u') ~ N(0, [[q, c], [c, q]]).

    Gauss–Hermite on 48 × 48 nodes: accurate for the smooth activations and variances of
    order one that the transformer recursion meets (its inputs are layer-normalised).
    """
    q = max(q, 1e-12)
    rho = max(-1.0, min(1.0, c / q))
    z1, z2 = np.meshgrid(_HERMITE_NODES, _HERMITE_NODES, indexing="ij")
    weight = np.outer(_HERMITE_WEIGHTS, _HERMITE_WEIGHTS)
    u = math.sqrt(q) * z1
    v = math.sqrt(q) * (rho * z1 + math.sqrt(max(0.0, 1.0 - rho * rho)) * z2)
    both = torch.tensor(np.stack((u, v)), dtype=torch.float64, requires_grad=True)
    out = activation_fn(activation)(both)
    (slope,) = torch.autograd.grad(out.sum(), both)
    phi, dphi = out.detach().numpy(), slope.numpy()
    return (
        float((phi[0] ** 2 * weight).sum()),
        float((phi[0] * phi[1] * weight).sum()),
        float((dphi[0] ** 2 * weight).sum()),
        float((dphi[0] * dphi[1] * weight).sum()),
    )


# --- transformer --------------------------------------------------------------------------


def _transformer_scales(cfg: dict) -> dict[str, float]:
    """σ² = fan_in · Var(W) of each matrix of a block, and the bias variances."""
    width, init, std = cfg["width"], cfg["init"], cfg["init_std"]
    if init == "default":
        # nn.MultiheadAttention: Xavier-uniform on the stacked (3w, w) in_proj, so Var =
        # 2 / (w + 3w) and σ² = 1/2; zero in_proj and out_proj biases; out_proj and the
        # feed-forward layers are nn.Linear (σ² = 1/3, bias Var = 1/(3 fan_in)).
        return {
            "qkv": 0.5, "out": 1.0 / 3.0, "ffn_in": 1.0 / 3.0, "ffn_out": 1.0 / 3.0,
            "ffn_in_bias": 1.0 / (3.0 * width), "ffn_out_bias": 1.0 / (12.0 * width),
        }  # fmt: skip
    spec = INITS[init]
    square = spec.sigma_w2(width, std)
    # Non-square layers: Xavier's variance depends on fan_out too; normal's on fan_in.
    expand = {
        "xavier_uniform": (2.0 * width / (5.0 * width), 2.0 * 4 * width / (5.0 * width)),
        "xavier_normal": (2.0 * width / (5.0 * width), 2.0 * 4 * width / (5.0 * width)),
        "normal": (width * std * std if std else 0.0, 4 * width * std * std if std else 0.0),
    }.get(init, (square, square))
    return {
        "qkv": square, "out": square, "ffn_in": expand[0], "ffn_out": expand[1],
        "ffn_in_bias": 0.0, "ffn_out_bias": 0.0,
    }  # fmt: skip


# Beyond this predicted std of the attention scores the weights are no longer near uniform
# and the recursion's error exceeds 0.3 decades at depth 12 (measured; docs/simulator.md).
TRANSFORMER_SCORE_STD_LIMIT = 1.0


def transformer_theory(cfg: dict, layers: list[dict], net: Any) -> dict[str, Any]:
    """Residual recursion for the stream's variance and the backward signal, sub-layer by
    sub-layer, with attention at its uniform initial weights (small scores)."""
    s2 = cfg["residual_scale"] ** 2
    tokens, act = cfg["seq_len"], cfg["activation"]
    pre = cfg["norm_position"] == "pre"
    post = cfg["norm_position"] == "post"
    sc = _transformer_scales(cfg)
    v, k = 1.0, 0.0  # per-coordinate variance of a token, covariance between two tokens
    saved, stream_variance, score_std = [], [], []
    for _ in range(cfg["depth"]):
        for part in ("attn", "ffn"):
            vin, kin = (1.0, k / v) if pre else (v, k)
            moments = (0.0, 0.0, 0.0, 0.0)
            if part == "attn":
                score_std.append(sc["qkv"] * vin)  # std of q·k/√d_head: σ_q σ_k · variance
                shared = sc["qkv"] * sc["out"] * (kin + (vin - kin) / tokens)
                out_v = out_k = shared
            else:
                q1 = sc["ffn_in"] * vin + sc["ffn_in_bias"]
                c1 = sc["ffn_in"] * kin + sc["ffn_in_bias"]
                moments = pair_moments(act, q1, c1)
                out_v = sc["ffn_out"] * moments[0] + sc["ffn_out_bias"]
                out_k = sc["ffn_out"] * moments[1] + sc["ffn_out_bias"]
            saved.append((part, v, k, vin, kin, moments))
            v, k = v + s2 * out_v, k + s2 * out_k
            if post:
                saved[-1] = saved[-1] + (v,)
                v, k = 1.0, k / v
            stream_variance.append(v)
    # Backward: second moment g of a token's gradient and covariance h between tokens,
    # from the readout's input (the loss sees every token independently: h = 0) down.
    g, h = 1.0, 0.0
    for entry in reversed(saved):
        part, v, k, vin, kin, moments = entry[:6]
        if post:
            before_norm = entry[6]
            g, h = g / before_norm, h / before_norm
        if part == "attn":
            value_path = sc["qkv"] * sc["out"] * (g / tokens + (1.0 - 1.0 / tokens) * h)
            # Through the scores (query and key paths alike): the softmax Jacobian at uniform
            # weights is (I − 11ᵀ/T)/T, which sees only the part of the values that differs
            # between tokens.
            score_path = 2.0 * sc["qkv"] ** 3 * sc["out"] * vin * (vin - kin) * g / tokens
            bg, bh = value_path + score_path, value_path
        else:
            _, _, e_d2, e_dd = moments
            bg = sc["ffn_in"] * sc["ffn_out"] * e_d2 * g
            bh = sc["ffn_in"] * sc["ffn_out"] * e_dd * h
        if pre:  # the branch reads LN(x): its Jacobian divides by the stream's std
            bg, bh = bg / v, bh / v
        g, h = g + s2 * bg, h + s2 * bh
    predicted = 0.5 * math.log10(g) if g > 0 else None
    measured = _measured_decades(layers)
    measured_variance = [
        layer["activation_std"] ** 2 if layer["activation_std"] is not None else None
        for layer in layers[:-1]
    ]
    largest_score_std = max(score_std)
    applies = largest_score_std < TRANSFORMER_SCORE_STD_LIMIT
    sublayers = 2 * cfg["depth"]
    style = {
        "pre": "pre-LN: each branch reads a layer-normalised copy of the stream, so the "
        "stream's variance grows about linearly with depth and each sub-layer's Jacobian "
        "I + ∂F/∂x adds only ~1/variance: the gradient stays near 1 but the branches' share "
        "shrinks (Xiong et al. 2020)",
        "post": "post-LN: the stream is normalised after every addition, which divides the "
        "backward signal by √(1 + branch variance) per sub-layer; near the output the weight "
        "gradients are not damped by depth, which is why post-LN needs warm-up (Xiong et al. "
        "2020)",
        None: "no norm: each sub-layer multiplies the stream's variance by about 1 + "
        "residual_scale²·(branch gain), so it grows geometrically with depth unless the "
        "branches are scaled down (~1/√L, or zero-initialised: Fixup, ReZero)",
    }[cfg["norm_position"]]
    note = (
        f"Residual recursion for transformers ({style}). Sub-layer by sub-layer it tracks the "
        "stream's variance and the correlation between tokens (uniform attention averages the "
        f"values over {tokens} tokens and gives every token the same output), and predicts "
        + (f"{predicted:+.2f} decades over {sublayers} sub-layers" if predicted else "")
        + (f"; measured {measured:+.2f}." if measured is not None else ".")
    )
    if not applies:
        note += (
            f" It does not apply here: the attention scores' predicted std reaches "
            f"{largest_score_std:.3g} (≥ {TRANSFORMER_SCORE_STD_LIMIT:g}), so the softmax is "
            "far from uniform, which the recursion assumes."
        )
    return {
        "covered": applies,
        "model": "transformer_residual_recursion",
        "chi1": None,
        "predicted_decades": predicted if applies else None,
        "measured_decades": measured,
        "predicted_growth_per_layer": (
            10.0 ** (predicted / sublayers) if applies and predicted is not None else None
        ),
        "measured_growth_per_layer": (None if measured is None else 10.0 ** (measured / sublayers)),
        "layers_compared": sublayers,
        "predicted_stream_variance": stream_variance,
        "measured_stream_variance": measured_variance,
        "predicted_score_std": score_std,
        "not_applicable_reason": (
            None
            if applies
            else f"attention scores too large (std ≥ {TRANSFORMER_SCORE_STD_LIMIT:g})"
        ),
        "note": note,
    }
