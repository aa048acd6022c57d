"""A phase diagram's cells, many networks at once. Imports torch (a worker runs it).

Cells of a plain MLP (normal init, no norm) that differ only in their weight std and bias std
draw the same standard normal numbers: `simulate` seeds the generator with the config's seed
and draws each layer's weight, then (with a bias std) its bias, and normal_(0, s) is s times
normal_(0, 1). So such a group is built once at unit scale, scaled per cell, and probed as one
batched network (one batched matrix product per layer for every cell). Its numbers are
`simulate`'s to float32 rounding (tests/unit/test_phase_batch.py compares them); any other
cell is one `simulate`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from quizapp.sim.activations import activation_fn
from quizapp.sim.config import input_dim, output_dim
from quizapp.sim.data import make_task
from quizapp.sim.engine import pinned_torch
from quizapp.sim.phase import cell_summary
from quizapp.sim.theory import mlp_chi1
from quizapp.sim.verdict import decide_verdict, safe_ratio

# Cells probed together at most (memory: depth × cells × batch × width floats kept twice).
CHUNK_CELLS = 24
_SCALES = ("init_std", "bias_std")


def batchable(config: dict[str, Any]) -> bool:
    return config["kind"] == "mlp" and config["norm"] == "none" and config["init"] == "normal"


def _group_key(config: dict[str, Any]) -> str:
    """Cells with the same key share their random draws (a bias std or not changes them)."""
    rest = {k: v for k, v in config.items() if k not in _SCALES}
    return json.dumps([rest, bool(config.get("bias_std"))], sort_keys=True)


def run_cells(cells: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """[{"index", "log10_ratio", "verdict", "chi1"}] for normalised cell configs, in order."""
    from quizapp.sim import simulate

    groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    out: dict[int, dict[str, Any]] = {}
    for index, config in cells:
        if batchable(config):
            groups.setdefault(_group_key(config), []).append((index, config))
        else:
            out[index] = {"index": index, **cell_summary(simulate(config))}
    for group in groups.values():
        for start in range(0, len(group), CHUNK_CELLS):
            chunk = group[start : start + CHUNK_CELLS]
            summaries = probe_mlp_group([config for _, config in chunk])
            for (index, _), summary in zip(chunk, summaries, strict=True):
                out[index] = {"index": index, **summary}
    return [out[index] for index, _ in cells]


def _norms(t: Tensor) -> Tensor:
    """Per cell (first dimension), the Euclidean norm in float64."""
    return torch.linalg.vector_norm(t, dim=tuple(range(1, t.dim())), dtype=torch.float64)


def probe_mlp_group(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The phase-cell summary of plain MLP configs that differ only in init_std/bias_std."""
    base = configs[0]
    depth, width, biased = base["depth"], base["width"], bool(base.get("bias_std"))
    dims = [input_dim(base)] + [width] * (depth - 1) + [output_dim(base)]
    with pinned_torch(base["seed"]):
        unit_weights, unit_biases = [], []
        for i in range(depth):  # build_mlp's draws, in its order, at unit scale
            unit_weights.append(torch.empty(dims[i + 1], dims[i]).normal_(0.0, 1.0))
            if biased:
                unit_biases.append(torch.zeros(dims[i + 1]).normal_(0.0, 1.0))
        x, target = make_task(base).sample()
        cells = len(configs)
        w_scale = torch.tensor([c["init_std"] for c in configs]).view(cells, 1, 1)
        b_scale = torch.tensor([c.get("bias_std") or 0.0 for c in configs]).view(cells, 1)
        phi = activation_fn(base["activation"])
        inputs = [x.expand(cells, *x.shape).clone().requires_grad_(True)]
        h = inputs[0]
        for i in range(depth):
            weight = w_scale * unit_weights[i]  # (cells, out, in): normal_(0, std)'s values
            if biased:
                bias = (b_scale * unit_biases[i]).unsqueeze(1)
                h = torch.baddbmm(bias, h, weight.transpose(1, 2))
            else:
                h = torch.bmm(h, weight.transpose(1, 2))
            if i < depth - 1:
                h = phi(h)
                inputs.append(h)
        y = h
        per_cell_loss = _cell_losses(base["loss"], y, target)
        # Summed over cells, each cell's gradient is its own loss's.
        grads = torch.autograd.grad(per_cell_loss.sum(), [inputs[0], y])
        with torch.no_grad():
            signal_in, signal_out = _norms(grads[0]), _norms(grads[1])
            # Non-finite anywhere in the forward pass or the loss makes a cell "exploding", as
            # simulate's summary does; a finite norm means finite means and stds.
            forward = torch.stack([_norms(t) for t in inputs[1:]] + [_norms(y)]).sum(dim=0)
            finite = torch.isfinite(forward + per_cell_loss.double() + signal_in + signal_out)
        input_square = float(x.double().pow(2).mean())
    out = []
    for config, first, last, ok in zip(
        configs, signal_in.tolist(), signal_out.tolist(), finite.tolist(), strict=True
    ):
        ratio = safe_ratio(first, last)
        out.append(
            {
                "log10_ratio": math.log10(ratio) if ratio and math.isfinite(ratio) else None,
                "verdict": decide_verdict(ratio, not ok),
                "chi1": mlp_chi1(config, input_square),
            }
        )
    return out


def _cell_losses(name: str, y: Tensor, target: Tensor) -> Tensor:
    """Each cell's mean loss over its batch, as the probe's loss function gives it."""
    cells, batch, outputs = y.shape
    if name == "cross_entropy":
        flat = F.cross_entropy(
            y.reshape(cells * batch, outputs), target.repeat(cells), reduction="none"
        )
        return flat.view(cells, batch).mean(dim=1)
    return (y - target).pow(2).mean(dim=(1, 2))
