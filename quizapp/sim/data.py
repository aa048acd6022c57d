"""Synthetic tasks: a random teacher network, or 2-D spirals. Imports torch.

Data come from their own generator seeded by the config's seed, so every network a learner
tries with the same seed sees the same examples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from quizapp.sim.config import IMAGE_CHANNELS, IMAGE_SIZE, SPIRAL_ARMS, input_dim, output_dim

_TEACHER_HIDDEN = 32


@dataclass
class Task:
    sample: Callable[[], tuple[Tensor, Tensor]]  # -> (inputs, targets) for one batch


def _targets(scores: Tensor, loss: str) -> Tensor:
    if loss == "cross_entropy":
        return scores.argmax(dim=-1)
    return scores


def _teacher(cfg: dict, generator: torch.Generator) -> Callable[[Tensor], Tensor]:
    """A fixed random one-hidden-layer tanh network mapping flattened inputs to scores."""
    n_in = input_dim(cfg) * (IMAGE_SIZE * IMAGE_SIZE if cfg["kind"] == "cnn" else 1)
    w1 = torch.randn(n_in, _TEACHER_HIDDEN, generator=generator) / math.sqrt(n_in)
    w2 = torch.randn(_TEACHER_HIDDEN, output_dim(cfg), generator=generator) / math.sqrt(
        _TEACHER_HIDDEN
    )
    return lambda x: torch.tanh(x.flatten(1) @ w1 * 2.0) @ w2


def make_teacher_task(cfg: dict, generator: torch.Generator) -> Task:
    teacher = _teacher(cfg, generator)
    batch, n_in = cfg["batch_size"], input_dim(cfg)
    transformer = cfg["kind"] == "transformer"
    if cfg["kind"] == "cnn":
        shape: tuple[int, ...] = (batch, IMAGE_CHANNELS, IMAGE_SIZE, IMAGE_SIZE)
    elif transformer:
        shape = (batch, cfg["seq_len"], n_in)  # token embeddings, batch first
    elif cfg["seq_len"] is not None:
        shape = (cfg["seq_len"], batch, n_in)
    else:
        shape = (batch, n_in)

    def sample() -> tuple[Tensor, Tensor]:
        x = torch.randn(shape, generator=generator)
        if transformer:
            # One target per token (the loss averages over every token), flattened so that
            # both losses take (batch · seq_len, outputs) as for the other kinds.
            return x, _targets(teacher(x.reshape(-1, n_in)), cfg["loss"])
        # Recurrent kinds must remember the first step: the target depends on x_1 only, so
        # learning needs the gradient that travels back through every step.
        source = x[0] if cfg["seq_len"] is not None else x
        return x, _targets(teacher(source), cfg["loss"])

    return Task(sample)


def make_spirals_task(cfg: dict, generator: torch.Generator) -> Task:
    batch, width = cfg["batch_size"], cfg["width"]
    # Fixed random embedding of the plane into `width` features. Each point has E‖p‖² ≈ 0.96,
    # so a feature's variance is ≈ 0.48 on average over embeddings (0.42–0.53 for one seed),
    # not 1: the theory reads the batch's own mean square.
    embed = torch.randn(2, width, generator=generator) / math.sqrt(2.0)

    def sample() -> tuple[Tensor, Tensor]:
        arm = torch.randint(SPIRAL_ARMS, (batch,), generator=generator)
        t = torch.rand(batch, generator=generator)
        angle = 3.0 * math.pi * t + 2.0 * math.pi * arm / SPIRAL_ARMS
        radius = 1.7 * t  # E[r²] = 1.7² / 3 ≈ 0.96, so ≈ 0.48 per coordinate
        points = torch.stack((radius * torch.cos(angle), radius * torch.sin(angle)), dim=1)
        points = points + 0.05 * torch.randn(batch, 2, generator=generator)
        scores = torch.nn.functional.one_hot(arm, SPIRAL_ARMS).float()
        return points @ embed, _targets(scores, cfg["loss"])

    return Task(sample)


TASKS: dict[str, Callable[[dict, torch.Generator], Task]] = {
    "teacher": make_teacher_task,
    "spirals": make_spirals_task,
}


def make_task(cfg: dict) -> Task:
    """The synthetic task of a normalised config, seeded by its seed."""
    generator = torch.Generator().manual_seed(cfg["seed"])
    return TASKS[cfg["task"]](cfg, generator)
