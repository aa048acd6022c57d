"""Recompute every numeric check's answer from first principles and compare it with the YAML.

The YAML is read directly with yaml.safe_load, so these tests do not depend on the loader.
A question with `params:` (variants) has its answers written as expressions: for those,
several learners' variants are drawn the way the app draws them, and each variant's answer
is recomputed here from its parameter values alone.
Where PyTorch implements the thing a question asks about (a layer, an optimiser, a scheduler),
the recomputation uses PyTorch itself, so the answer matches what a learner would measure.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from torch import nn
from torch.nn import functional as F

QUESTIONS_DIR = Path(__file__).parents[3] / "content" / "questions"
# A tolerance wider than this fraction of the answer would accept clearly wrong responses.
MAX_RELATIVE_SLACK = 0.05

CheckKey = tuple[str, int]  # (question slug, index among that question's numeric checks)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def parameter_count(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def max_sigmoid_derivative() -> float:
    x = np.linspace(-10.0, 10.0, 200_001)
    s = 1.0 / (1.0 + np.exp(-x))
    return float((s * (1.0 - s)).max())


def smallest_depth_below(bound: float, factor: float = 0.25) -> int:
    depth = 1
    while factor**depth >= bound:
        depth += 1
    return depth


def clipped_first_component() -> float:
    parameter = nn.Parameter(torch.zeros(2))
    parameter.grad = torch.tensor([3.0, 4.0])
    nn.utils.clip_grad_norm_([parameter], max_norm=1.0)
    return parameter.grad[0].item()


def orthogonal_relu_largest_singular_value() -> float:
    torch.manual_seed(0)
    weight = torch.empty(256, 256)
    nn.init.orthogonal_(weight, gain=nn.init.calculate_gain("relu"))
    return torch.linalg.svdvals(weight).max().item()


def derivative_at(function: Callable[[torch.Tensor], torch.Tensor], x: float) -> float:
    point = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    function(point).backward()
    return point.grad.item()


def running_mean_after_one_batch() -> float:
    layer = nn.BatchNorm1d(1)  # default momentum 0.1
    layer.running_mean.fill_(0.5)
    layer.train()
    layer(torch.full((4, 1), 2.0))
    return layer.running_mean.item()


def momentum_steady_state_ratio() -> float:
    parameter = nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = torch.optim.SGD([parameter], lr=1.0, momentum=0.9)
    previous = 0.0
    step = 0.0
    for _ in range(400):
        parameter.grad = torch.ones(1, dtype=torch.float64)
        optimizer.step()
        step = previous - parameter.item()
        previous = parameter.item()
    return step  # plain SGD with lr 1 and gradient 1 would step by exactly 1


def adam_first_step(gradient: float = 4.0, lr: float = 0.001) -> float:
    parameter = nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = torch.optim.Adam([parameter], lr=lr, eps=1e-12)
    parameter.grad = torch.full((1,), gradient, dtype=torch.float64)
    optimizer.step()
    return abs(parameter.item())


def adam_uncorrected_first_step(
    gradient: float = 4.0, lr: float = 1.0, beta1: float = 0.9, beta2: float = 0.999
) -> float:
    """Adam's first step without bias correction, moment by moment (PyTorch always corrects)."""
    first_moment = (1 - beta1) * gradient
    second_moment = (1 - beta2) * gradient**2
    return lr * first_moment / math.sqrt(second_moment)


def adam_uncorrected_first_step_ratio(beta1: float = 0.9, beta2: float = 0.999) -> float:
    return adam_uncorrected_first_step(beta1=beta1, beta2=beta2) / adam_first_step(lr=1.0)


def cosine_rate_at(epoch: int, total: int = 100, peak: float = 0.1) -> float:
    parameter = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=peak)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total, eta_min=0.0)
    for _ in range(epoch):
        optimizer.step()
        schedule.step()
    return optimizer.param_groups[0]["lr"]


def inverted_dropout_scale(p: float = 0.2) -> float:
    torch.manual_seed(0)
    kept = F.dropout(torch.ones(10_000), p=p, training=True)
    return kept[kept != 0].unique().item()


def early_stopping_restored_epoch(losses: list[float], patience: int) -> int:
    best_epoch, best_loss, waited = 0, math.inf, 0
    for epoch, loss in enumerate(losses, start=1):
        if loss < best_loss:
            best_epoch, best_loss, waited = epoch, loss, 0
        else:
            waited += 1
            if waited >= patience:
                break
    return best_epoch


