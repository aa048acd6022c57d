"""Benchmark of the content pipeline: import, re-import, check, and serving a question page.

Run: .venv/bin/python bench/bench_import.py [--questions N] [--requests N]

Generates N (default 1,000) valid question files of about 3 KB each (inline and display math,
a mermaid diagram, sometimes a code block, three checks, related links among them) and a
topics.yaml into a temporary folder, then on an empty SQLite file (create_app + create_all):

1. first import                          target <= 5 s
2. re-import, nothing changed            target <= 1.5 s
3. `check` of every file (load, validate and render, as `flask content check` does)
4. serving a seed-like question page from the database through the test client, against a
   bare Flask view returning a static string of the same size (median of interleaved
   requests; the ratio is printed, there is no target)
5. whether torch was imported along the way (it must not be)

Timing: time.perf_counter (wall, judged against the targets) and time.process_time (CPU,
printed beside it: on a busy host the wall time grows, the CPU time does not).
A missed target prints FAIL; the exit code stays 0.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402

from quizapp import create_app  # noqa: E402
from quizapp.extensions import db  # noqa: E402
from quizapp.services.content_import import check_content, import_content  # noqa: E402

TOPICS = [
    ("gradient-flow", "Gradient flow"),
    ("initialization", "Initialisation"),
    ("activation-functions", "Activation functions"),
    ("normalization", "Normalisation"),
    ("residual-connections", "Residual connections"),
    ("recurrent-networks", "Recurrent networks"),
    ("optimization", "Optimisation"),
    ("regularization", "Regularisation"),
    ("cnns", "Convolutional networks"),
    ("attention-transformers", "Attention and transformers"),
]
SUBJECTS = [
    "vanishing gradients",
    "exploding gradients",
    "He initialisation",
    "Xavier initialisation",
    "batch normalisation",
    "layer normalisation",
    "residual connections",
    "the sigmoid derivative",
    "dying ReLU units",
    "gradient clipping",
    "weight decay",
    "dropout",
    "learning-rate warm-up",
    "the LSTM cell state",
    "attention scores",
]
FORMULAS = [
    r"\frac{\partial L}{\partial W^{(l)}} = \delta^{(l)} \, (a^{(l-1)})^\top",
    r"\operatorname{Var}(W) = \frac{2}{n_{\text{in}}}",
    r"\sigma'(z) = \sigma(z)\,(1 - \sigma(z)) \le \tfrac{1}{4}",
    r"\hat{x} = \frac{x - \mu_B}{\sqrt{\sigma_B^2 + \epsilon}}",
    r"y = F(x, \{W_i\}) + x",
    r"\prod_{k=l+1}^{L} \left\| \operatorname{diag}(\sigma'(z^{(k)})) W^{(k)} \right\|",
    r"c_t = f_t \odot c_{t-1} + i_t \odot \tilde{c}_t",
    r"\operatorname{softmax}\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V",
]
PARAGRAPH = (
    "When a network is deep, the gradient reaching the first layers is a product of many "
    "per-layer factors, so its scale depends on how those factors are distributed. {subject} "
    "changes that distribution, which is why it matters for how fast the early layers learn "
    "and whether training converges at all."
)
CODE = """\
  ```python
  import torch
  from torch import nn

  def gradient_norms(model: nn.Module) -> list[float]:
      return [p.grad.norm().item() for p in model.parameters() if p.grad is not None]
  ```
