"""Plain-text sentences that explain a result to a learner. Pure Python: no torch import."""

from __future__ import annotations

import math

from quizapp.sim.activations import ACTIVATIONS
from quizapp.sim.config import KINDS
from quizapp.sim.verdict import EXPLODING_ABOVE, VANISHING_BELOW, is_finite

_SIGNIFICANT_FRACTION = 0.1
# Kinds whose layers already sit on an identity path: telling them to add skip connections
# would be wrong advice.
_RESIDUAL_KINDS = ("residual_mlp", "transformer")

_REMEDIES = {
    ("vanishing", False): (
        "Common remedies: an initialisation matched to the activation (Xavier/Glorot for tanh, "
        "He for ReLU), identity skip connections, normalisation, a non-saturating activation, "
        "or for LSTMs a positive forget-gate bias."
    ),
    ("exploding", False): (
        "Common remedies: a variance-preserving initialisation instead of large weights, "
        "skip connections (batch norm alone makes deep plain networks explode), and gradient "
        "clipping during training."
    ),
    ("vanishing", True): (
        "This network already has skip connections, so the identity path should carry the "
        "gradient: look for what blocks it (zero or tiny weights on the path, a saturated or "
        "dead readout) and use an initialisation matched to the activation."
    ),
    ("exploding", True): (
        "This network already has skip connections; adding more would not help. Each residual "
        "branch adds to the stream's variance and to the gradient, so over many blocks both "
        "grow: scale the branches by about 1/√L (residual_scale), start each branch at zero "
        "(a zero-initialised last layer, Fixup, or ReZero's α = 0), or normalise inside the "
        "branch (pre-LN)."
    ),
}


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _zero_weights_sentence(cfg: dict) -> str:
    if KINDS[cfg["kind"]].recurrent:
        return (
            "The recurrent weights W_hh are exactly zero, so h_t does not depend on h_{t−1}: "
            "no gradient at all travels back through time (∂L/∂h_1 = 0). This is not an "
            "underflow or dead units; the weights themselves are zero."
        )
    return (
        "Every weight matrix is exactly zero, so each layer sends back Wᵀ·δ = 0: no gradient "
        "reaches the layers below the readout, whatever the activation. This is not an "
        "underflow or dead units; the weights themselves are zero (and, being identical, "
        "they would also keep every unit of a layer identical during training)."
    )


def _verdict_sentence(cfg: dict, summary: dict, recurrent: bool, layers: list[dict]) -> str:
    ratio, verdict = summary["backward_signal_ratio"], summary["verdict"]
    span = (
        "from the last time step back to the first"
        if recurrent
        else "from the output back to the network input"
    )
    if summary["has_nonfinite"]:
        return (
            "Some values overflowed float32 to infinity or NaN, so the gradient cannot be "
            "trusted: this counts as exploding."
        )
    if summary["output_signal"] == 0.0:
        return "The gradient at the output is exactly zero, so nothing flows back: vanishing."
    if ratio == 0.0 and cfg["init"] == "zeros":
        return _zero_weights_sentence(cfg)
    blocked = [layer["name"] for layer in layers if (layer.get("dead_fraction") or 0.0) >= 1.0]
    if ratio == 0.0 and blocked:
        return (
            f"Every unit of {blocked[0]} is negative for the whole batch, so that layer passes "
            "no gradient at all: exactly zero reaches the layers before it (born dead)."
        )
    if ratio == 0.0:
        return (
            f"The backward signal {span} shrank until it underflowed float32 to exactly zero "
            "(a factor below about 1e-38): the gradient vanishes."
        )
    decades = math.log10(ratio)
    change = "shrinks" if ratio < 1 else "grows"
    judgement = {
        "vanishing": f"below the vanishing threshold of {VANISHING_BELOW:g}",
        "exploding": f"above the exploding threshold of {EXPLODING_ABOVE:g}",
        "healthy": f"within {VANISHING_BELOW:g}–{EXPLODING_ABOVE:g}, so the gradient stays alive",
    }[verdict]
    return (
        f"The backward signal {change} by a factor of {_fmt(ratio)} ({decades:+.1f} decades) "
        f"{span}: {judgement}."
    )


def _weight_gradient_verdict(ratio: float) -> str:
    if ratio < VANISHING_BELOW:
        return "vanishing"
    return "exploding" if ratio > EXPLODING_ABOVE else "healthy"


