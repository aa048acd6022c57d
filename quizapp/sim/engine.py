"""`simulate`: validate, build, probe, compare with theory, optionally train, explain.

Imports torch; `quizapp.sim` imports this module only when a simulation runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from quizapp.sim.config import KINDS, SCHEMA_VERSION, SIMULATOR_VERSION, validate_config
from quizapp.sim.data import make_task
from quizapp.sim.explain import explain_result
from quizapp.sim.networks import build_network
from quizapp.sim.probe import ProbeMeasurement, run_gradient_probe
from quizapp.sim.theory import predict
from quizapp.sim.training import run_training
from quizapp.sim.verdict import summarize


@contextmanager
def pinned_torch(seed: int) -> Iterator[None]:
    """One thread, denormals flushed, gradients on, global RNG seeded and restored after.

    One thread makes the numbers reproducible and lets a worker pool run simulations side
    by side; flushing denormals keeps a vanishing network as fast as a healthy one.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    try:
        with torch.random.fork_rng(devices=[]), torch.enable_grad():
            # The CPU generator only: torch.manual_seed also queues lazy seeding for every
            # accelerator backend, which records a stack trace each time (~1 ms per run).
            torch.random.default_generator.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(threads)
        # torch cannot report the previous setting; off is its default, and leaving flushing
        # on would change float arithmetic for the rest of a caller's process (a CLI, a test).
        torch.set_flush_denormal(False)


def _layer_dicts(probe: ProbeMeasurement) -> list[dict[str, Any]]:
    layers = []
    for index, m in enumerate(probe.layers):
        numbers = [m.backward_signal, m.weight_grad_norm, m.activation_mean, m.activation_std]
        layer: dict[str, Any] = {
            "index": index,
            "name": m.name,
            "backward_signal": m.backward_signal,
            "weight_grad_norm": m.weight_grad_norm,
            "activation_mean": m.activation_mean,
            "activation_std": m.activation_std,
            "dead_fraction": m.dead_fraction,
            "saturated_fraction": m.saturated_fraction,
            "nonfinite": not all(math.isfinite(v) for v in numbers + (m.steps or [])),
        }
        if m.saturation_of is not None:  # not the activation's: e.g. attention's softmax
            layer["saturation_of"] = m.saturation_of
        if m.steps is not None:
            layer["steps"] = [
                {"t": t + 1, "backward_signal": value} for t, value in enumerate(m.steps)
            ]
        layers.append(layer)
    return layers


def json_safe(value: Any) -> Any:
    """Replace every non-finite float by None (the result keeps explicit flags instead)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def simulate(config: dict) -> dict:
    """Run one gradient-flow simulation; raises SimConfigError for a bad config."""
    cfg = validate_config(config)
    started = time.perf_counter()
    with pinned_torch(cfg["seed"]):
        net = build_network(cfg)
        task = make_task(cfg)
        x, target = task.sample()
        probe = run_gradient_probe(net, x, target, cfg["loss"])
        layers = _layer_dicts(probe)
        summary = summarize(probe, KINDS[cfg["kind"]].recurrent)
        theory = predict(cfg, layers, net, float(x.double().pow(2).mean()))
        training = run_training(net, task, cfg) if cfg["train_steps"] else None
    notes = explain_result(cfg, summary, layers, theory, training, probe.probes)
    verdict = summary.pop("verdict")  # top-level in the result, not repeated in the summary
    result = {
        "schema_version": SCHEMA_VERSION,
        "simulator_version": SIMULATOR_VERSION,
        "config": cfg,
        "verdict": verdict,
        "summary": summary,
        "layers": layers,
        "theory": theory,
        "training": training,
        "probes": probe.probes,
        "notes": notes,
        "elapsed_ms": (time.perf_counter() - started) * 1000.0,
    }
    return json_safe(result)
