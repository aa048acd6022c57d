"""One forward and backward pass at initialisation, measured layer by layer. Imports torch.

Norms are taken in float64 (a float32 norm of a float32 tensor overflows to inf, or
underflows to 0, long before the entries themselves do). The pass itself runs in float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from quizapp.sim.networks import Network, Trace

LOSS_FUNCTIONS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse": F.mse_loss,
    "cross_entropy": F.cross_entropy,
}


@dataclass
class LayerMeasurement:
    name: str
    backward_signal: float  # ‖∂L/∂x_l‖, x_l the layer's input
    weight_grad_norm: float
    activation_mean: float
    activation_std: float
    dead_fraction: float | None
    saturated_fraction: float | None
    steps: list[float] | None = None  # recurrent: ‖∂L/∂h_t‖ for t = 1..T
    saturation_of: str | None = None  # "softmax" where saturation is of attention weights


@dataclass
class ProbeMeasurement:
    loss: float
    output_signal: float  # ‖∂L/∂y‖ at the output (logits)
    layers: list[LayerMeasurement]
    probes: dict[str, Any] = field(default_factory=dict)  # the network's probe hooks' output


def float64_norms(tensors: list[Tensor]) -> list[float]:
    """Euclidean norms in float64, one dispatch for the whole list."""
    if not tensors:
        return []
    return torch.stack(torch._foreach_norm(tensors, 2, dtype=torch.float64)).tolist()


def norms_per_layer(matrix_norms: list[float], layer_weights: list[list[Tensor]]) -> list[float]:
    """Combine per-matrix norms (in layer_weights order) into one norm per reported layer."""
    out, position = [], 0
    for weights in layer_weights:
        part = matrix_norms[position : position + len(weights)]
        out.append(math.sqrt(sum(v * v for v in part)))
        position += len(weights)
    return out


def _alive_units(pre: Tensor, kind: str) -> Tensor:
    """Per unit (channel for cnn, feature otherwise): positive for at least one example."""
    positive = pre > 0
    if kind == "cnn":
        return positive.any(dim=(0, 2, 3))
    return positive.flatten(0, -2).any(dim=0)


def _activation_stats(net: Network, trace: Trace) -> list[list[float | None]]:
    """Per layer: [mean, std, dead fraction, saturated fraction] of the forward pass.

    Means and standard deviations accumulate in float64 without a float64 copy; the work is
    batched across layers because at small sizes per-operation overhead dominates.
    """
    acts = trace.act
    count = torch.tensor([a.numel() for a in acts], dtype=torch.float64)
    sums = torch.stack([a.sum(dtype=torch.float64) for a in acts])
    squares = torch.stack(torch._foreach_norm(acts, 2, dtype=torch.float64)) ** 2
    mean = sums / count
    std = ((squares - count * mean * mean).clamp_min(0.0) / (count - 1).clamp_min(1.0)).sqrt()
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    dead, saturated = [], []
    for index, pre in enumerate(trace.pre):
        if pre is not None and net.dead_family:
            dead.append(1.0 - _alive_units(pre, net.kind).double().mean())
        else:
            dead.append(nan)
        if index in trace.saturated:
            saturated.append(trace.saturated[index])
        elif pre is not None and net.saturation_at is not None:
            over = torch.count_nonzero(pre.abs() > net.saturation_at)
            saturated.append(over.double() / pre.numel())
        else:
            saturated.append(nan)
    table = torch.stack((mean, std, torch.stack(dead), torch.stack(saturated)), dim=1).tolist()
    # NaN marks "does not apply" for the two fractions; a NaN mean/std stays (non-finite).
    return [[m, s, None if d != d else d, None if f != f else f] for m, s, d, f in table]


def run_gradient_probe(net: Network, x: Tensor, target: Tensor, loss_name: str) -> ProbeMeasurement:
    """Forward + backward once; return per-layer backward signal, weight gradient, statistics."""
    x = x.detach().requires_grad_(True)
    trace = Trace()
    y = net.forward(x, trace)
    loss = LOSS_FUNCTIONS[loss_name](y, target)
    steps = [h for layer_steps in trace.steps for h in layer_steps]
    weights = [w for ws in net.layer_weights for w in ws]
    wanted = [*trace.inputs, y, *steps, *weights]
    grads = torch.autograd.grad(loss, wanted, allow_unused=True)
    grads = [
        g if g is not None else torch.zeros_like(t) for g, t in zip(grads, wanted, strict=True)
    ]

    n_layers = len(trace.inputs)
    norms = float64_norms(grads)
    signals, output_signal = norms[:n_layers], norms[n_layers]
    step_norms = norms[n_layers + 1 : n_layers + 1 + len(steps)]
    weight_norms = norms[n_layers + 1 + len(steps) :]

    per_layer_weight = norms_per_layer(weight_norms, net.layer_weights)

    with torch.no_grad():
        stats = _activation_stats(net, trace)
        probes = {name: hook(trace, signals) for name, hook in net.probes.items()}
    seq_len = len(trace.steps[0]) if trace.steps else 0
    layers = []
    for i, name in enumerate(net.layer_names):
        mean, std, dead, saturated = stats[i]
        layer_steps = None
        if i < len(trace.steps):
            layer_steps = step_norms[i * seq_len : (i + 1) * seq_len]
        layers.append(
            LayerMeasurement(
                name=name,
                backward_signal=signals[i],
                weight_grad_norm=per_layer_weight[i],
                activation_mean=mean,
                activation_std=std,
                dead_fraction=dead,
                saturated_fraction=saturated,
                steps=layer_steps,
                saturation_of="softmax" if i in trace.saturated else None,
            )
        )
    return ProbeMeasurement(
        loss=float(loss.detach()), output_signal=output_signal, layers=layers, probes=probes
    )
