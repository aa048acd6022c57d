"""Benchmark of the gradient-flow simulator (quizapp.sim).

Run: .venv/bin/python bench/bench_sim.py [--repeats N]

Prints, as ratios measured in the same run:
1. `simulate` over the same work written by hand in bare PyTorch (build and initialise the
   network, one forward + backward, per-layer norms of input and weight gradients), for an
   mlp with ReLU/He at depth 10/width 64, depth 30/width 128 (target ≤ 1.3×) and depth
   100/width 256, batch 128. Both run on one thread with denormals flushed.
2. A vanishing configuration over a healthy one of the same size (sigmoid/default vs
   relu/he_normal, depth 50, width 256, batch 128): target ≤ 1.5×.
3. `simulate` of a pre-LN transformer (depth 12, width 128, 4 heads, seq 32, batch 8) over a
   bare PyTorch forward + backward of the same blocks (nn.LayerNorm, nn.MultiheadAttention,
   nn.Linear; per-block input and weight-gradient norms): target ≤ 1.3×.
4. The Jacobian spectrum of an mlp at width 128, depth 50 (part of `simulate`), alone:
   target ≤ 1 s.
5. Time to first result in a fresh process (import + one probe).
Timing: time.perf_counter, warm-up runs first, median over repeats (at least --repeats, more
for fast pairs: about a second of work), the two sides of each ratio interleaved. A miss
prints FAIL but the exit code stays 0.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from quizapp.sim import simulate  # noqa: E402

BATCH = 128


def bare_pytorch_probe(depth: int, width: int, batch: int, seed: int = 0) -> list[float]:
    """The same measurement written directly in PyTorch, as a reader would write it."""
    torch.manual_seed(seed)
    layers = [nn.Linear(width, width) for _ in range(depth - 1)] + [nn.Linear(width, 10)]
    for layer in layers:
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        nn.init.zeros_(layer.bias)
    x = torch.randn(batch, width, requires_grad=True)
    target = torch.randn(batch, 10)
    inputs, h = [], x
    for layer in layers[:-1]:
        inputs.append(h)
        h = torch.relu(layer(h))
    inputs.append(h)
    loss = F.mse_loss(layers[-1](h), target)
    grads = torch.autograd.grad(loss, inputs + [layer.weight for layer in layers])
    return [g.double().norm().item() for g in grads]


TRANSFORMER = {"depth": 12, "width": 128, "heads": 4, "seq_len": 32, "batch_size": 8}


def bare_transformer_probe(
    depth: int, width: int, heads: int, seq_len: int, batch: int, seed: int = 0
) -> list[float]:
    """Pre-LN blocks written with PyTorch's modules, as a reader would write them."""
    torch.manual_seed(seed)
    blocks = [
        (
            nn.LayerNorm(width),
            nn.MultiheadAttention(width, heads, batch_first=True),
            nn.LayerNorm(width),
            nn.Linear(width, 4 * width),
            nn.Linear(4 * width, width),
        )
        for _ in range(depth)
    ]
    final, readout = nn.LayerNorm(width), nn.Linear(width, 10)
    x = torch.randn(batch, seq_len, width, requires_grad=True)
    target = torch.randn(batch * seq_len, 10)
    inputs, h = [], x
    for norm1, attention, norm2, ffn_in, ffn_out in blocks:
        inputs.append(h)
        a = norm1(h)
        h = h + attention(a, a, a, need_weights=False)[0]
        inputs.append(h)
        h = h + ffn_out(F.gelu(ffn_in(norm2(h))))
    inputs.append(h)
    loss = F.mse_loss(readout(final(h)).reshape(-1, 10), target)
    weights = [
        p for block in blocks for m in block for n, p in m.named_parameters()
        if "weight" in n and p.dim() == 2
    ] + [readout.weight]  # fmt: skip
    grads = torch.autograd.grad(loss, inputs + weights)
    return torch.stack(torch._foreach_norm(grads, 2, dtype=torch.float64)).tolist()


def transformer_row(repeats: int) -> tuple[str, float, float, float | None]:
    config = {"kind": "transformer", **TRANSFORMER}
    sim, bare = median_pair(
        lambda: simulate(config),
        lambda: bare_transformer_probe(
            TRANSFORMER["depth"], TRANSFORMER["width"], TRANSFORMER["heads"],
            TRANSFORMER["seq_len"], TRANSFORMER["batch_size"],
        ),
        repeats,
    )  # fmt: skip
    return ("simulate / bare PyTorch, transformer depth 12, width 128, seq 32", sim, bare, 1.3)


