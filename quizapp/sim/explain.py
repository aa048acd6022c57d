"""Plain-text sentences that explain a result to a learner. Pure Python: no torch import."""

from __future__ import annotations

import math

from quizapp.sim.verdict import EXPLODING_ABOVE, VANISHING_BELOW, is_finite

_SIGNIFICANT_FRACTION = 0.1

_REMEDIES = {
    "vanishing": (
        "Common remedies: an initialisation matched to the activation (Xavier/Glorot for tanh, "
        "He for ReLU), identity skip connections, normalisation, a non-saturating activation, "
        "or for LSTMs a positive forget-gate bias."
    ),
    "exploding": (
        "Common remedies: a variance-preserving initialisation instead of large weights, "
        "skip connections (batch norm alone makes deep plain networks explode), and gradient "
        "clipping during training."
    ),
}


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _verdict_sentence(summary: dict, recurrent: bool, layers: list[dict]) -> str:
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


def _weight_gradient_sentence(summary: dict, verdict: str) -> str:
    ratio = summary["weight_grad_ratio"]
    text = (
        "The verdict uses the backward signal ‖∂L/∂x‖, not the weight gradients: in bias-free "
        "ReLU or linear networks ⟨W_l, ∇W_l⟩ is the same for every layer (Du, Hu & Lee 2018), "
        "so the first-over-last weight-gradient ratio can stay near 1 even when the signal "
        "reaching the early layers has died."
    )
    if is_finite(ratio) and ratio > 0:
        text += f" Here the weight-gradient ratio is {_fmt(ratio)}"
        agrees = (ratio < VANISHING_BELOW and verdict == "vanishing") or (
            ratio > EXPLODING_ABOVE and verdict == "exploding"
        )
        if verdict != "healthy" and not agrees:
            text += ", which on its own would hide the problem."
        else:
            text += "."
    return text


def _unit_sentences(layers: list[dict], activation: str | None) -> list[str]:
    notes = []
    dead = [(layer["dead_fraction"] or 0.0, layer["name"]) for layer in layers]
    worst_dead = max(dead)
    if worst_dead[0] >= _SIGNIFICANT_FRACTION:
        # Only ReLU is exactly flat below zero; its relatives pass a small or fading gradient.
        consequence = (
            "no gradient passes through them"
            if activation == "relu"
            else f"{activation} passes only a small gradient on its negative side"
        )
        notes.append(
            f"{worst_dead[0]:.0%} of the units in {worst_dead[1]} are negative for every example "
            f"in the batch: {consequence}."
        )
    saturated = [(layer["saturated_fraction"] or 0.0, layer["name"]) for layer in layers]
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
    if cfg["norm"] == "batchnorm":
        notes.append(
            "Batch norm runs in training mode, on the batch's statistics, as during training."
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
) -> list[str]:
    """Sentences, most important first."""
    recurrent = cfg["kind"] in ("rnn", "lstm", "gru")
    verdict = summary["verdict"]
    notes = [_verdict_sentence(summary, recurrent, layers)]
    if summary["has_nonfinite"] and layers:
        bad = [layer["name"] for layer in layers if layer["nonfinite"]]
        if bad:
            notes.append(
                f"Non-finite values appear in {len(bad)} of {len(layers)} layers, "
                f"the first being {bad[0]}."
            )
    notes.append(_weight_gradient_sentence(summary, verdict))
    notes += _unit_sentences(layers, cfg.get("activation"))
    notes += _kind_sentences(cfg)
    notes.append(theory["note"])
    notes += _training_sentences(training)
    if verdict in _REMEDIES:
        notes.append(_REMEDIES[verdict])
    return notes
