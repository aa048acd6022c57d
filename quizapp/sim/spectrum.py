"""Singular values of the input–output Jacobian of an mlp's hidden stack. Imports torch.

J = D_{L−1} W_{L−1} ⋯ D_1 W_1 (D_l = diag φ'(h_l)) maps a change of the network input x_0 to
a change of x_{L−1}, the readout's input, for one example. It is computed exactly, in float64,
for the first `SPECTRUM_EXAMPLES` examples of the batch, and its singular values are pooled.
Mean-field theory gives only their mean square (χ per layer); dynamical isometry
(Pennington, Schoenholz & Ganguli 2017) is about their spread: all near 1.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from quizapp.sim.activations import activation_fn

SPECTRUM_EXAMPLES = 1
SPECTRUM_MAX_WIDTH = 256
# Multiply-adds of the exact product (examples · (depth − 1) · width³) above which it is
# skipped: ~1 s on one core.
SPECTRUM_MAX_WORK = 2.0e9
HISTOGRAM_BINS = 24


# "auto" computes the spectrum when its products cost at most this share of the probe's
# forward and backward pass (the exact product is depth · width³; the probe depth · batch ·
# width² · 3), so that the spectrum never dominates an ordinary run.
AUTO_SHARE = 0.25


def spectrum_applies(cfg: dict) -> str | None:
    """None if the spectrum is computed for this config, else the reason it is not."""
    if cfg["kind"] != "mlp":
        return "computed for mlp only"
    if cfg.get("jacobian_spectrum") == "off":
        return "switched off (jacobian_spectrum: off)"
    if cfg["norm"] == "batchnorm":
        return "batch norm couples the examples, so there is no per-example Jacobian"
    if cfg["width"] > SPECTRUM_MAX_WIDTH:
        return f"computed up to width {SPECTRUM_MAX_WIDTH}"
    work = SPECTRUM_EXAMPLES * (cfg["depth"] - 1) * cfg["width"] ** 3
    if work > SPECTRUM_MAX_WORK:
        return "too large to compute exactly within the time budget"
    probe = 3.0 * cfg["depth"] * cfg["batch_size"] * cfg["width"] ** 2
    if cfg.get("jacobian_spectrum", "auto") == "auto" and 4.0 * work > AUTO_SHARE * probe:
        return (
            "it would cost more than the probe itself at this batch size; ask for it with "
            "jacobian_spectrum: exact"
        )
    return None


def _layer_norm_jacobian(h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """∂LN(h)/∂h per example: γ/σ · (I − 11ᵀ/n − ĥĥᵀ/n), h of shape (examples, n)."""
    n = h.shape[-1]
    centred = h - h.mean(dim=-1, keepdim=True)
    sigma = torch.sqrt(centred.pow(2).mean(dim=-1, keepdim=True) + 1e-5)
    unit = centred / sigma
    eye = torch.eye(n, dtype=h.dtype)
    inner = eye - 1.0 / n - unit[:, :, None] * unit[:, None, :] / n
    return weight[None, :, None] * inner / sigma[:, :, None]


def jacobian_spectrum(cfg: dict, linears: list, norms: list, trace: Any) -> dict[str, Any]:
    """Exact singular values of J for a few examples, with their summary statistics."""
    reason = spectrum_applies(cfg)
    if reason is not None:
        return {"computed": False, "reason": reason}
    examples = min(SPECTRUM_EXAMPLES, trace.inputs[0].shape[0])
    phi = activation_fn(cfg["activation"])
    hidden = len(norms)  # the readout has no norm
    # Every layer's slopes in one autograd call: per-layer calls would cost more than the
    # products themselves at small widths.
    with torch.enable_grad():
        pre = torch.stack([p[:examples] for p in trace.pre[:hidden]]).detach().double()
        pre.requires_grad_(True)
        (slopes,) = torch.autograd.grad(phi(pre).sum(), pre)
    jac = None
    for index, ((weight, bias), norm) in enumerate(zip(linears, norms, strict=False)):
        w = weight.detach().double()
        if norm is not None:  # layer norm: its own per-example Jacobian
            raw = torch.nn.functional.linear(
                trace.inputs[index][:examples].detach().double(), w, bias.detach().double()
            )
            step = _layer_norm_jacobian(raw, norm.weight.detach().double()) @ w
            step = slopes[index][:, :, None] * step
            jac = step if jac is None else step @ jac
        else:  # D·W·J without forming D·W: scale the rows of W·J
            jac = w.expand(examples, *w.shape) if jac is None else w @ jac
            jac = slopes[index][:, :, None] * jac
    singular = torch.linalg.svdvals(jac).flatten()
    values = sorted(singular.tolist(), reverse=True)
    positive = singular[singular > 0]
    logs = torch.log10(positive) if len(positive) else torch.zeros(1, dtype=torch.float64)
    mean_square = float(singular.pow(2).mean())
    low, high = (math.floor(float(logs.min()) * 4) / 4, math.ceil(float(logs.max()) * 4) / 4)
    high = max(high, low + 0.25)
    counts = torch.histc(logs, bins=HISTOGRAM_BINS, min=low, max=high).tolist()
    return {
        "computed": True,
        "examples": examples,
        "factors": cfg["depth"] - 1,
        "width": cfg["width"],
        "singular_values": values,
        "mean_singular_value": float(singular.mean()),
        "mean_squared_singular_value": mean_square,
        "std_singular_value": float(singular.std()),
        "max_singular_value": values[0],
        "min_singular_value": values[-1],
        "condition_number": values[0] / values[-1] if values[-1] > 0 else None,
        "log10_std": float(logs.std()) if len(logs) > 1 else 0.0,
        "spread_decades": math.log10(values[0] / values[-1]) if values[-1] > 0 else None,
        "zero_fraction": float((singular == 0).double().mean()),
        "histogram": {
            "log10_edges": [
                low + (high - low) * i / HISTOGRAM_BINS for i in range(HISTOGRAM_BINS + 1)
            ],
            "counts": [int(c) for c in counts],
        },
        "definition": "singular values of J = ∂x_{L−1}/∂x_0 (the hidden stack, readout "
        f"excluded), exact in float64, pooled over the first {examples} examples",
    }
