"""How much memory a simulation adds to a warm worker: an honest upper bound, pure Python.

The first budget counted only the activations autograd keeps and missed the weights: a
200-layer mlp of width 1024 kept 1e6 activations (0.4% of its 0.5 GB budget) and peaked at
1.6 GB, because 200 weight matrices of 4 MB each, their gradients and the training copies
(and the probe's float64 copies of every gradient) are what fill memory. This estimate
counts all of it, the validator refuses what exceeds MEMORY_BUDGET_BYTES, and
tests/integration/test_sim_memory.py measures the peak RSS of the largest accepted
configurations of every kind against it.
"""

from __future__ import annotations

from quizapp.sim.config import (
    IMAGE_SIZE,
    KINDS,
    SimConfigError,
    estimate_work,
    input_dim,
    output_dim,
)

# Bytes per parameter alive at the peak: the weight and its gradient (float32) and the
# float64 copy of every gradient the probe takes its norms from; when training, the weights
# before the step and the update (float32) and the float64 copies of both for their norms;
# with Adam, its two moments. (Measured: a 200-layer mlp of width 1024, 210 M parameters,
# peaked 3.2 GB above a warm worker: 16 bytes each.)
PARAMETER_BYTES = 16
TRAINING_PARAMETER_BYTES = 24
ADAM_PARAMETER_BYTES = 8
# Recurrent kinds keep PyTorch's module weights beside the per-layer views the probe reads
# (measured: a 200-layer gru trained with Adam peaked 10 MiB above the counts without it).
RECURRENT_PARAMETER_BYTES = 8
# A traced training step (the per-layer backward signal the lab animates, sim/training.py)
# unrolls a recurrent network step by step beside its training state: the per-layer weight
# views and their gradients and a second set of kept activations. (Measured above the
# untraced step: +71 MiB for a 200-layer gru of width 70 over 50 steps, +47 MiB over 10
# steps, +65 MiB for 100 layers of width 100. 8 bytes a parameter covered those, but left
# the largest accepted gru trained with Adam, 182 layers of width 64, measuring 0.1-0.2%
# above its estimate, run after run: a gru's depth costs about 100 bytes a parameter at the
# margin, an lstm's 77. 16 bytes leaves every recurrent kind's largest config 5% or more
# under its estimate.)
RECURRENT_TRACED_PARAMETER_BYTES = 16
# Bytes per activation autograd keeps (estimate_work's count): the value, its gradient and
# the probe's copies; 16 covers every kind's largest accepted config (measured at most 14).
ACTIVATION_BYTES = 16
# The allocator's slack, the per-run Python objects (the result, per-layer records) and
# what the per-byte counts above miss (a deep lstm or gru trained with Adam peaked 50 MiB
# above them): measured within the budget, so a constant covers it.
FIXED_BYTES = 128 * 1024**2
# What a simulation may add to a warm worker; the validator refuses configs above it. Each
# worker's hard cap (QUIZAPP_SIM_MEMORY_MB's share, jobs/worker.py) must stay above it.
MEMORY_BUDGET_BYTES = 512 * 1024**2


def parameter_count(config: dict) -> int:
    """Weights and biases of the network `config` builds (norm parameters included)."""
    kind = KINDS[config["kind"]]
    depth, width = config["depth"], config["width"]
    n_in, n_out = input_dim(config), output_dim(config)
    if kind.recurrent:
        first = kind.gates * width * (n_in + width + 2)
        rest = (depth - 1) * kind.gates * width * (2 * width + 2)
        return first + rest + width * n_out + n_out
    if kind.name == "cnn":
        hidden = 9 * width * n_in + (depth - 2) * 9 * width * width
        return hidden + (depth - 1) * 3 * width + width * n_out + n_out
    if kind.name == "transformer":  # attention 4 w^2, feed-forward 8 w^2, norms, per block
        return n_in * width + depth * (12 * width * width + 13 * width) + width * n_out
    hidden = width * n_in + (depth - 2) * width * width
    return hidden + (depth - 1) * 3 * width + width * n_out + n_out


def parameter_bytes(config: dict) -> int:
    """Bytes per parameter at the peak, training and optimiser included."""
    per_parameter = PARAMETER_BYTES
    if KINDS[config["kind"]].recurrent:
        per_parameter += RECURRENT_PARAMETER_BYTES
    if config.get("train_steps"):
        per_parameter += TRAINING_PARAMETER_BYTES
        if config.get("optimizer") == "adam":
            per_parameter += ADAM_PARAMETER_BYTES
        if KINDS[config["kind"]].recurrent:
            per_parameter += RECURRENT_TRACED_PARAMETER_BYTES
    return per_parameter


def _traced_training(config: dict) -> bool:
    return bool(config.get("train_steps")) and KINDS[config["kind"]].recurrent


def estimate_peak_bytes(config: dict) -> int:
    """An upper bound on the bytes one simulation of a normalised `config` adds to a worker."""
    _, kept = estimate_work(config)
    positions = IMAGE_SIZE * IMAGE_SIZE if config["kind"] == "cnn" else 1
    data = config["batch_size"] * (input_dim(config) * positions + output_dim(config))
    data *= config.get("seq_len") or 1
    return int(
        parameter_count(config) * parameter_bytes(config)
        + kept * ACTIVATION_BYTES * (2 if _traced_training(config) else 1)
        + data * 8
        + FIXED_BYTES
    )


def check_memory_budget(config: dict) -> None:
    """Refuse a normalised config whose estimated memory exceeds the budget, naming the
    largest value of each size field that would fit with the others unchanged."""
    estimate = estimate_peak_bytes(config)
    if estimate <= MEMORY_BUDGET_BYTES:
        return
    hints = []
    for field, low in (("width", 2), ("depth", 1), ("batch_size", 1), ("seq_len", 2)):
        if config.get(field) is None:
            continue
        fitting = _largest_fitting(config, field, low)
        if fitting is not None and fitting < config[field]:
            hints.append(f"{field} to {fitting}")
    mib = 1024**2
    what = (
        f"estimated memory of {estimate / mib:,.0f} MiB exceeds the budget of "
        f"{MEMORY_BUDGET_BYTES / mib:,.0f} MiB"
    )
    if not hints:
        raise SimConfigError("config", f"{what}: reduce the network's size.")
    field = hints[0].split(" ", 1)[0]
    raise SimConfigError(field, f"{what}: reduce {' or '.join(hints)}.")


def _largest_fitting(config: dict, field: str, low: int) -> int | None:
    if estimate_peak_bytes(dict(config, **{field: low})) > MEMORY_BUDGET_BYTES:
        return None
    high = config[field]
    while low < high:
        middle = (low + high + 1) // 2
        if estimate_peak_bytes(dict(config, **{field: middle})) <= MEMORY_BUDGET_BYTES:
            low = middle
        else:
            high = middle - 1
    return low