def _weight_gradient_sentences(summary: dict, verdict: str, recurrent: bool) -> list[str]:
    """Why the verdict ignores the weight gradients, said only when they would mislead."""
    ratio = summary["weight_grad_ratio"]
    if not is_finite(ratio) or ratio <= 0 or _weight_gradient_verdict(ratio) == verdict:
        return []
    if recurrent:
        why = (
            "The verdict uses ‖∂L/∂h_t‖ through time, not the weight gradients: a recurrent "
            "layer's ∂L/∂W_hh sums a contribution from every step, and the late steps, close "
            "to the loss, dominate it, so it stays sizeable even when ∂L/∂h_1 has vanished."
        )
    else:
        why = (
            "The verdict uses the backward signal ‖∂L/∂x‖, not the weight gradients: in "
            "bias-free ReLU or linear networks ⟨W_l, ∇W_l⟩ is the same for every layer (Du, Hu "
            "& Lee 2018), so the first-over-last weight-gradient ratio can stay near 1 even when "
            "the signal reaching the early layers has died."
        )
    return [
        f"{why} Here the weight-gradient ratio is {_fmt(ratio)}, which on its own would say "
        f"{_weight_gradient_verdict(ratio)} while the backward signal says {verdict}."
    ]


def _unit_sentences(layers: list[dict], activation: str | None) -> list[str]:
    notes = []
    dead = [(layer["dead_fraction"] or 0.0, layer["name"]) for layer in layers]
    worst_dead = max(dead)
    if worst_dead[0] >= _SIGNIFICANT_FRACTION and activation in ACTIVATIONS:
        # Only ReLU is exactly flat below zero; each relative has its own negative side.
        consequence = ACTIVATIONS[activation].negative_side
        notes.append(
            f"{worst_dead[0]:.0%} of the units in {worst_dead[1]} are negative for every example "
            f"in the batch: {consequence}."
        )
    saturated = [
        (layer["saturated_fraction"] or 0.0, layer["name"])
        for layer in layers
        if "saturation_of" not in layer  # attention's softmax has its own sentence
    ] or [(0.0, "")]
    worst_sat = max(saturated)
    if worst_sat[0] >= _SIGNIFICANT_FRACTION:
        notes.append(
            f"{worst_sat[0]:.0%} of the pre-activations in {worst_sat[1]} are saturated (output "
            "within 1% of its limit), where the derivative is nearly zero."
        )
    return notes


def _kind_sentences(cfg: dict) -> list[str]:
    kind, notes = cfg["kind"], []
    if kind in ("rnn", "lstm", "gru"):
        notes.append(
            "For recurrent networks the loss sees only the last step, and the ratio compares "
            "‖∂L/∂h_t‖ at the first and last steps of the first layer (Pascanu et al. 2013)."
        )
    if kind == "lstm":
        bias = cfg["forget_bias"]
        if bias is None:
            notes.append(
                "The LSTM's cell-state gradient is multiplied by the forget gate at each step; at "
                "initialisation the gate is about σ(0) = 0.5, so it halves per step. A positive "
                "forget-gate bias (Gers et al. 2000; Jozefowicz et al. 2015) keeps it near 1."
            )
        else:
            gate = 1.0 / (1.0 + math.exp(-bias))
            notes.append(
                f"The forget-gate bias of {bias:g} sets the gate to about σ({bias:g}) = "
                f"{gate:.3f}, the factor the cell-state gradient keeps per step "
                f"(≈{gate ** (cfg['seq_len'] - 1):.2g} over {cfg['seq_len'] - 1} steps)."
            )
    if kind == "residual_mlp":
        notes.append(
            f"Each identity skip adds the branch to the stream (x ← x + {cfg['residual_scale']:g}"
            "·F(x)), so the gradient has a path that bypasses every branch and cannot vanish "
            "through it; a large branch at every block can make the signal grow instead."
        )
    if kind == "transformer":
        notes.append(_transformer_sentence(cfg))
    if cfg["norm"] == "batchnorm":
        notes.append(
            "Batch norm runs in training mode, on the batch's statistics, as during training."
        )
    return notes


