"""A short training run on the synthetic task. Imports torch.

Each step draws a fresh batch, takes one optimiser step, and records the loss and each
layer's update-to-weight ratio ‖ΔW_l‖ / ‖W_l‖, so a learner can see that where the gradient
has vanished the early layers barely move. At up to SIGNAL_SAMPLES steps it also records each
layer's backward signal ‖∂L/∂x_l‖ (x_l the layer's input), the quantity the probe measures at
initialisation, from the same backward pass.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from quizapp.sim.data import Task
from quizapp.sim.networks import Network, Trace
from quizapp.sim.probe import LOSS_FUNCTIONS, float64_norms, norms_per_layer
from quizapp.sim.verdict import safe_ratio

OPTIMIZERS: dict[str, Any] = {
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "adam": lambda params, lr: torch.optim.Adam(params, lr=lr),
}


def run_training(net: Network, task: Task, cfg: dict) -> dict[str, Any]:
    """Train for cfg["train_steps"] steps; stop early if the loss stops being finite."""
    loss_fn = LOSS_FUNCTIONS[cfg["loss"]]
    optimizer = OPTIMIZERS[cfg["optimizer"]](net.parameters, cfg["lr"])
    weights = [w for ws in net.layer_weights for w in ws]
    losses: list[float] = []
    ratio_sums = [0.0] * len(net.layer_weights)
    first_ratios: list[float] | None = None
    diverged = False
    # Each layer's backward signal at up to SIGNAL_SAMPLES evenly spaced steps: the lab
    # animates them as a layer × step heat map beside the loss.
    sampled = _sampled_steps(cfg["train_steps"])
    signal_steps: list[int] = []
    signals: list[list[float]] = []
    output_signals: list[float] = []  # ‖∂L/∂y‖ at the output, the main chart's reference
    for step in range(cfg["train_steps"]):
        x, target = task.sample()
        # On a sampled step the forward pass is traced and the layers' inputs keep their
        # gradients; the weights' gradients, and so the step, are the same either way.
        trace = Trace() if step in sampled else None
        if trace is not None:
            x.requires_grad_(True)
        y = net.forward(x, trace)
        loss = loss_fn(y, target)
        value = float(loss.detach())
        losses.append(value)
        if not math.isfinite(value):
            diverged = True
            break
        optimizer.zero_grad(set_to_none=True)
        if trace is not None:
            for tensor in [*trace.inputs, y]:
                if tensor.requires_grad:
                    tensor.retain_grad()
        loss.backward()
        if trace is not None:
            kept = [*trace.inputs, y]
            norms = float64_norms([t.grad if t.grad is not None else torch.zeros_like(t)
                                   for t in kept])  # fmt: skip
            signals.append(norms[:-1])
            output_signals.append(norms[-1])
            signal_steps.append(step + 1)
        with torch.no_grad():
            before = [w.detach().clone() for w in weights]
            optimizer.step()
            deltas = torch._foreach_sub([w.detach() for w in weights], before)
            norms = float64_norms([*deltas, *before])
        delta_norms = norms_per_layer(norms[: len(weights)], net.layer_weights)
        weight_norms = norms_per_layer(norms[len(weights) :], net.layer_weights)
        ratios = [safe_ratio(d, w) for d, w in zip(delta_norms, weight_norms, strict=True)]
        if first_ratios is None:
            first_ratios = ratios
        ratio_sums = [s + r for s, r in zip(ratio_sums, ratios, strict=True)]
    completed = len(losses) - (1 if diverged else 0)
    mean_ratios = [s / completed for s in ratio_sums] if completed else [None] * len(ratio_sums)
    return {
        "steps": cfg["train_steps"],
        "steps_completed": completed,
        "optimizer": cfg["optimizer"],
        "lr": cfg["lr"],
        "task": cfg["task"],
        "loss": losses,
        "loss_initial": losses[0] if losses else None,
        "loss_final": losses[-1] if losses else None,
        "diverged": diverged,
        "update_ratio_per_layer": mean_ratios,
        "update_ratio_first_step": first_ratios,
        "update_ratio_definition": "mean over steps of ‖ΔW_l‖ / ‖W_l‖ (weights before the step)",
        "layer_signal_steps": signal_steps,
        "layer_backward_signals": signals,
        "output_signals": output_signals,
        "layer_signal_definition": "‖∂L/∂x_l‖, x_l each layer's input, as the probe measures",
    }


SIGNAL_SAMPLES = 60


def _sampled_steps(steps: int) -> set[int]:
    """Evenly spaced step indices, the first and the last always among them."""
    if steps <= SIGNAL_SAMPLES:
        return set(range(steps))
    return {round(i * (steps - 1) / (SIGNAL_SAMPLES - 1)) for i in range(SIGNAL_SAMPLES)}
