"""Benchmark of stored simulation results: bytes per result as JSON (how they were stored
until migration 0005) and packed (columns, deflated), and the time to pack and unpack.

Run: .venv/bin/python bench/bench_result_storage.py

The configurations are the ones with the largest results the validator accepts: recurrent
networks at the deepest depth that fits the budget with 500 time steps (one record per
layer and step), and a deep mlp trained for as many steps as fit. Target: packed at most a
quarter of the JSON, every number intact. Baseline: `json.dumps` of the same result.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from quizapp.models.result_packing import pack_result, unpack_result  # noqa: E402
from quizapp.sim import simulate, validate_config  # noqa: E402
from quizapp.sim.config import LIMITS, _fits  # noqa: E402

TARGET_RATIO = 0.25


def deepest(config: dict, field: str) -> dict:
    """`config` with `field` as large as the budget allows."""
    low, high = 1 if field == "train_steps" else 2, LIMITS[field]
    base = validate_config(dict(config, **{field: low}))
    while low < high:
        middle = (low + high + 1) // 2
        if _fits(dict(base, **{field: middle})):
            low = middle
        else:
            high = middle - 1
    return dict(config, **{field: low})


CONFIGS = {
    "rnn, 500 steps": deepest(
        {"kind": "rnn", "seq_len": 500, "width": 2, "batch_size": 1}, "depth"
    ),
    "lstm, 500 steps": deepest(
        {"kind": "lstm", "seq_len": 500, "width": 2, "batch_size": 1}, "depth"
    ),
    "mlp, trained": deepest(
        {"kind": "mlp", "depth": 200, "width": 2, "batch_size": 1}, "train_steps"
    ),
}


def main() -> None:
    failed = False
    for name, config in CONFIGS.items():
        result = simulate(config)
        started = time.perf_counter()
        as_json = json.dumps(result).encode()
        json_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        packed = pack_result(result)
        pack_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        intact = unpack_result(packed) == result
        unpack_ms = (time.perf_counter() - started) * 1000
        ratio = len(packed) / len(as_json)
        ok = intact and ratio <= TARGET_RATIO
        failed |= not ok
        print(
            f"{name:<16} {json.dumps(config, separators=(',', ':'))}\n"
            f"  JSON {len(as_json) / 1e6:.2f} MB ({json_ms:.0f} ms), packed "
            f"{len(packed) / 1e6:.3f} MB ({pack_ms:.0f} ms, unpack {unpack_ms:.0f} ms): "
            f"ratio {ratio:.3f} (target <= {TARGET_RATIO}), lossless {intact}"
            f" {'ok' if ok else 'FAIL'}"
        )
    print("result storage:", "FAIL" if failed else "ok")


if __name__ == "__main__":
    main()
