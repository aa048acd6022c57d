"""Claims the bank review (issue 16) corrected, recomputed so they cannot drift back.

Each test reads the card that states the claim and recomputes the claim, with PyTorch where
PyTorch implements the thing the card talks about.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

CONTENT_DIR = Path(__file__).parents[3] / "content"


def card(slug: str, kind: str = "questions") -> dict:
    return yaml.safe_load((CONTENT_DIR / kind / f"{slug}.yaml").read_text(encoding="utf-8"))


# A fine grid, not Gauss-Hermite: sigmoid'(sqrt(q) z) is too sharply peaked for few nodes.
NODES = np.linspace(-10.0, 10.0, 40_001)
WEIGHTS = np.exp(-(NODES**2) / 2) / math.sqrt(2 * math.pi) * (NODES[1] - NODES[0])


def gaussian_expectation(function, q: float) -> float:
    """E[f(sqrt(q) z)] for z ~ N(0, 1)."""
    return float(np.sum(WEIGHTS * function(math.sqrt(q) * NODES)))


def sigmoid_chi(weight_variance: float) -> float:
    """Mean-field gradient factor per layer of a deep sigmoid net at its variance fixed point."""

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    # The fixed point q* = s2 E[sigmoid(sqrt(q*) z)^2] lies in (0, s2): bisect for it.
    low, high = 0.0, weight_variance
    for _ in range(60):
        q = (low + high) / 2
        if weight_variance * gaussian_expectation(lambda x: sigmoid(x) ** 2, q) > q:
            low = q
        else:
            high = q
    return weight_variance * gaussian_expectation(lambda x: (sigmoid(x) * (1 - sigmoid(x))) ** 2, q)


def test_softmax_applied_twice_keeps_the_loss_between_1_46_and_2_46_for_ten_classes() -> None:
    torch.manual_seed(0)
    scale = torch.logspace(-2, 3, 20_000).unsqueeze(1)
    logits = torch.randn(20_000, 10) * scale
    labels = torch.randint(0, 10, (20_000,))
    losses = F.cross_entropy(F.softmax(logits, dim=1), labels, reduction="none")
    low, high = math.log(math.e + 9) - 1, math.log(math.e + 9)
    assert low - 1e-4 <= losses.min().item() and losses.max().item() <= high + 1e-4
    assert losses.min().item() < low + 0.01 and losses.max().item() > high - 0.01
    text = card("initial-loss-sanity-check")["explanation"]
    assert f"{low:.2f}" in text and f"{high:.2f}" in text
    assert (
        "softmax applied twice"
        not in card("initial-loss-sanity-check")["answer"].split("Some bugs")[0]
    ), "the double softmax must not be listed among causes of a large first loss"


def test_sigmoid_breaks_even_near_weight_variance_103_not_16() -> None:
    assert sigmoid_chi(16.0) < 0.5  # the naive sigma_w = 4 still loses half per layer
    low, high = 16.0, 400.0
    for _ in range(30):
        middle = (low + high) / 2
        low, high = (middle, high) if sigmoid_chi(middle) < 1 else (low, middle)
    assert 101 < low < 105
    assert (
        r"\sigma_w^2 \approx 103" in card("sigmoid-depth-30-activation", "exercises")["explanation"]
    )


def test_sigmoid_network_at_the_break_even_keeps_its_gradient_in_torch() -> None:
    torch.manual_seed(0)
    width, depth = 1024, 20

    def gradient_ratio(weight_variance: float) -> float:
        layers = [nn.Linear(width, width, bias=False) for _ in range(depth)]
        for layer in layers:
            nn.init.normal_(layer.weight, std=math.sqrt(weight_variance / width))
        x = torch.randn(256, width, requires_grad=True)
        h = x
        for layer in layers:
            h = torch.sigmoid(layer(h))
        h.sum().backward()
        return (x.grad.norm() / torch.ones_like(h).norm()).item() ** (1 / depth)

    assert gradient_ratio(16.0) < 0.7
    assert 0.9 < gradient_ratio(103.0) < 1.1


def two_layer_step(hidden_init: float, output_weights: torch.Tensor, activation) -> nn.Linear:
    torch.manual_seed(0)
    hidden, output = nn.Linear(4, 3, bias=False), nn.Linear(3, 1, bias=False)
    nn.init.constant_(hidden.weight, hidden_init)
    with torch.no_grad():
        output.weight.copy_(output_weights)
    optimiser = torch.optim.SGD([*hidden.parameters(), *output.parameters()], lr=0.1)
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    for _ in range(3):
        optimiser.zero_grad()
        F.mse_loss(output(activation(hidden(x))), y).backward()
        optimiser.step()
    return hidden


def test_constant_network_keeps_its_units_identical() -> None:
    hidden = two_layer_step(0.5, torch.full((1, 3), 0.5), torch.tanh)
    assert torch.allclose(hidden.weight, hidden.weight[0].expand_as(hidden.weight))


def test_equal_incoming_weights_separate_with_a_random_next_layer() -> None:
    hidden = two_layer_step(0.5, torch.tensor([[0.3, -0.7, 1.1]]), torch.tanh)
    assert not torch.allclose(hidden.weight[0], hidden.weight[1])
    zeroed_tanh = two_layer_step(0.0, torch.tensor([[0.3, -0.7, 1.1]]), torch.tanh)
    assert zeroed_tanh.weight.abs().sum() > 0, "a zeroed tanh layer trains"
    zeroed_relu = two_layer_step(0.0, torch.tensor([[0.3, -0.7, 1.1]]), torch.relu)
    assert zeroed_relu.weight.abs().sum() == 0, "a zeroed ReLU layer gets no gradient"
    text = card("zero-initialization-symmetry")
    assert "outgoing" in text["answer"]
    assert "every weight" in text["checks"][0]["prompt"].lower()


def test_xavier_assumption_holds_for_tanh_and_softsign_but_not_the_sigmoid() -> None:
    def value_and_slope(function) -> tuple[float, float]:
        x = torch.zeros((), dtype=torch.float64, requires_grad=True)
        y = function(x)
        y.backward()
        return y.item(), x.grad.item()

    assert value_and_slope(torch.tanh) == (0.0, 1.0)
    assert value_and_slope(F.softsign) == (0.0, 1.0)
    assert value_and_slope(torch.sigmoid) == (0.5, 0.25)
    answer = card("xavier-glorot-initialization")["answer"]
    assert "softsign" in answer and "centred region" not in answer


def test_self_attention_without_positions_is_equivariant_not_invariant() -> None:
    torch.manual_seed(0)
    attention = nn.MultiheadAttention(16, 2, batch_first=True)
    tokens = torch.randn(1, 5, 16)
    order = torch.tensor([3, 0, 4, 1, 2])
    output, _ = attention(tokens, tokens, tokens)
    shuffled, _ = attention(tokens[:, order], tokens[:, order], tokens[:, order])
    assert torch.allclose(shuffled, output[:, order], atol=1e-6)
    assert not torch.allclose(shuffled, output, atol=1e-3)
    options = card("attention-mechanisms")["checks"]
    texts = [o["text"] for c in options for o in c.get("options", [])]
    assert not any("invariant to the order" in text for text in texts)


def test_backward_costs_about_twice_the_forward_pass() -> None:
    model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))  # fmt: skip
    x = torch.randn(64, 256, requires_grad=True)
    with FlopCounterMode(display=False) as forward:
        loss = model(x).sum()
    with FlopCounterMode(display=False) as backward:
        loss.backward()
    ratio = backward.get_total_flops() / forward.get_total_flops()
    assert 1.9 <= ratio <= 3.0
    assert "2–3" in card("backpropagation-explained")["answer"]


def test_ten_sigmoid_layers_shrink_the_gradient_at_least_a_millionfold() -> None:
    torch.manual_seed(0)
    weights = torch.empty(10_000, 10).uniform_(-1, 1)
    biases = torch.randn(10_000, 10)
    a = torch.rand(10_000, requires_grad=True)
    h = a
    for k in range(10):
        h = torch.sigmoid(weights[:, k] * h + biases[:, k])
    h.sum().backward()
    assert a.grad.abs().max().item() <= 1e-6
    assert "at least" in card("sigmoid-depth-gradient-bound")["answer"]


def test_a_gaussian_matrix_has_eigenvalues_inside_the_unit_disk_and_singular_values_to_two() -> (
    None
):
    generator = torch.Generator().manual_seed(0)
    n = 400
    weight = torch.randn(n, n, dtype=torch.float64, generator=generator) / math.sqrt(n)
    moduli = torch.linalg.eigvals(weight).abs()
    singular = torch.linalg.svdvals(weight)
    assert (moduli < 1).double().mean().item() > 0.97
    assert 1.8 < singular.max().item() < 2.1 and singular.min().item() < 0.05
    text = card("orthogonal-initialization")["explanation"]
    assert "circular law" in text and "some $|\\lambda| > 1$" not in text