def spectrum_seconds(repeats: int) -> float:
    """Median time of the exact Jacobian spectrum alone: mlp, width 128, depth 50."""
    from quizapp.sim import validate_config
    from quizapp.sim.data import make_task
    from quizapp.sim.networks import Trace, build_network

    cfg = validate_config({"kind": "mlp", "depth": 50, "width": 128, "activation": "tanh",
                           "init": "orthogonal", "batch_size": BATCH,
                           "jacobian_spectrum": "exact"})  # fmt: skip
    net = build_network(cfg)
    x, _ = make_task(cfg).sample()
    trace = Trace()
    with torch.no_grad():
        net.forward(x, trace)
    hook = net.probes["jacobian_spectrum"]
    times = []
    for _ in range(max(3, repeats // 3)):
        start = time.perf_counter()
        found = hook(trace, [])
        times.append(time.perf_counter() - start)
    assert found["computed"]
    return statistics.median(times)


def median_pair(
    first: Callable[[], object], second: Callable[[], object], repeats: int, warmup: int = 3
) -> tuple[float, float]:
    """Median seconds of two callables, interleaved so drift hits both alike.

    Fast pairs get more repeats (about one second of work) so that millisecond timings are
    not at the mercy of a few noisy samples.
    """
    for _ in range(warmup):
        start = time.perf_counter()
        first()
        second()
        pair = time.perf_counter() - start
    repeats = max(repeats, min(500, int(1.0 / pair)))
    a, b = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        first()
        a.append(time.perf_counter() - start)
        start = time.perf_counter()
        second()
        b.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def verdict(ratio: float, target: float | None) -> str:
    if target is None:
        return "(report)"
    return "PASS" if ratio <= target else "FAIL"


def overhead_rows(repeats: int) -> list[tuple[str, float, float, float | None]]:
    torch.set_num_threads(1)  # simulate pins one thread; give the baseline the same
    torch.set_flush_denormal(True)
    rows = []
    for depth, width, target in ((10, 64, None), (30, 128, 1.3), (100, 256, None)):
        config = {
            "kind": "mlp", "depth": depth, "width": width, "activation": "relu",
            "init": "he_normal", "batch_size": BATCH,
        }  # fmt: skip
        sim, bare = median_pair(
            lambda c=config: simulate(c),
            lambda d=depth, w=width: bare_pytorch_probe(d, w, BATCH),
            repeats,
        )
        rows.append((f"simulate / bare PyTorch, depth {depth}, width {width}", sim, bare, target))
    return rows


def vanishing_row(repeats: int) -> tuple[str, float, float, float | None]:
    size = {"kind": "mlp", "depth": 50, "width": 256, "batch_size": BATCH}
    vanishing = dict(size, activation="sigmoid", init="default")
    healthy = dict(size, activation="relu", init="he_normal")
    assert simulate(vanishing)["verdict"] == "vanishing"
    assert simulate(healthy)["verdict"] == "healthy"
    slow, fast = median_pair(lambda: simulate(vanishing), lambda: simulate(healthy), repeats)
    return ("vanishing (sigmoid/default) / healthy (relu/he), depth 50", slow, fast, 1.5)


FIRST_RESULT = """
import time
start = time.perf_counter()
from quizapp.sim import simulate
imported = time.perf_counter()
simulate({"kind": "mlp", "depth": 30, "width": 128, "batch_size": 128})
done = time.perf_counter()
print(imported - start, done - imported)
"""


def first_result(runs: int) -> list[tuple[str, float]]:
    imports, probes, walls = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", FIRST_RESULT],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
        walls.append(time.perf_counter() - start)
        imported, probed = (float(v) for v in out.stdout.split())
        imports.append(imported)
        probes.append(probed)
    return [
        ("import quizapp.sim (no torch yet)", statistics.median(imports)),
        ("first simulate (imports torch, builds, probes)", statistics.median(probes)),
        ("whole fresh process incl. interpreter start", statistics.median(walls)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    print(f"quizapp.sim benchmark — torch {torch.__version__}, one thread, batch {BATCH}")
    print(f"median of ≥ {args.repeats} interleaved repeats after 3 warm-ups\n")
    rows = overhead_rows(args.repeats) + [
        vanishing_row(args.repeats),
        transformer_row(args.repeats),
    ]
    width = max(len(name) for name, *_ in rows)
    print(f"{'ratio':<{width}}  {'numerator':>10}  {'denominator':>11}  {'ratio':>6}  target")
    for name, numerator, denominator, target in rows:
        ratio = numerator / denominator
        goal = f"≤ {target:g}× {verdict(ratio, target)}" if target else verdict(ratio, None)
        print(
            f"{name:<{width}}  {numerator * 1e3:>8.2f}ms  {denominator * 1e3:>9.2f}ms  "
            f"{ratio:>5.2f}×  {goal}"
        )
    seconds = spectrum_seconds(args.repeats)
    print(
        f"\nJacobian spectrum, mlp width 128, depth 50 (exact, float64, 2 examples): "
        f"{seconds:.3f} s  target ≤ 1 s {'PASS' if seconds <= 1.0 else 'FAIL'}"
    )
    print("\nTime to first result in a fresh process (median of 5):")
    for name, seconds in first_result(5):
        print(f"  {name:<48} {seconds * 1e3:8.0f} ms")


if __name__ == "__main__":
    main()