def conv_output_height(size: int = 224, kernel: int = 7, stride: int = 2, padding: int = 3) -> int:
    conv = nn.Conv2d(1, 1, kernel_size=kernel, stride=stride, padding=padding)
    return conv(torch.zeros(1, 1, size, size)).shape[-1]


def same_padding(kernel: int, size: int = 16) -> int:
    """The smallest padding for which a stride-1 convolution keeps the size, found by trying."""
    return next(p for p in range(kernel) if conv_output_height(size, kernel, 1, p) == size)


def receptive_field(strides: list[int], kernel_size: int = 3) -> int:
    """Measure the receptive field by backpropagating from one output unit to the input."""
    layers = [nn.Conv2d(1, 1, kernel_size=kernel_size, stride=stride) for stride in strides]
    network = nn.Sequential(*layers)
    for parameter in network.parameters():
        nn.init.constant_(parameter, 1.0)
    image = torch.zeros(1, 1, 40, 40, requires_grad=True)
    network(image)[0, 0, 3, 3].backward()
    rows = image.grad[0, 0].abs().sum(dim=1).nonzero()
    return int(rows.max() - rows.min() + 1)


def attention_score_std(d_k: int = 64) -> float:
    # Var(q.k) = sum of d_k independent products of unit-variance variables.
    return math.sqrt(d_k * 1.0 * 1.0)


def sinusoidal_encoding(position: int, dimension: int, d_model: int = 512) -> float:
    pair = dimension // 2
    angle = position / 10000 ** (2 * pair / d_model)
    return math.sin(angle) if dimension % 2 == 0 else math.cos(angle)