def _transformer_sentence(cfg: dict) -> str:
    scale = cfg["residual_scale"]
    layout = {
        "pre": "pre-LN: each branch reads a layer-normalised copy of the stream, x ← x + "
        f"{scale:g}·F(LN(x)), and a final layer norm precedes the readout",
        "post": f"post-LN: the stream is normalised after each addition, x ← LN(x + {scale:g}"
        "·F(x))",
        None: f"no normalisation: x ← x + {scale:g}·F(x)",
    }[cfg["norm_position"]]
    return (
        f"Each of the {cfg['depth']} blocks has two sub-layers, self-attention over "
        f"{cfg['seq_len']} tokens with {cfg['heads']} heads and a feed-forward layer of "
        f"{4 * cfg['width']} units, each with a residual connection ({layout}). The backward "
        "signal is measured at the input of every sub-layer; the loss averages over every token."
    )


_LOW_ENTROPY_SHARE = 0.5
_COLLAPSED_SIMILARITY = 0.9


def _attention_sentences(probes: dict) -> list[str]:
    attention = probes.get("attention")
    if not attention:
        return []
    notes = []
    last = attention["blocks"][-1]
    saturated = max(last["softmax_saturated_fraction"])
    entropy, ceiling = last["attention_entropy_mean"], attention["max_entropy"]
    if saturated >= _SIGNIFICANT_FRACTION or entropy < _LOW_ENTROPY_SHARE * ceiling:
        notes.append(
            f"In the last block the attention's mean entropy is {entropy:.2f} nats of at most "
            f"ln {attention['tokens']} = {ceiling:.2f} (uniform), and up to {saturated:.0%} of "
            f"the queries of a head put ≥ {attention['saturated_at']:.0%} of their weight on "
            "one key: there the softmax is saturated and passes almost no gradient to the "
            "scores."
        )
    similarity = attention["output_token_similarity"]
    if similarity is not None and similarity >= _COLLAPSED_SIMILARITY:
        notes.append(
            f"The tokens have collapsed towards one another: their mean cosine similarity at "
            f"the output is {similarity:.2f} (rank collapse: pure attention drives every token "
            "towards the same vector, Dong, Cordonnier & Loukas 2021); the sequence's "
            "information is mostly lost even where the gradient survives."
        )
    return notes


def _training_sentences(training: dict | None) -> list[str]:
    if not training:
        return []
    notes = []
    if training["diverged"]:
        notes.append(
            f"Training diverged: the loss stopped being finite after "
            f"{training['steps_completed']} steps."
        )
    elif training["loss_initial"] is not None:
        notes.append(
            f"Over {training['steps_completed']} {training['optimizer']} steps the loss went from "
            f"{_fmt(training['loss_initial'])} to {_fmt(training['loss_final'])}."
        )
    ratios = training["update_ratio_per_layer"]
    first, last = ratios[0], ratios[-1]
    if first == 0.0 and is_finite(last) and last > 0:
        notes.append(
            "The first layer's weights did not change at all: its updates were below float32's "
            f"resolution, while the last layer's moved by {_fmt(last)} of their size per step."
        )
    elif is_finite(first) and is_finite(last) and last > 0:
        text = (
            f"Per step, the first layer's weights moved by {_fmt(first)} of their size and the "
            f"last layer's by {_fmt(last)}"
        )
        text += ": the early layers are hardly learning." if first / last < 0.01 else "."
        notes.append(text)
    return notes


def explain_result(
    cfg: dict,
    summary: dict,
    layers: list[dict],
    theory: dict,
    training: dict | None,
    probes: dict | None = None,
) -> list[str]:
    """Sentences, most important first."""
    recurrent = KINDS[cfg["kind"]].recurrent
    verdict = summary["verdict"]
    notes = [_verdict_sentence(cfg, summary, recurrent, layers)]
    if summary["has_nonfinite"] and layers:
        bad = [layer["name"] for layer in layers if layer["nonfinite"]]
        if bad:
            notes.append(
                f"Non-finite values appear in {len(bad)} of {len(layers)} layers, "
                f"the first being {bad[0]}."
            )
    notes += _weight_gradient_sentences(summary, verdict, recurrent)
    notes += _unit_sentences(layers, cfg.get("activation"))
    notes += _kind_sentences(cfg)
    notes += _attention_sentences(probes or {})
    notes.append(theory["note"])
    notes += _training_sentences(training)
    remedy = _REMEDIES.get((verdict, cfg["kind"] in _RESIDUAL_KINDS))
    if remedy:
        notes.append(remedy)
    return notes
