"""Builders for the networks a learner can choose, with a traced forward pass. Imports torch.

Every network reports a list of *layers*: one per weight layer (feed-forward kinds) or per
stacked recurrent layer, then the readout. For each reported layer the traced forward keeps
the layer's input (whose gradient is the backward signal), the tensor fed to its nonlinearity
(for dead/saturated units) and its output activation.

Conventions:
- mlp: x → linear → norm → activation, repeated depth − 1 times, then a linear readout.
- residual_mlp: identity-skip, pre-activation blocks (He et al. 2016, "Identity mappings"):
  x ← x + residual_scale · F(x), with F = (norm → activation → linear) × skip_every and
  nothing applied after the addition; the last block is shorter when depth − 1 is not a
  multiple of skip_every. The readout is applied to the residual stream.
- cnn: 3×3 convolutions (padding 1) on 3 × 8 × 8 inputs, conv → norm → activation, then
  global average pooling and a linear readout; the channel count is `width`.
- rnn / lstm / gru: unrolled step by step (PyTorch's gate order and formulas) so the gradient
  with respect to every hidden state h_t can be read; the loss sees only the last step of the
  top layer, so ∂L/∂h_1 is purely what travelled back through time.
- Batch norm is used in training mode (batch statistics); layer norm for cnn normalises each
  example over channels and positions (GroupNorm with one group).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from quizapp.sim.activations import ACTIVATIONS, GATE_SATURATION_AT, activation_fn
from quizapp.sim.config import KINDS, input_dim, output_dim
from quizapp.sim.inits import init_weight


@dataclass
class Trace:
    """What the traced forward pass keeps per reported layer."""

    inputs: list[Tensor] = field(default_factory=list)  # x_l: its gradient is the backward signal
    pre: list[Tensor | None] = field(default_factory=list)  # fed to the nonlinearity
    act: list[Tensor] = field(default_factory=list)  # the layer's output activation
    steps: list[list[Tensor]] = field(default_factory=list)  # recurrent: h_t per layer


@dataclass
class Network:
    kind: str
    layer_names: list[str]
    layer_weights: list[list[Tensor]]  # weight matrices per reported layer (no biases)
    parameters: list[Tensor]  # everything trainable
    forward: Callable[[Tensor, Trace | None], Tensor]
    # How to judge the tensors in Trace.pre: "dead" per unit, "saturated" per entry.
    dead_family: bool = False
    saturation_at: Any = None  # float, or per-unit Tensor for gated cells


# --- layers ------------------------------------------------------------------------------


def _affine(
    init: str, std: float | None, out_features: int, in_features: int, kernel: int = 0
) -> tuple[Tensor, Tensor]:
    """Weight and bias of a Linear (kernel 0) or a k×k Conv2d (padding k // 2).

    `default` builds the PyTorch module so its own initialisation runs; every other scheme
    initialises a fresh weight and zeroes the bias.
    """
    if init == "default":
        if kernel:
            module: nn.Module = nn.Conv2d(in_features, out_features, kernel, padding=kernel // 2)
        else:
            module = nn.Linear(in_features, out_features)
        return module.weight, module.bias
    shape = (out_features, in_features, kernel, kernel) if kernel else (out_features, in_features)
    weight = torch.empty(shape)
    init_weight(weight, init, std)
    return weight.requires_grad_(True), torch.zeros(out_features, requires_grad=True)


@dataclass
class _Norm:
    kind: str
    weight: Tensor
    bias: Tensor

    def __call__(self, h: Tensor) -> Tensor:
        if self.kind == "batchnorm":
            return F.batch_norm(h, None, None, self.weight, self.bias, training=True)
        if h.dim() == 4:  # cnn layer norm: over channels and positions of each example
            return F.group_norm(h, 1, self.weight, self.bias)
        return F.layer_norm(h, (h.shape[-1],), self.weight, self.bias)


def _make_norm(kind: str, width: int) -> _Norm | None:
    if kind == "none":
        return None
    weight = torch.ones(width, requires_grad=True)
    bias = torch.zeros(width, requires_grad=True)
    return _Norm(kind, weight, bias)


def _norm_params(norms: list[_Norm | None]) -> list[Tensor]:
    return [p for n in norms if n is not None for p in (n.weight, n.bias)]


# --- feed-forward kinds -------------------------------------------------------------------


def _hidden_layer(x: Tensor, h: Tensor, norm, phi, trace: Trace | None) -> Tensor:
    """Norm (if any) and activation of a layer's pre-activation `h`, recorded in the trace."""
    if norm is not None:
        h = norm(h)
    a = phi(h)
    if trace is not None:
        trace.inputs.append(x)
        trace.pre.append(h)
        trace.act.append(a)
    return a


def build_mlp(cfg: dict) -> Network:
    depth, width, init, std = cfg["depth"], cfg["width"], cfg["init"], cfg["init_std"]
    phi = activation_fn(cfg["activation"])
    dims = [input_dim(cfg)] + [width] * (depth - 1) + [output_dim(cfg)]
    linears = [_affine(init, std, dims[i + 1], dims[i]) for i in range(depth)]
    norms = [_make_norm(cfg["norm"], width) for _ in range(depth - 1)]

    def forward(x: Tensor, trace: Trace | None) -> Tensor:
        for (w, b), norm in zip(
            linears, norms, strict=False
        ):  # the readout has no norm: zip stops before
            x = _hidden_layer(x, F.linear(x, w, b), norm, phi, trace)
        w, b = linears[-1]
        y = F.linear(x, w, b)
        if trace is not None:
            trace.inputs.append(x)
            trace.pre.append(None)
            trace.act.append(y)
        return y

    names = [f"fc{i + 1}" for i in range(depth - 1)] + ["readout"]
    return _network(cfg, names, linears, norms, forward)


def build_residual_mlp(cfg: dict) -> Network:
    depth, width, init, std = cfg["depth"], cfg["width"], cfg["init"], cfg["init_std"]
    phi = activation_fn(cfg["activation"])
    scale, every, hidden = cfg["residual_scale"], cfg["skip_every"], depth - 1
    blocks = [range(start, min(start + every, hidden)) for start in range(0, hidden, every)]
    linears = [_affine(init, std, width, width) for _ in range(hidden)]
    linears.append(_affine(init, std, output_dim(cfg), width))
    norms = [_make_norm(cfg["norm"], width) for _ in range(hidden)]

    def forward(x: Tensor, trace: Trace | None) -> Tensor:
        for block in blocks:
            u = x
            for i in block:
                h = norms[i](u) if norms[i] is not None else u
                a = phi(h)
                if trace is not None:
                    trace.inputs.append(u)
                    trace.pre.append(h)
                    trace.act.append(a)
                u = F.linear(a, *linears[i])
            x = x + scale * u
        y = F.linear(x, *linears[-1])
        if trace is not None:
            trace.inputs.append(x)
            trace.pre.append(None)
            trace.act.append(y)
        return y

    names = [f"block{b + 1}.fc{j + 1}" for b, block in enumerate(blocks) for j in range(len(block))]
    return _network(cfg, names + ["readout"], linears, norms, forward)


def build_cnn(cfg: dict) -> Network:
    depth, width, init, std = cfg["depth"], cfg["width"], cfg["init"], cfg["init_std"]
    phi = activation_fn(cfg["activation"])
    channels = [input_dim(cfg)] + [width] * (depth - 1)
    convs = [_affine(init, std, width, channels[i], kernel=3) for i in range(depth - 1)]
    readout = _affine(init, std, output_dim(cfg), width)
    norms = [_make_norm(cfg["norm"], width) for _ in range(depth - 1)]

    def forward(x: Tensor, trace: Trace | None) -> Tensor:
        for (w, b), norm in zip(convs, norms, strict=True):
            x = _hidden_layer(x, F.conv2d(x, w, b, padding=1), norm, phi, trace)
        y = F.linear(x.mean(dim=(2, 3)), *readout)
        if trace is not None:
            trace.inputs.append(x)
            trace.pre.append(None)
            trace.act.append(y)
        return y

    names = [f"conv{i + 1}" for i in range(depth - 1)] + ["readout"]
    return _network(cfg, names, convs + [readout], norms, forward)


def _network(
    cfg: dict,
    names: list[str],
    affines: list[tuple[Tensor, Tensor]],
    norms: list[_Norm | None],
    forward: Callable[[Tensor, Trace | None], Tensor],
) -> Network:
    activation = ACTIVATIONS[cfg["activation"]]
    return Network(
        kind=cfg["kind"],
        layer_names=names,
        layer_weights=[[w] for w, _ in affines],
        parameters=[p for pair in affines for p in pair] + _norm_params(norms),
        forward=forward,
        dead_family=activation.family == "relu",
        saturation_at=activation.saturation_at,
    )


# --- recurrent kinds ----------------------------------------------------------------------

_RNN_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _recurrent_step(kind: str, phi: Callable[[Tensor], Tensor]) -> Callable[..., Any]:
    """One time step: (input projection x_t, state, w_hh, b_hh) -> (h, state, pre)."""

    def rnn_step(xp: Tensor, state: Tensor, w_hh: Tensor, b_hh: Tensor) -> tuple:
        pre = xp + F.linear(state, w_hh, b_hh)
        h = phi(pre)
        return h, h, pre

    def lstm_step(xp: Tensor, state: tuple[Tensor, Tensor], w_hh: Tensor, b_hh: Tensor) -> tuple:
        h, c = state
        gates = xp + F.linear(h, w_hh, b_hh)
        i, f, g, o = gates.chunk(4, dim=-1)  # PyTorch's gate order
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c), gates

    def gru_step(xp: Tensor, state: Tensor, w_hh: Tensor, b_hh: Tensor) -> tuple:
        gh = F.linear(state, w_hh, b_hh)
        xr, xz, xn = xp.chunk(3, dim=-1)
        hr, hz, hn = gh.chunk(3, dim=-1)
        r_pre, z_pre = xr + hr, xz + hz
        r, z = torch.sigmoid(r_pre), torch.sigmoid(z_pre)
        n_pre = xn + r * hn
        h = (1 - z) * torch.tanh(n_pre) + z * state
        return h, h, torch.cat((r_pre, z_pre, n_pre), dim=-1)

    return {"rnn": rnn_step, "lstm": lstm_step, "gru": gru_step}[kind]