def cross_entropy_grad_and_loss() -> tuple[float, float]:
    logits = torch.tensor([[2.0, 1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    loss = F.cross_entropy(logits, torch.tensor([0]))
    loss.backward()
    return logits.grad[0, 0].item(), loss.item()


def mse_sigmoid_grad(z: float = -4.0, target: float = 1.0) -> float:
    return derivative_at(lambda x: 0.5 * (torch.sigmoid(x) - target) ** 2, z)


def chain_rule_grad_y() -> float:
    x, y, z = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (1.0, 2.0, -3.0))
    ((x + y) * torch.maximum(y, z)).backward()
    return y.grad.item()


def forward_mode_passes_for_gradient(n_inputs: int = 1000) -> int:
    """Forward mode yields one directional derivative per pass: one pass per basis direction."""
    return len(torch.eye(n_inputs))


# --- signal propagation, precision and diagnostics cards (issue 16) ---------------------

GAUSS_GRID = np.linspace(-12.0, 12.0, 40_001)
GAUSS_WEIGHTS = (
    np.exp(-(GAUSS_GRID**2) / 2) / math.sqrt(2 * math.pi) * (GAUSS_GRID[1] - GAUSS_GRID[0])
)


def gaussian_mean(function: Callable[[np.ndarray], np.ndarray], variance: float) -> float:
    """E[f(z)] for z ~ N(0, variance), on a fine grid (mean-field integrals)."""
    return float(np.sum(GAUSS_WEIGHTS * function(math.sqrt(variance) * GAUSS_GRID)))


def relu_length_map(weight_variance: float, q: float, layers: int) -> float:
    for _ in range(layers):
        q = weight_variance * gaussian_mean(lambda z: np.maximum(z, 0) ** 2, q)
    return q


def relu_chi1(weight_variance: float) -> float:
    # ReLU'(z)^2 is a step; heaviside(0) = 1/2 keeps the grid's middle node unbiased.
    return weight_variance * gaussian_mean(lambda z: np.heaviside(np.round(z, 9), 0.5), 1.0)


def tanh_critical_weight_variance(bias_variance: float) -> float:
    """Bisect on sigma_w^2 for chi_1 = 1, with the variance fixed point q* bisected inside."""

    def chi1(weight_variance: float) -> float:
        low, high = bias_variance, weight_variance + bias_variance
        for _ in range(60):
            q = (low + high) / 2
            mapped = weight_variance * gaussian_mean(lambda z: np.tanh(z) ** 2, q) + bias_variance
            low, high = (q, high) if mapped > q else (low, q)
        return weight_variance * gaussian_mean(lambda z: (1 - np.tanh(z) ** 2) ** 2, q)

    low, high = 1.0, 4.0
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if chi1(middle) < 1 else (low, middle)
    return (low + high) / 2


def gaussian_jacobian_spectrum_variance(depth: int = 10, width: int = 1000) -> float:
    generator = torch.Generator().manual_seed(0)
    jacobian = torch.eye(width, dtype=torch.float64)
    for _ in range(depth):
        layer = torch.randn(width, width, dtype=torch.float64, generator=generator)
        jacobian = layer / math.sqrt(width) @ jacobian
    return (torch.linalg.svdvals(jacobian) ** 2).var().item()


def noam_rate(step: int, d_model: int = 512, warmup: int = 4000) -> float:
    """Vaswani et al.'s schedule as written (both branches, not the simplified peak)."""
    step = max(step, 1)
    return d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


def noam_half_peak_step(d_model: int, warmup: int) -> int:
    """The first step after the peak whose rate is at most half the peak, found by search."""
    peak = noam_rate(warmup, d_model, warmup)
    low, high = warmup, 1_000 * warmup  # the rate is decreasing on this interval
    while low < high:
        middle = (low + high) // 2
        low, high = (
            (middle + 1, high) if noam_rate(middle, d_model, warmup) > peak / 2 else (low, middle)
        )
    return low


def adaptive_gradient_clip(weight: torch.Tensor, grad: torch.Tensor, clip: float) -> torch.Tensor:
    """AGC of Brock et al. 2021, unit-wise over the rows of a weight matrix."""
    weight_norm = weight.norm(dim=1, keepdim=True).clamp_min(1e-3)
    grad_norm = grad.norm(dim=1, keepdim=True)
    limit = clip * weight_norm
    return torch.where(grad_norm > limit, grad * limit / grad_norm, grad)


def agc_clipped_norm() -> float:
    weight = torch.tensor([[2.0, 0.0]])
    grad = torch.tensor([[0.0, 0.5]])
    return adaptive_gradient_clip(weight, grad, clip=0.01).norm().item()


def grad_scaler_scale_after_overflow() -> float:
    import inspect

    defaults = inspect.signature(torch.amp.GradScaler.__init__).parameters
    return defaults["init_scale"].default * defaults["backoff_factor"].default


def sgd_update_to_weight_ratio() -> float:
    parameter = nn.Parameter(torch.tensor([6.0, 8.0]))  # norm 10
    parameter.grad = torch.tensor([0.3, 0.4])  # norm 0.5
    before = parameter.detach().clone()
    torch.optim.SGD([parameter], lr=0.01).step()
    return ((parameter.detach() - before).norm() / before.norm()).item() * 1e4


def centred_difference(h: float = 0.1) -> float:
    x = torch.tensor(1.0, dtype=torch.float64)
    return ((x + h) ** 3 - (x - h) ** 3).item() / (2 * h)


def tanh_saturated_fraction(std: float = 5.0) -> float:
    threshold = math.atanh(0.99)
    return 2 * (1 - torch.special.ndtr(torch.tensor(threshold / std, dtype=torch.float64)).item())


def weight_normalised_first_component() -> float:
    layer = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 4.0]]))
    layer = nn.utils.parametrizations.weight_norm(layer)
    with torch.no_grad():
        layer.parametrizations.weight.original0.fill_(2.0)  # g
    return layer.weight[0, 0].item()


def standardised_first_weight() -> float:
    weight = torch.tensor([1.0, 2.0, 3.0])
    return ((weight - weight.mean()) / weight.std(unbiased=False))[0].item()


def double_softmax_loss_floor() -> float:
    """The loss when the first softmax is certain of the right class, as low as it can go."""
    confident = torch.tensor([[100.0] + [0.0] * 9], dtype=torch.float64)
    return F.cross_entropy(F.softmax(confident, dim=1), torch.tensor([0])).item()


