"""Agreement between the simulator's theory overlays and its measurements.

Run: .venv/bin/python bench/bench_theory.py [--seeds N] [--write]

For every configuration of the test grid, at widths 128 and 256, over seeds 0 … N−1, prints
the theory's predicted decades of the backward signal, the measured range, the largest
|predicted − measured|, and whether the theory says it applies (with its reason when not).
Target: every covered row within 0.3 decades; every uncovered row says why. `--write`
replaces the table in docs/simulator.md (between the agreement-table markers).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from quizapp.sim import simulate  # noqa: E402

TOLERANCE = 0.3
DOC = ROOT / "docs" / "simulator.md"
BEGIN, END = "<!-- agreement-table:begin -->", "<!-- agreement-table:end -->"

GRID: list[tuple[str, dict]] = [
    ("mlp relu/He, depth 20", {"kind": "mlp", "activation": "relu", "init": "he_normal", "depth": 20}),  # noqa: E501
    ("mlp relu/He, depth 50", {"kind": "mlp", "activation": "relu", "init": "he_normal", "depth": 50}),  # noqa: E501
    ("mlp tanh/Xavier, depth 20", {"kind": "mlp", "activation": "tanh", "init": "xavier_normal", "depth": 20}),  # noqa: E501
    ("mlp tanh/orthogonal, depth 20", {"kind": "mlp", "activation": "tanh", "init": "orthogonal", "depth": 20}),  # noqa: E501
    ("mlp sigmoid/default, depth 20", {"kind": "mlp", "activation": "sigmoid", "init": "default", "depth": 20}),  # noqa: E501
    ("mlp selu/LeCun, depth 20", {"kind": "mlp", "activation": "selu", "init": "lecun_normal", "depth": 20}),  # noqa: E501
    ("mlp softplus/He, depth 50", {"kind": "mlp", "activation": "softplus", "init": "he_normal", "depth": 50}),  # noqa: E501
    ("mlp gelu/He, depth 20", {"kind": "mlp", "activation": "gelu", "init": "he_normal", "depth": 20}),  # noqa: E501
    ("mlp relu/He, spirals, depth 20", {"kind": "mlp", "activation": "relu", "init": "he_normal", "depth": 20, "task": "spirals"}),  # noqa: E501
    ("mlp + batch norm, relu, depth 30", {"kind": "mlp", "activation": "relu", "init": "he_normal", "depth": 30, "norm": "batchnorm"}),  # noqa: E501
    ("mlp + batch norm, tanh, depth 30", {"kind": "mlp", "activation": "tanh", "init": "he_normal", "depth": 30, "norm": "batchnorm"}),  # noqa: E501
    ("mlp + batch norm, sigmoid, depth 30", {"kind": "mlp", "activation": "sigmoid", "init": "he_normal", "depth": 30, "norm": "batchnorm"}),  # noqa: E501
    ("mlp + layer norm, relu, depth 30", {"kind": "mlp", "activation": "relu", "init": "he_normal", "depth": 30, "norm": "layernorm"}),  # noqa: E501
    ("mlp + layer norm, tanh, depth 30", {"kind": "mlp", "activation": "tanh", "init": "default", "depth": 30, "norm": "layernorm"}),  # noqa: E501
    ("mlp + layer norm, sigmoid, depth 30", {"kind": "mlp", "activation": "sigmoid", "init": "default", "depth": 30, "norm": "layernorm"}),  # noqa: E501
    ("residual relu/He, scale 1, depth 30", {"kind": "residual_mlp", "activation": "relu", "init": "he_normal", "depth": 30}),  # noqa: E501
    ("residual relu/He, scale 0.2, depth 30", {"kind": "residual_mlp", "activation": "relu", "init": "he_normal", "depth": 30, "residual_scale": 0.2}),  # noqa: E501
    ("residual tanh/Xavier, depth 30", {"kind": "residual_mlp", "activation": "tanh", "init": "xavier_normal", "depth": 30}),  # noqa: E501
    ("residual sigmoid/default, depth 50", {"kind": "residual_mlp", "activation": "sigmoid", "init": "default", "depth": 50}),  # noqa: E501
    ("residual relu/He, 2 per branch, scale 0.5", {"kind": "residual_mlp", "activation": "relu", "init": "he_normal", "depth": 30, "skip_every": 2, "residual_scale": 0.5}),  # noqa: E501
    ("residual relu/He + layer norm, depth 30", {"kind": "residual_mlp", "activation": "relu", "init": "he_normal", "depth": 30, "norm": "layernorm"}),  # noqa: E501
    ("residual relu/He + batch norm, depth 30", {"kind": "residual_mlp", "activation": "relu", "init": "he_normal", "depth": 30, "norm": "batchnorm"}),  # noqa: E501
    ("cnn relu/default, depth 10", {"kind": "cnn", "activation": "relu", "init": "default", "depth": 10, "batch_size": 16}),  # noqa: E501
    ("cnn relu/He, depth 10", {"kind": "cnn", "activation": "relu", "init": "he_normal", "depth": 10, "batch_size": 16}),  # noqa: E501
    ("cnn tanh/Xavier, depth 10", {"kind": "cnn", "activation": "tanh", "init": "xavier_normal", "depth": 10, "batch_size": 16}),  # noqa: E501
    ("rnn tanh/Xavier, 30 steps", {"kind": "rnn", "activation": "tanh", "init": "xavier_normal", "seq_len": 30}),  # noqa: E501
    ("rnn tanh/default, 30 steps", {"kind": "rnn", "activation": "tanh", "init": "default", "seq_len": 30}),  # noqa: E501
    ("rnn tanh, σ_hh² = 2.25, 30 steps", {"kind": "rnn", "activation": "tanh", "init": "normal", "init_std": "1.5/sqrt(width)", "seq_len": 30}),  # noqa: E501
    ("rnn tanh/orthogonal, 30 steps", {"kind": "rnn", "activation": "tanh", "init": "orthogonal", "seq_len": 30}),  # noqa: E501
    ("lstm default, 30 steps", {"kind": "lstm", "seq_len": 30}),
    ("lstm forget bias 3, 30 steps", {"kind": "lstm", "seq_len": 30, "forget_bias": 3.0}),
    ("gru default, 30 steps", {"kind": "gru", "seq_len": 30}),
    ("transformer pre-LN, 12 blocks", {"kind": "transformer", "depth": 12, "seq_len": 32, "batch_size": 8}),  # noqa: E501
    ("transformer post-LN, 12 blocks", {"kind": "transformer", "depth": 12, "seq_len": 32, "batch_size": 8, "norm_position": "post"}),  # noqa: E501
    ("transformer no norm, 12 blocks", {"kind": "transformer", "depth": 12, "seq_len": 32, "batch_size": 8, "norm": "none"}),  # noqa: E501
    ("transformer no norm, scale 0.3", {"kind": "transformer", "depth": 12, "seq_len": 32, "batch_size": 8, "norm": "none", "residual_scale": 0.3}),  # noqa: E501
    ("transformer pre-LN, Xavier", {"kind": "transformer", "depth": 12, "seq_len": 32, "batch_size": 8, "init": "xavier_normal"}),  # noqa: E501
    ("transformer no norm, Xavier", {"kind": "transformer", "depth": 12, "seq_len": 32, "batch_size": 8, "init": "xavier_normal", "norm": "none"}),  # noqa: E501
]  # fmt: skip


def config_for(base: dict, width: int, seed: int) -> dict:
    config = {"width": width, "batch_size": 64, "seed": seed, **base}
    if config.get("init_std") == "1.5/sqrt(width)":
        config["init_std"] = 1.5 / math.sqrt(width)
    return config


def rows(seeds: int) -> list[dict]:
    out = []
    for width in (128, 256):
        for name, base in GRID:
            predicted, measured, covered, reason = None, [], True, None
            for seed in range(seeds):
                theory = simulate(config_for(base, width, seed))["theory"]
                predicted = theory.get("theory_decades", theory.get("predicted_decades"))
                measured.append(theory.get("measured_decades"))
                covered = covered and bool(theory["covered"])
                reason = reason or theory.get("not_applicable_reason")
            errors = [
                abs(predicted - m) for m in measured if predicted is not None and m is not None
            ]
            out.append({
                "name": name, "width": width, "predicted": predicted, "measured": measured,
                "worst": max(errors) if errors else None, "covered": covered, "reason": reason,
            })  # fmt: skip
    return out


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}"


def markdown(table: list[dict], seeds: int) -> str:
    lines = [
        f"| configuration | width | theory | measured (seeds 0–{seeds - 1}) | worst gap "
        "| covered |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in table:
        measured = [m for m in row["measured"] if m is not None]
        span = f"{min(measured):+.2f} … {max(measured):+.2f}" if measured else "—"
        if row["covered"]:
            status = "yes, " + ("within 0.3" if row["worst"] <= TOLERANCE else "**OFF**")
        else:
            status = "no: " + (row["reason"] or "not covered").split(";")[0].split(" (")[0]
        worst = "—" if row["worst"] is None else f"{row['worst']:.2f}"
        lines.append(
            f"| {row['name']} | {row['width']} | {_num(row['predicted'])} | {span} | "
            f"{worst} | {status} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update docs/simulator.md")
    args = parser.parse_args()
    start = time.perf_counter()
    table = rows(args.seeds)
    text = markdown(table, args.seeds)
    print(text)
    covered = [row for row in table if row["covered"]]
    misses = [row for row in covered if row["worst"] is not None and row["worst"] > TOLERANCE]
    print(
        f"\ncovered {len(covered)} of {len(table)} rows; worst gap among covered "
        f"{max((r['worst'] for r in covered if r['worst'] is not None), default=0):.2f} decades "
        f"(target ≤ {TOLERANCE}): {'PASS' if not misses else 'FAIL'}"
        f"  ({time.perf_counter() - start:.0f} s)"
    )
    if args.write:
        doc = DOC.read_text()
        head, rest = doc.split(BEGIN)
        _, tail = rest.split(END)
        DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
        print(f"wrote the table into {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