"""


def slug_of(index: int) -> str:
    return f"q{index:04d}-generated-question"


def question_yaml(index: int, count: int, rng: random.Random) -> str:
    subject = rng.choice(SUBJECTS)
    others = [i for i in rng.sample(range(count), k=min(5, count)) if i != index][:4]
    topics = [slug for slug, _ in rng.sample(TOPICS, k=rng.randint(1, 3))]
    formula, display = rng.sample(FORMULAS, 2)
    difficulty = rng.choice(["easy", "medium", "medium", "hard"])
    paragraphs = "\n\n".join(PARAGRAPH.format(subject=subject.capitalize()) for _ in range(3))
    explanation = textwrap.indent(
        f"{paragraphs}\n\nFor layer $l$ the quantity of interest is ${formula}$, and over the "
        f"whole network\n\n$${display}$$\n\n"
        "- **Initialisation** sets the scale of each factor.\n"
        "- **Normalisation** keeps pre-activations in a healthy range.\n"
        "- **Skip connections** add a path that bypasses the product.\n\n"
        "```mermaid\ngraph LR\n  A[Input] --> B[Layer 1]\n  B --> C[Layer 2]\n"
        "  C --> D[Output]\n  A --> C\n```\n",
        "  ",
    )
    if index % 3 == 0:
        explanation += "\n" + CODE
    return (
        f"slug: {slug_of(index)}\n"
        f"title: Question {index} about {subject}\n"
        f"difficulty: {difficulty}\n"
        f"topics: [{', '.join(topics)}]\n"
        "question: |\n"
        f"  How does {subject} affect the gradients of a deep network, and what would you\n"
        f"  change if the first layers stopped learning? (variant {index})\n"
        "answer: |\n"
        f"  {subject.capitalize()} changes the scale of the per-layer factors of the chain "
        "rule.\n  Keep their product near $1$ with a suitable initialisation, normalisation "
        "and\n  skip connections, and monitor the per-layer gradient norms.\n"
        f"explanation: |\n{explanation}"
        "references:\n"
        "  - title: Deep Learning, chapter 8\n"
        "    url: https://www.deeplearningbook.org/contents/optimization.html\n"
        "    authors: Goodfellow, Bengio, Courville\n"
        "    year: 2016\n"
        "  - title: Deep Residual Learning for Image Recognition\n"
        "    url: https://arxiv.org/abs/1512.03385\n"
        f"related: [{', '.join(slug_of(i) for i in others)}]\n"
        "checks:\n"
        "  - kind: single_choice\n"
        "    prompt: Which factor bounds the sigmoid's contribution to the gradient?\n"
        "    options:\n"
        "      - text: $1$\n"
        "        feedback: That is tanh's maximum derivative.\n"
        "      - text: $1/4$\n"
        "        feedback: Right, $\\sigma'(0) = 1/4$.\n"
        "      - text: $0$\n"
        "        feedback: The derivative is positive everywhere.\n"
        "    correct: 1\n"
        "  - kind: numeric\n"
        "    prompt: What is the maximum of $\\sigma'(z)$?\n"
        "    answer: 0.25\n"
        "    tolerance: 0.001\n"
        "  - kind: self_rated\n"
        f"    prompt: Explain in your own words how {subject} affects training.\n"
    )


def write_bank(root: Path, count: int) -> int:
    rng = random.Random(20260101)
    (root / "questions").mkdir(parents=True)
    (root / "topics.yaml").write_text(
        "".join(
            f"- slug: {slug}\n  title: {title}\n  description: Questions about {title.lower()}.\n"
            for slug, title in TOPICS
        )
    )
    total = 0
    for index in range(count):
        text = question_yaml(index, count, rng)
        (root / "questions" / f"{slug_of(index)}.yaml").write_text(text)
        total += len(text.encode())
    return total


def timed(action) -> tuple[float, float, object]:
    """Wall and CPU seconds of one call: a wall time far above the CPU time means a busy host."""
    start, cpu = time.perf_counter(), time.process_time()
    result = action()
    return time.perf_counter() - start, time.process_time() - cpu, result


def median_request_times(first, second, requests: int) -> tuple[float, float]:
    """Median seconds per GET for two (client, url) pairs, interleaved to share any noise."""
    for client, url in (first, second):
        for _ in range(10):
            client.get(url)
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(requests):
        for side, (client, url) in enumerate((first, second)):
            start = time.perf_counter()
            response = client.get(url)
            samples[side].append(time.perf_counter() - start)
            assert response.status_code == 200
    return statistics.median(samples[0]), statistics.median(samples[1])


def row(name: str, value: str, cpu: str = "", target: str = "", passed: bool | None = None) -> str:
    verdict = "" if passed is None else ("PASS" if passed else "FAIL")
    return f"{name:<44} {value:>10} {cpu:>9}  {target:<10} {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="quizapp-bench-") as folder:
        root = Path(folder) / "content"
        size = write_bank(root, args.questions)
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'bench.sqlite'}",
                "RATELIMIT_ENABLED": False,
                "QUIZAPP_CONTENT_DIR": str(root),
            }
        )
        with app.app_context():
            db.create_all()
            first, first_cpu, report = timed(lambda: import_content(root))
            assert len(report.added) == args.questions, report.summary()
            again, again_cpu, report_again = timed(lambda: import_content(root))
            assert report_again.summary().startswith(
                f"0 added, 0 updated, {args.questions} unchanged"
            ), report_again.summary()
            checked, checked_cpu, bank = timed(lambda: check_content(root))
            assert bank.ok, [str(error) for error in bank.errors[:5]]

        page_url = f"/questions/{slug_of(0)}"
        client = app.test_client()
        page = client.get(page_url)
        assert page.status_code == 200 and b'class="mermaid"' in page.data and b"<math" in page.data
        static_body = "x" * len(page.data)
        bare = Flask("bare")
        bare.add_url_rule("/static-page", "static_page", lambda: static_body)
        served, bare_served = median_request_times(
            (client, page_url), (bare.test_client(), "/static-page"), args.requests
        )
        torch_loaded = "torch" in sys.modules
        with app.app_context():
            db.engine.dispose()

    n = args.questions
    print(f"{n} questions, {size / n / 1024:.1f} KiB per file on average, SQLite\n")
    print(row("measurement", "wall", "cpu", "target") + "result")
    print(
        row(
            f"first import of {n} files",
            f"{first:.2f} s",
            f"{first_cpu:.2f} s",
            "<= 5 s",
            first <= 5.0,
        )
    )
    print(
        row(
            "re-import, nothing changed",
            f"{again:.2f} s",
            f"{again_cpu:.2f} s",
            "<= 1.5 s",
            again <= 1.5,
        )
    )
    print(
        row(f"check of {n} files (validate + render)", f"{checked:.2f} s", f"{checked_cpu:.2f} s")
    )
    print(row("question page from the database (median)", f"{served * 1000:.2f} ms"))
    print(row("bare Flask view, same-size static string", f"{bare_served * 1000:.2f} ms"))
    print(row("ratio page / bare view", f"{served / bare_served:.1f}x"))
    torch_text = "yes" if torch_loaded else "no"
    print(row("torch imported", torch_text, "", "no", not torch_loaded))


if __name__ == "__main__":
    main()