def kaiming_conv_std(c_in: int, c_out: int, kernel: int, mode: str) -> float:
    """The std kaiming_normal_ (ReLU) draws for a Conv2d(c_in, c_out, kernel) weight, measured
    on a weight with more of the channel that does not enter the fan (~1M samples)."""
    generator = torch.Generator().manual_seed(0)
    samples = 2**20 // (kernel * kernel)
    if mode == "fan_out":
        shape = (c_out, max(c_in, samples // c_out), kernel, kernel)
    else:
        shape = (max(c_out, samples // c_in), c_in, kernel, kernel)
    weight = torch.empty(shape)
    nn.init.kaiming_normal_(weight, mode=mode, nonlinearity="relu", generator=generator)
    return weight.std().item()


def xavier_uniform_bound(n_in: int, n_out: int) -> float:
    """The largest |w| xavier_uniform_ draws for an n_in -> n_out layer over ~200k samples."""
    generator = torch.Generator().manual_seed(0)
    weight = torch.empty(n_out, n_in)
    largest = 0.0
    for _ in range(-(-200_000 // weight.numel())):
        nn.init.xavier_uniform_(weight, generator=generator)
        largest = max(largest, weight.abs().max().item())
    return largest


def xavier_normal_std(n_in: int, n_out: int) -> float:
    generator = torch.Generator().manual_seed(0)
    draws = []
    for _ in range(-(-(2**19) // (n_in * n_out))):
        weight = torch.empty(n_out, n_in)
        draws.append(nn.init.xavier_normal_(weight, generator=generator).flatten())
    return torch.cat(draws).std().item()


def linear_rnn_gradient(w: float, steps: int) -> float:
    """d h_T / d h_0 of the scalar RNN h_t = w h_{t-1}, by autograd through the unrolled steps."""

    def unrolled(h: torch.Tensor) -> torch.Tensor:
        for _ in range(steps):
            h = w * h
        return h

    return derivative_at(unrolled, 1.0)


def relu_output_variance_after(
    variance: float, divide_weights_by: Callable[[float], float]
) -> float:
    """A ReLU layer whose output variance on a batch is `variance` has its weights divided by
    `divide_weights_by(measured variance)`, as one LSUV step does: its new output variance."""
    generator = torch.Generator().manual_seed(0)
    layer = nn.Linear(64, 64, bias=False)
    x = torch.randn(1024, 64, generator=generator)
    with torch.no_grad():
        layer.weight.mul_(math.sqrt(variance / torch.relu(layer(x)).var().item()))
        layer.weight.div_(divide_weights_by(torch.relu(layer(x)).var().item()))
        return torch.relu(layer(x)).var().item()


def lsuv_factor(variance: float) -> float:
    """The factor of one LSUV step, checked: dividing by the measured std makes the variance 1."""
    assert relu_output_variance_after(variance, math.sqrt) == pytest.approx(1.0, rel=1e-4)
    return 1 / math.sqrt(variance)


def gpt2_projection_std(blocks: int) -> float:
    """nanoGPT: every `c_proj` weight gets std 0.02 / sqrt(2 * n_layer)."""
    residual_layers = sum(1 for _ in range(blocks) for _branch in ("attention", "mlp"))
    return 0.02 / math.sqrt(residual_layers)


def pytorch_default_linear_bound() -> float:
    torch.manual_seed(0)
    return nn.Linear(256, 20_000).weight.abs().max().item()


RECOMPUTE: dict[CheckKey, Callable[[], float]] = {
    ("activation-functions-compared", 0): lambda: 1 - math.tanh(1.0) ** 2,
    ("backpropagation-explained", 0): lambda: derivative_at(
        lambda w: 0.5 * (torch.sigmoid(w * 2.0) - 1.0) ** 2, 0.5
    ),
    ("sigmoid-derivative-bound", 0): max_sigmoid_derivative,
    ("exploding-gradients-clipping", 0): clipped_first_component,
    ("orthogonal-initialization", 0): orthogonal_relu_largest_singular_value,
    ("dying-relu", 0): lambda: derivative_at(lambda x: F.leaky_relu(x, 0.01), -3.0),
    ("gelu-activation", 0): lambda: 1.0 * 0.5 * (1 + math.erf(1.0 / math.sqrt(2))),
    ("selu-self-normalizing", 0): lambda: torch.selu(torch.tensor(-1.0)).item(),
    ("batch-norm-train-vs-eval", 0): running_mean_after_one_batch,
    ("batch-norm-parameters", 0): lambda: parameter_count(nn.BatchNorm2d(64)),
    ("batch-layer-group-norm", 0): lambda: (64 // 32) * 32 * 32,
    ("residual-gradient-highway", 0): lambda: (1 + 0.1) ** 10,
    ("lstm-cell-state", 0): lambda: 0.95**20,
    ("gru-vs-lstm", 0): lambda: parameter_count(nn.GRU(10, 20)) / parameter_count(nn.LSTM(10, 20)),
    ("sgd-momentum", 0): momentum_steady_state_ratio,
    ("cosine-annealing", 0): lambda: cosine_rate_at(25),
    ("weight-decay-l2", 0): lambda: 1 - 0.1 * 0.01,
    ("early-stopping", 0): lambda: early_stopping_restored_epoch(
        [0.90, 0.72, 0.65, 0.61, 0.62, 0.60, 0.63, 0.64, 0.66], patience=3
    ),
    ("data-augmentation", 0): lambda: (256 - 224) ** 2 * 2,
    ("scaled-dot-product-scaling", 0): attention_score_std,
    ("positional-encoding", 0): lambda: sinusoidal_encoding(position=2, dimension=1),
    ("softmax-cross-entropy-gradient", 0): lambda: cross_entropy_grad_and_loss()[0],
    ("softmax-cross-entropy-gradient", 1): lambda: cross_entropy_grad_and_loss()[1],
    ("cross-entropy-vs-mse", 0): mse_sigmoid_grad,
    ("softmax-numerical-stability", 0): lambda: torch.softmax(
        torch.tensor([1000.0, 1001.0]), dim=0
    )[0].item(),
    ("initial-loss-sanity-check", 0): lambda: F.cross_entropy(
        torch.zeros(1, 10), torch.tensor([3])
    ).item(),
    ("chain-rule-computational-graph", 0): chain_rule_grad_y,
    ("reverse-vs-forward-mode-autodiff", 0): forward_mode_passes_for_gradient,
    ("mean-field-variance-map", 0): lambda: relu_length_map(1.5, 1.0, 10),
    ("tanh-critical-line", 0): lambda: tanh_critical_weight_variance(0.05),
    ("dynamical-isometry", 0): gaussian_jacobian_spectrum_variance,
    ("finite-width-effects", 0): lambda: sum(1 / 80 for _ in range(40)),
    ("shattered-gradients", 0): lambda: 2.0**-10 * 1e4,
    ("residual-variance-growth", 0): lambda: 2**10,
    ("fixup-initialization", 0): lambda: 81 ** (-1 / (2 * 3 - 2)),
    ("skipinit-rezero", 0): lambda: (1 + 0.1**2) ** 100,
    ("nf-resnets-signal-propagation", 0): lambda: math.sqrt(1 + 10 * 0.2**2),
    ("adaptive-gradient-clipping", 0): agc_clipped_norm,
    ("fp16-gradient-underflow", 0): lambda: (
        torch.tensor(2.0**-24, dtype=torch.float16).item() * 1e8
    ),
    ("loss-scaling", 0): grad_scaler_scale_after_overflow,
    ("bf16-vs-fp16", 0): lambda: torch.finfo(torch.bfloat16).eps,
    ("fp32-master-weights", 0): lambda: (
        torch.tensor(1024.0, dtype=torch.float16) + torch.tensor(0.4, dtype=torch.float16)
    ).item(),
    ("autocast-fp32-ops", 0): lambda: math.log(torch.finfo(torch.float16).max),
    ("per-layer-gradient-norms", 0): lambda: 0.8**19,
    ("update-to-weight-ratio", 0): sgd_update_to_weight_ratio,
    ("gradient-check-finite-differences", 0): centred_difference,
    ("activation-saturation-monitoring", 0): tanh_saturated_fraction,
    ("highway-networks", 0): lambda: 1 - sigmoid(-2.0),
    ("densenet-connectivity", 0): lambda: 64 + 32 * (6 - 1),
    ("irnn-identity-init", 0): lambda: 1.05**100,
    ("rnn-spectral-radius-bounds", 0): lambda: 1 / max_sigmoid_derivative(),
    ("weight-normalization", 0): weight_normalised_first_component,
    ("weight-standardization", 0): standardised_first_weight,
    ("pytorch-default-init", 0): pytorch_default_linear_bound,
    ("init-gains", 0): lambda: nn.init.calculate_gain("tanh"),
    ("overfit-one-batch", 0): double_softmax_loss_floor,
    ("nan-loss-debugging", 0): lambda: math.log(torch.finfo(torch.float32).max),
}


def he_normal_std(fan_in: int) -> float:
    """The standard deviation PyTorch's kaiming_normal_ (fan_in, ReLU) draws, measured."""
    generator = torch.Generator().manual_seed(0)
    weight = torch.empty(max(64, 2**22 // fan_in), fan_in)
    nn.init.kaiming_normal_(weight, nonlinearity="relu", generator=generator)
    return weight.std().item()


# Checks of questions with params: the answer recomputed from one variant's parameter values.
VARIANT_RECOMPUTE: dict[CheckKey, Callable[[dict[str, Any]], float]] = {
    ("sigmoid-depth-gradient-bound", 0): lambda p: smallest_depth_below(
        10.0 ** -p["k"], factor=p["w"] / 4
    ),
    ("conv-parameter-count", 0): lambda p: parameter_count(
        nn.Conv2d(p["cin"], p["cout"], kernel_size=p["k"])
    ),
    ("he-initialization", 0): lambda p: he_normal_std(p["fan_in"]),
    # initialisation scales
    ("xavier-glorot-initialization", 0): lambda p: xavier_uniform_bound(p["n_in"], p["n_out"]),
    ("kaiming-fan-mode", 0): lambda p: kaiming_conv_std(p["cin"], p["cout"], p["k"], "fan_out"),
    ("lsuv-initialization", 0): lambda p: lsuv_factor(p["v"]),
    ("gpt2-residual-scaling", 0): lambda p: gpt2_projection_std(p["blocks"]),
    # decay and growth over depth and time
    ("chi1-edge-of-chaos", 0): lambda p: relu_chi1(p["sw2"]) ** p["L"],
    ("depth-scales-trainability", 0): lambda p: 1 / -math.log(p["chi"]),
    ("pre-activation-residual-units", 0): lambda p: math.prod([p["lam"]] * p["units"]),
    ("bptt-vanishing-exploding", 0): lambda p: linear_rnn_gradient(p["w"], p["T"]),
    ("forget-gate-bias-init", 0): lambda p: (
        torch.sigmoid(torch.tensor(float(p["b"]))).item() ** p["k"]
    ),
    # parameter counts and sizes
    ("lstm-parameter-count", 0): lambda p: parameter_count(nn.LSTM(p["d"], p["h"])),
    ("projection-shortcuts", 0): lambda p: parameter_count(
        nn.Conv2d(p["cin"], 2 * p["cin"], kernel_size=1, stride=2, bias=False)
    ),
    ("multi-head-attention-parameters", 0): lambda p: parameter_count(
        nn.MultiheadAttention(p["d"], p["heads"])
    ),
    ("conv-output-size", 0): lambda p: conv_output_height(p["W"], p["K"], p["S"], p["P"]),
    ("receptive-field-stacked-convs", 0): lambda p: receptive_field([1] * p["n"], p["k"]),
    ("receptive-field-stacked-convs", 1): lambda p: receptive_field([1, p["s"], 1]),
    # optimisation and regularisation
    ("transformer-warmup-schedule", 0): lambda p: noam_rate(p["w"], p["d"], p["w"]) * 1e4,
    ("warmup-linear-scaling", 0): lambda p: p["lr0"] * (p["B"] / p["b0"]),
    ("adam-bias-correction", 0): lambda p: adam_first_step(p["g"], p["lr"]),
    ("adam-bias-correction", 1): lambda p: adam_uncorrected_first_step_ratio(p["b1"], p["b2"]),
    ("inverted-dropout", 0): lambda p: inverted_dropout_scale(p["p"]),
}
# The key of a choice check whose options are numbers, recomputed the same way, by (slug,
# position among all of the question's checks): the key option must show that number.
CHOICE_VARIANT_RECOMPUTE: dict[CheckKey, Callable[[dict[str, Any]], float]] = {
    ("xavier-glorot-initialization", 3): lambda p: xavier_normal_std(p["n_in"], p["n_out"]),
    ("kaiming-fan-mode", 3): lambda p: kaiming_conv_std(p["cin"], p["cout"], p["k"], "fan_in"),
    ("lsuv-initialization", 3): lambda p: relu_output_variance_after(p["v"], lambda v: v),
    ("chi1-edge-of-chaos", 3): lambda p: math.sqrt(relu_chi1(p["sw2"]) ** p["L"]),
    ("depth-scales-trainability", 3): lambda p: round(6 / -math.log(p["chi"])),
    ("pre-activation-residual-units", 3): lambda p: (2 - p["lam"]) ** p["units"],
    ("bptt-vanishing-exploding", 3): lambda p: linear_rnn_gradient(p["w"], 2 * p["T"]),
    ("forget-gate-bias-init", 3): lambda p: (sigmoid(p["b"]) / sigmoid(0.0)) ** p["k"],
    ("lstm-parameter-count", 3): lambda p: parameter_count(nn.GRU(p["d"], p["h"])),
    ("projection-shortcuts", 3): lambda p: parameter_count(
        nn.Conv2d(p["cin"], 2 * p["cin"], kernel_size=3, stride=2, bias=False)
    ),
    ("multi-head-attention-parameters", 1): lambda p: (
        nn.MultiheadAttention(p["d"], p["heads"]).head_dim
    ),
    ("multi-head-attention-parameters", 3): lambda p: parameter_count(
        nn.MultiheadAttention(p["d"], p["heads"], bias=False)
    ),
    ("conv-output-size", 1): lambda p: same_padding(p["ks"]),
    ("receptive-field-stacked-convs", 4): lambda p: receptive_field([1, p["s"], 1, 1]),
    ("transformer-warmup-schedule", 3): lambda p: noam_half_peak_step(p["d"], p["w"]),
    ("warmup-linear-scaling", 3): lambda p: 5 * 1_281_167 / p["B"],
    ("adam-bias-correction", 4): lambda p: adam_uncorrected_first_step(
        p["g"], p["lr"], p["b1"], p["b2"]
    ),
    ("inverted-dropout", 3): lambda p: 2.0 * inverted_dropout_scale(p["p"]),
    ("gpt2-residual-scaling", 3): lambda p: (0.02 / gpt2_projection_std(p["blocks"])) ** 2,
}
# Learners whose variants are recomputed (each draws its own parameter values).
VARIANT_LEARNERS = [f"user:{n}" for n in range(8)]


def load_numeric_checks(
    with_params: bool = False,
) -> dict[CheckKey, tuple[str, dict[str, Any]]]:
    """Every numeric check in the bank, keyed by slug and index, with its file name: of the
    questions without params, or (`with_params`) of those with params."""
    found: dict[CheckKey, tuple[str, dict[str, Any]]] = {}
    for path in sorted(QUESTIONS_DIR.glob("*.yaml")):
        question = yaml.safe_load(path.read_text(encoding="utf-8"))
        if bool(question.get("params")) != with_params:
            continue
        numeric = [c for c in question.get("checks", []) if c.get("kind") == "numeric"]
        for index, check in enumerate(numeric):
            found[(path.stem, index)] = (f"content/questions/{path.name}", check)
    return found


NUMERIC_CHECKS = load_numeric_checks()
VARIANT_CHECKS = load_numeric_checks(with_params=True)


def allowed_error(check: dict[str, Any]) -> float:
    """The grader accepts a response within either the absolute or the relative tolerance."""
    absolute = float(check.get("tolerance", 0.0))
    relative = float(check.get("relative_tolerance", 0.0)) * abs(float(check["answer"]))
    return max(absolute, relative)


def test_the_bank_has_numeric_checks() -> None:
    assert len(NUMERIC_CHECKS) >= 20, f"only {len(NUMERIC_CHECKS)} numeric checks found"


def test_every_numeric_check_has_a_recomputation() -> None:
    missing = [
        f"{file}: numeric check {index} has no recomputation in {Path(__file__).name}"
        for checks, recompute in ((NUMERIC_CHECKS, RECOMPUTE), (VARIANT_CHECKS, VARIANT_RECOMPUTE))
        for (slug, index), (file, _) in sorted(checks.items())
        if (slug, index) not in recompute
    ]
    assert not missing, "\n".join(missing)


def test_no_recomputation_is_stale() -> None:
    stale = [
        f"content/questions/{slug}.yaml: no numeric check {index} (of its kind) any more"
        for checks, recompute in ((NUMERIC_CHECKS, RECOMPUTE), (VARIANT_CHECKS, VARIANT_RECOMPUTE))
        for slug, index in sorted(recompute)
        if (slug, index) not in checks
    ]
    assert not stale, "\n".join(stale)


@functools.cache
def stored_checks(slug: str) -> list[dict[str, Any]]:
    """A question's checks as the import stores them (rendered once per question)."""
    from quizapp.content.loader import SourceDocument
    from quizapp.content.rendering import render_question
    from quizapp.content.schemas import QuestionSchema
    from quizapp.content.yaml_source import parse_yaml

    path = QUESTIONS_DIR / f"{slug}.yaml"
    parsed = parse_yaml(path.read_text(encoding="utf-8"))
    document = SourceDocument(str(path), QuestionSchema().load(parsed.data), parsed, "")
    return render_question(document)["checks"]


def learner_variants(
    slug: str, index: int, kind: str | None = "numeric"
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(params, check) as several learners get them: the file rendered for import, then each
    learner's variant resolved exactly as the question page resolves it. `index` counts the
    question's checks of `kind`, or all of its checks when `kind` is None."""
    from quizapp.domain.grading import check_id, resolve_check

    stored = stored_checks(slug)
    position = [i for i, check in enumerate(stored) if kind in (None, check["kind"])][index]
    variants = []
    for learner in VARIANT_LEARNERS:
        resolved = resolve_check(stored[position], learner, check_id(slug, position))
        variants.append((resolved.variant, dict(resolved.check)))
    return variants


@pytest.mark.parametrize("key", sorted(VARIANT_RECOMPUTE), ids=lambda key: f"{key[0]}[{key[1]}]")
def test_variant_answers_match_recomputation(key: CheckKey) -> None:
    if key not in VARIANT_CHECKS:
        pytest.fail(
            f"content/questions/{key[0]}.yaml: numeric check {key[1]} with params not found"
        )
    file = VARIANT_CHECKS[key][0]
    variants = learner_variants(*key)
    assert len({tuple(params.items()) for params, _ in variants}) >= 3, "learners share variants"
    for params, check in variants:
        expected = float(VARIANT_RECOMPUTE[key](params))
        tolerance = allowed_error(check)
        assert abs(check["answer"] - expected) <= tolerance, (
            f"{file}: numeric check {key[1]} for {params} has answer {check['answer']} but "
            f"recomputation gives {expected:.6g} (allowed error {tolerance})"
        )
        assert tolerance <= MAX_RELATIVE_SLACK * abs(check["answer"]), (
            f"{file}: numeric check {key[1]} for {params} accepts ±{tolerance}"
        )


NUMBER = re.compile(r"(-?\d+(?:\.\d+)?)(?:\s*\\times\s*10\^\{(-?\d+)\})?")


def shown_number(text: str) -> float:
    """The number an option shows: "$\\approx 1.17 \\times 10^{2}$", "About 1564", "12 layers"."""
    found = NUMBER.search(text.replace(",", ""))
    assert found, f"no number in option {text!r}"
    mantissa, exponent = found.groups()
    return float(mantissa) * 10 ** int(exponent or 0)


@pytest.mark.parametrize(
    "key", sorted(CHOICE_VARIANT_RECOMPUTE), ids=lambda key: f"{key[0]}[{key[1]}]"
)
def test_variant_choice_keys_match_recomputation(key: CheckKey) -> None:
    """The key of a numeric-option choice check shows the recomputed number (3 significant
    digits at least) in every learner's variant; content check already keeps distractors off it."""
    file = f"content/questions/{key[0]}.yaml"
    variants = learner_variants(*key, kind=None)
    assert len({tuple(params.items()) for params, _ in variants}) >= 3, "learners share variants"
    for params, check in variants:
        assert check["kind"] == "single_choice", f"{file}: check {key[1]} is a {check['kind']}"
        shown = shown_number(check["options"][check["correct"]]["text"])
        expected = float(CHOICE_VARIANT_RECOMPUTE[key](params))
        assert shown == pytest.approx(expected, rel=0.006), (
            f"{file}: check {key[1]} for {params}: the key shows {shown}, "
            f"recomputation gives {expected:.6g}"
        )


@pytest.mark.parametrize("key", sorted(RECOMPUTE), ids=lambda key: f"{key[0]}[{key[1]}]")
def test_numeric_answer_matches_recomputation(key: CheckKey) -> None:
    if key not in NUMERIC_CHECKS:
        pytest.fail(f"content/questions/{key[0]}.yaml: numeric check {key[1]} not found")
    file, check = NUMERIC_CHECKS[key]
    expected = float(RECOMPUTE[key]())
    answer = float(check["answer"])
    tolerance = allowed_error(check)
    assert abs(answer - expected) <= tolerance, (
        f"{file}: numeric check {key[1]} has answer {answer} but recomputation gives "
        f"{expected:.6g} (allowed error {tolerance})"
    )


@pytest.mark.parametrize("key", sorted(NUMERIC_CHECKS), ids=lambda key: f"{key[0]}[{key[1]}]")
def test_numeric_tolerance_is_tight_enough(key: CheckKey) -> None:
    file, check = NUMERIC_CHECKS[key]
    answer = abs(float(check["answer"]))
    tolerance = allowed_error(check)
    assert tolerance <= MAX_RELATIVE_SLACK * answer, (
        f"{file}: numeric check {key[1]} accepts ±{tolerance} around {check['answer']}, "
        f"more than {MAX_RELATIVE_SLACK:.0%} of the answer"
    )