def build_recurrent(cfg: dict) -> Network:
    kind, depth, width = cfg["kind"], cfg["depth"], cfg["width"]
    gates = KINDS[kind].gates
    activation = ACTIVATIONS[cfg["activation"] or "tanh"]
    # PyTorch's module gives the default init (and the parameter layout) of every layer;
    # its forward is not used.
    module = _RNN_MODULES[kind](input_dim(cfg), width, num_layers=depth)
    layers = []
    for index in range(depth):
        w_ih, w_hh, b_ih, b_hh = (
            getattr(module, f"{name}_l{index}")
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        if cfg["init"] != "default":
            with torch.no_grad():
                for block in range(gates):  # init applies to each gate's h×h recurrent block
                    init_weight(
                        w_hh.data[block * width : (block + 1) * width], cfg["init"], cfg["init_std"]
                    )
                b_ih.zero_()
                b_hh.zero_()
        if cfg["forget_bias"] is not None:  # lstm: total forget-gate bias = forget_bias
            with torch.no_grad():
                b_ih[width : 2 * width] = cfg["forget_bias"]
                b_hh[width : 2 * width] = 0.0
        layers.append((w_ih, w_hh, b_ih, b_hh))
    readout = nn.Linear(width, output_dim(cfg))
    if cfg["init"] != "default":
        with torch.no_grad():
            readout.bias.zero_()

    step = _recurrent_step(kind, activation_fn(activation.name))

    def forward(x: Tensor, trace: Trace | None) -> Tensor:
        # x: (seq_len, batch, features)
        for w_ih, w_hh, b_ih, b_hh in layers:
            xp = F.linear(x, w_ih, b_ih)  # all time steps at once
            h0 = x.new_zeros(x.shape[1], width)
            state: Any = (h0, h0) if kind == "lstm" else h0
            hs, pres = [], []
            # unbind, not xp[t]: the backward of T separate selects would build T full-size
            # zero tensors (quadratic in seq_len); unbind's backward stacks once.
            for xp_t in xp.unbind(0):
                h, state, pre = step(xp_t, state, w_hh, b_hh)
                hs.append(h)
                pres.append(pre)
            out = torch.stack(hs)
            if trace is not None:
                trace.inputs.append(x)
                trace.pre.append(torch.stack(pres))
                trace.act.append(out)
                trace.steps.append(hs)
            x = out
        last = x[-1]  # the top layer's h_T: the only state the loss sees directly
        y = readout(last)
        if trace is not None:
            trace.inputs.append(last)
            trace.pre.append(None)
            trace.act.append(y)
        return y

    if kind == "rnn":
        dead, saturation = activation.family == "relu", activation.saturation_at
    else:  # gates: sigmoid rule; the candidate block (g of lstm, n of gru; index 2): tanh rule
        per_block = [GATE_SATURATION_AT] * gates
        per_block[2] = ACTIVATIONS["tanh"].saturation_at
        saturation = torch.tensor(per_block).repeat_interleave(width)
        dead = False
    return Network(
        kind=kind,
        layer_names=[f"{kind}{i + 1}" for i in range(depth)] + ["readout"],
        layer_weights=[[w_ih, w_hh] for w_ih, w_hh, _, _ in layers] + [[readout.weight]],
        parameters=[p for layer in layers for p in layer] + [readout.weight, readout.bias],
        forward=forward,
        dead_family=dead,
        saturation_at=saturation,
    )


BUILDERS: dict[str, Callable[[dict], Network]] = {
    "mlp": build_mlp,
    "residual_mlp": build_residual_mlp,
    "cnn": build_cnn,
    "rnn": build_recurrent,
    "lstm": build_recurrent,
    "gru": build_recurrent,
}


def build_network(cfg: dict) -> Network:
    """Build and initialise the network a normalised config describes."""
    return BUILDERS[cfg["kind"]](cfg)
