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

import math
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
    # Layers whose saturation is not |pre| beyond a threshold (attention: one-hot softmax
    # rows), by layer index: the fraction as a 0-d tensor.
    saturated: dict[int, Tensor] = field(default_factory=dict)
    # Kind-specific tensors a probe hook reads (attention weights, residual streams, ...).
    extra: dict[str, list[Tensor]] = field(default_factory=dict)


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
    # Probe hooks: name -> fn(trace, backward signals per layer) -> JSON-able measurements,
    # run after the backward pass under no_grad; they land in result["probes"][name].
    probes: dict[str, Callable[[Trace, list[float]], dict[str, Any]]] = field(default_factory=dict)
    # The tensors of the hidden stack a Jacobian probe multiplies through (mlp only).
    hidden_affines: list[tuple[Tensor, Tensor]] = field(default_factory=list)


# --- layers ------------------------------------------------------------------------------


def _affine(
    init: str,
    std: float | None,
    out_features: int,
    in_features: int,
    kernel: int = 0,
    bias_std: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Weight and bias of a Linear (kernel 0) or a k×k Conv2d (padding k // 2).

    `default` builds the PyTorch module so its own initialisation runs; every other scheme
    initialises a fresh weight and draws the bias from N(0, bias_std²) after it (zero bias,
    and no random draw, when bias_std is 0).
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
    bias = torch.zeros(out_features)
    if bias_std:
        bias.normal_(0.0, bias_std)
    return weight.requires_grad_(True), bias.requires_grad_(True)


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
    bias_std = cfg.get("bias_std") or 0.0
    phi = activation_fn(cfg["activation"])
    dims = [input_dim(cfg)] + [width] * (depth - 1) + [output_dim(cfg)]
    linears = [_affine(init, std, dims[i + 1], dims[i], bias_std=bias_std) for i in range(depth)]
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
    net = _network(cfg, names, linears, norms, forward)

    def spectrum(trace: Trace, signals: list[float]) -> dict[str, Any]:
        from quizapp.sim.spectrum import jacobian_spectrum

        return jacobian_spectrum(cfg, linears, norms, trace)

    net.probes["jacobian_spectrum"] = spectrum
    return net


def build_residual_mlp(cfg: dict) -> Network:
    depth, width, init, std = cfg["depth"], cfg["width"], cfg["init"], cfg["init_std"]
    phi = activation_fn(cfg["activation"])
    scale, every, hidden = cfg["residual_scale"], cfg["skip_every"], depth - 1
    bias_std = cfg.get("bias_std") or 0.0
    blocks = [range(start, min(start + every, hidden)) for start in range(0, hidden, every)]
    linears = [_affine(init, std, width, width, bias_std=bias_std) for _ in range(hidden)]
    linears.append(_affine(init, std, output_dim(cfg), width, bias_std=bias_std))
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


# --- transformer --------------------------------------------------------------------------


@dataclass
class _Block:
    in_proj: tuple[Tensor, Tensor]  # q, k, v stacked: (3·width, width), as nn.MultiheadAttention
    out_proj: tuple[Tensor, Tensor]
    ffn_in: tuple[Tensor, Tensor]  # width -> 4·width
    ffn_out: tuple[Tensor, Tensor]  # 4·width -> width
    norms: list[_Norm | None]  # before/after the attention and the feed-forward sub-layer


def _transformer_block(cfg: dict) -> _Block:
    width, init, std = cfg["width"], cfg["init"], cfg["init_std"]
    if init == "default":
        # PyTorch's own modules, for their own initialisation: nn.MultiheadAttention (Xavier-
        # uniform in_proj, zero in_proj bias, out_proj as nn.Linear with zero bias) and
        # nn.Linear for the feed-forward layer. Their forward is not used.
        attention = nn.MultiheadAttention(width, cfg["heads"], batch_first=True)
        ffn_in, ffn_out = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)
        in_proj = (attention.in_proj_weight, attention.in_proj_bias)
        out_proj = (attention.out_proj.weight, attention.out_proj.bias)
        ffn = [(ffn_in.weight, ffn_in.bias), (ffn_out.weight, ffn_out.bias)]
    else:
        weight = torch.empty(3 * width, width)
        for part in weight.split(width):  # q, k and v are separate width × width maps
            init_weight(part, init, std)
        in_proj = (weight.requires_grad_(True), torch.zeros(3 * width, requires_grad=True))
        out_proj = _affine(init, std, width, width)
        ffn = [_affine(init, std, 4 * width, width), _affine(init, std, width, 4 * width)]
    norm = "layernorm" if cfg["norm"] == "layer" else "none"
    return _Block(in_proj, out_proj, ffn[0], ffn[1], [_make_norm(norm, width) for _ in range(2)])


def _self_attention(x: Tensor, block: _Block, heads: int) -> tuple[Tensor, Tensor]:
    """nn.MultiheadAttention's computation, written out so the weights can be read."""
    batch, tokens, width = x.shape
    q, k, v = F.linear(x, *block.in_proj).chunk(3, dim=-1)

    def split(t: Tensor) -> Tensor:
        return t.reshape(batch, tokens, heads, width // heads).transpose(1, 2)

    q, k, v = split(q), split(k), split(v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(width // heads)
    weights = torch.softmax(scores, dim=-1)  # (batch, heads, query, key)
    out = (weights @ v).transpose(1, 2).reshape(batch, tokens, width)
    return F.linear(out, *block.out_proj), weights


SOFTMAX_SATURATED_AT = 0.99  # a query row counts as saturated when one key takes ≥ 99 %


def _attention_probe(trace: Trace, signals: list[float]) -> dict[str, Any]:
    """Per block: attention entropy per head, softmax saturation, rank collapse of tokens."""
    weights = trace.extra["attention"]
    streams = trace.extra["streams"]
    tokens = weights[0].shape[-1]
    entropy = torch.stack(
        [-(w * torch.log(w.clamp_min(1e-30))).sum(-1).mean(dim=(0, 2), dtype=torch.float64)
         for w in weights]
    )  # (blocks, heads)  # fmt: skip
    saturated = torch.stack(
        [(w.amax(-1) >= SOFTMAX_SATURATED_AT).double().mean(dim=(0, 2)) for w in weights]
    )
    similarity, residual = [], []
    for x in streams:
        x = x.double()
        unit = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-300)
        gram = unit @ unit.transpose(-2, -1)
        similarity.append(((gram.sum(dim=(-2, -1)) - tokens) / (tokens * (tokens - 1))).mean())
        centred = x - x.mean(dim=1, keepdim=True)
        residual.append(centred.norm() / x.norm().clamp_min(1e-300))
    similarity_list = torch.stack(similarity).tolist()
    residual_list = torch.stack(residual).tolist()
    entropy_rows, saturated_rows = entropy.tolist(), saturated.tolist()
    blocks = []
    for b in range(len(weights)):
        blocks.append(
            {
                "block": b + 1,
                "input_signal": signals[2 * b],  # = the attention sub-layer's input
                "attention_input_signal": signals[2 * b],
                "ffn_input_signal": signals[2 * b + 1],
                "attention_entropy": entropy_rows[b],
                "attention_entropy_mean": sum(entropy_rows[b]) / len(entropy_rows[b]),
                "softmax_saturated_fraction": saturated_rows[b],
                "token_similarity": similarity_list[b],
                "rank_collapse_residual": residual_list[b],
            }
        )
    return {
        "tokens": tokens,
        "max_entropy": math.log(tokens),
        "saturated_at": SOFTMAX_SATURATED_AT,
        "blocks": blocks,
        "output_token_similarity": similarity_list[-1],
        "output_rank_collapse_residual": residual_list[-1],
        "definitions": {
            "attention_entropy": "−Σ_j p_ij ln p_ij of each query's attention weights, in nats, "
            "mean over queries and examples, per head (uniform attention: ln seq_len)",
            "softmax_saturated_fraction": "share of query rows whose largest attention weight "
            f"is ≥ {SOFTMAX_SATURATED_AT:g}, per head (the softmax Jacobian is then ≈ 0)",
            "token_similarity": "mean cosine similarity between the token representations of "
            "one sequence at the block's input, over token pairs and examples (1: collapsed)",
            "rank_collapse_residual": "‖X − 1·mean_token(X)‖ / ‖X‖ of the block's input: the "
            "share not explained by one shared token (Dong et al. 2021; 0: rank one)",
        },
    }


def build_transformer(cfg: dict) -> Network:
    """Blocks of self-attention and a 4 × width feed-forward layer, each with a residual."""
    depth, heads, scale = cfg["depth"], cfg["heads"], cfg["residual_scale"]
    phi = activation_fn(cfg["activation"])
    post = cfg["norm_position"] == "post"
    blocks = [_transformer_block(cfg) for _ in range(depth)]
    readout = _affine(cfg["init"], cfg["init_std"], output_dim(cfg), cfg["width"])
    # Pre-LN stacks end with a final layer norm before the readout (as GPT-2 and Xiong et al.
    # 2020); post-LN stacks are normalised after every sub-layer already.
    final_norm = _make_norm("layernorm", cfg["width"]) if cfg["norm_position"] == "pre" else None

    def sublayer(x: Tensor, norm, branch, trace: Trace | None) -> Tensor:
        h = norm(x) if norm is not None and not post else x
        out, pre, extra = branch(h)
        y = x + scale * out
        if norm is not None and post:
            y = norm(y)
        if trace is not None:
            if extra is not None:
                trace.extra["attention"].append(extra)
                trace.saturated[len(trace.inputs)] = (
                    (extra.amax(-1) >= SOFTMAX_SATURATED_AT).double().mean()
                )
            trace.inputs.append(x)
            trace.pre.append(pre)
            trace.act.append(y)
        return y

    def forward(x: Tensor, trace: Trace | None) -> Tensor:
        if trace is not None:
            trace.extra.update(attention=[], streams=[])
        for block in blocks:
            if trace is not None:
                trace.extra["streams"].append(x)

            def attention(h: Tensor, block: _Block = block) -> tuple:
                out, weights = _self_attention(h, block, heads)
                return out, None, weights

            def feed_forward(h: Tensor, block: _Block = block) -> tuple:
                pre = F.linear(h, *block.ffn_in)
                return F.linear(phi(pre), *block.ffn_out), pre, None

            x = sublayer(x, block.norms[0], attention, trace)
            x = sublayer(x, block.norms[1], feed_forward, trace)
        if trace is not None:
            trace.extra["streams"].append(x)
        y = F.linear(final_norm(x) if final_norm is not None else x, *readout)
        if trace is not None:
            trace.inputs.append(x)
            trace.pre.append(None)
            trace.act.append(y)
        return y.reshape(-1, y.shape[-1])

    names = [f"block{b + 1}.{part}" for b in range(depth) for part in ("attn", "ffn")]
    activation = ACTIVATIONS[cfg["activation"]]
    norms = [n for block in blocks for n in block.norms] + [final_norm]
    weights = [[b.in_proj[0], b.out_proj[0]] for b in blocks]
    ffn_weights = [[b.ffn_in[0], b.ffn_out[0]] for b in blocks]
    layer_weights = [w for pair in zip(weights, ffn_weights, strict=True) for w in pair]
    affines = [a for b in blocks for a in (b.in_proj, b.out_proj, b.ffn_in, b.ffn_out)]
    return Network(
        kind="transformer",
        layer_names=names + ["readout"],
        layer_weights=layer_weights + [[readout[0]]],
        parameters=[p for pair in affines + [readout] for p in pair] + _norm_params(norms),
        forward=forward,
        dead_family=activation.family == "relu",
        saturation_at=activation.saturation_at,
        probes={"attention": _attention_probe},
    )


BUILDERS: dict[str, Callable[[dict], Network]] = {
    "mlp": build_mlp,
    "residual_mlp": build_residual_mlp,
    "cnn": build_cnn,
    "rnn": build_recurrent,
    "lstm": build_recurrent,
    "gru": build_recurrent,
    "transformer": build_transformer,
}


def build_network(cfg: dict) -> Network:
    """Build and initialise the network a normalised config describes."""
    return BUILDERS[cfg["kind"]](cfg)
