"""The simulator's memory estimate is honest: for the largest configurations the validator
accepts, of every kind, the peak RSS a simulation adds to a warm worker (measured in a fresh
subprocess) stays under the estimate, and the estimate under the budget.

"Largest" per kind: the widest network at the greatest depth, trained with Adam (weights,
gradients, training copies and optimiser state dominate), and the largest batch (recurrent
kinds: over 500 time steps), where the activations autograd keeps dominate. Each is found
by asking the validator itself.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

from quizapp.sim import SimConfigError, validate_config
from quizapp.sim.config import KINDS, LIMITS
from quizapp.sim.memory import MEMORY_BUDGET_BYTES, estimate_peak_bytes

# Runs in a fresh interpreter: warm up (torch, one tiny run), reset the peak (clear_refs),
# then simulate and report how far the peak rose above the warm worker.
MEASURE = """
import json, sys
from quizapp.sim import simulate

def status(field):
    with open("/proc/self/status") as lines:
        return next(int(l.split()[1]) * 1024 for l in lines if l.startswith(field + ":"))

simulate({"kind": "mlp", "depth": 2, "width": 2, "batch_size": 2})
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")
base = status("VmRSS")
simulate(json.loads(sys.argv[1]))
print(status("VmHWM") - base)
"""


def accepts(config: dict) -> bool:
    try:
        validate_config(config)
    except SimConfigError:
        return False
    return True


def largest_accepted(config: dict, field: str) -> dict:
    low, high = 1, LIMITS[field]
    while not accepts(dict(config, **{field: low})):  # depth starts at 2 for some kinds
        low += 1
        assert low <= 3, config
    while low < high:
        middle = (low + high + 1) // 2
        if accepts(dict(config, **{field: middle})):
            low = middle
        else:
            high = middle - 1
    return validate_config(dict(config, **{field: low}))


def largest_configs() -> list:
    found = []
    for kind, spec in KINDS.items():
        deepest = largest_accepted(
            {"kind": kind, "width": 64, "batch_size": 1, "train_steps": 2, "optimizer": "adam"},
            "depth",
        )
        weights = largest_accepted(dict(deepest, width=None), "width")
        base = {"kind": kind}
        if spec.recurrent:
            base["seq_len"] = LIMITS["seq_len"]
        else:  # wide layers, so a large batch keeps many values per layer
            base["width"] = 64 if kind == "cnn" else 512
        activations = largest_accepted(base, "batch_size")
        found += [
            pytest.param(weights, id=f"{kind}-weights"),
            pytest.param(activations, id=f"{kind}-activations"),
        ]
    return found


def measured_peak(config: dict) -> int:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(config)],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.strip())


@pytest.mark.slow
@pytest.mark.parametrize("config", largest_configs())
def test_the_largest_accepted_configs_stay_under_their_estimate(config):
    estimate = estimate_peak_bytes(config)
    assert estimate <= MEMORY_BUDGET_BYTES
    peak = measured_peak(config)
    assert peak <= estimate, f"{peak / 2**20:.0f} MiB measured > {estimate / 2**20:.0f} MiB"


def test_the_configuration_that_peaked_at_1_6_gb_is_refused_with_a_way_out():
    with pytest.raises(SimConfigError) as refused:
        validate_config({"kind": "mlp", "depth": 200, "width": 1024, "batch_size": 1})
    assert "exceeds the budget of 512 MiB" in str(refused.value)
    assert "reduce width to" in str(refused.value)
