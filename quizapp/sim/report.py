"""Terminal rendering of a simulation result: a table with a log-scale bar per layer.

Pure Python (no torch): it works on the JSON result, so the CLI can also render cached ones.
"""

from __future__ import annotations

import math
import textwrap

BAR_WIDTH = 32
MAX_STEP_ROWS = 25
_WRAP = 100


def _decades(value: float | None) -> str:
    """Decades of change read best with two decimals; 1e-8 decades is simply no change."""
    return "—" if value is None else f"{value:+.2f}"


def _num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:.{digits}g}"
    return f"{value:.{digits - 1}e}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _log_bars(values: list[float | None]) -> tuple[list[str], str]:
    """One bar per value on a shared log10 scale, and a line saying what the ends mean."""
    logs = [math.log10(v) for v in values if v is not None and v > 0]
    low = math.floor(min(logs)) if logs else 0
    high = max(math.ceil(max(logs)), low + 1) if logs else 1
    bars = []
    for value in values:
        if value is None:
            bars.append("!! non-finite")
        elif value == 0:
            bars.append("· zero")
        else:
            filled = 1 + round((math.log10(value) - low) / (high - low) * (BAR_WIDTH - 1))
            bars.append("█" * filled)
    if not logs:
        return bars, ""
    return bars, f"bars: log10 scale, 1e{low:+d} (one block) to 1e{high:+d} ({BAR_WIDTH} blocks)"


def _config_line(cfg: dict) -> str:
    parts = [cfg["kind"], f"depth {cfg['depth']}", f"width {cfg['width']}"]
    if cfg.get("activation"):
        parts.append(cfg["activation"])
    init = cfg["init"] + (f" (std {cfg['init_std']:g})" if cfg.get("init_std") else "")
    parts.append(f"init {init}")
    if cfg.get("bias_std"):
        parts.append(f"bias std {cfg['bias_std']:g}")
    if cfg.get("heads"):
        parts.append(f"{cfg['heads']} heads")
    if cfg.get("norm") and cfg["norm"] != "none":
        position = f" ({cfg['norm_position']}-LN)" if cfg.get("norm_position") else ""
        parts.append(cfg["norm"] + (" norm" if cfg["norm"] == "layer" else "") + position)
    if cfg.get("skip_every"):
        parts.append(f"skip every {cfg['skip_every']}, scale {cfg['residual_scale']:g}")
    elif cfg.get("residual_scale") is not None:
        parts.append(f"residual scale {cfg['residual_scale']:g}")
    if cfg.get("forget_bias") is not None:
        parts.append(f"forget bias {cfg['forget_bias']:g}")
    if cfg.get("seq_len"):
        parts.append(f"{cfg['seq_len']} {'tokens' if cfg['kind'] == 'transformer' else 'steps'}")
    parts += [f"batch {cfg['batch_size']}", f"{cfg['loss']} loss", f"seed {cfg['seed']}"]
    return ", ".join(parts)


def _layer_table(layers: list[dict]) -> list[str]:
    bars, scale = _log_bars([layer["backward_signal"] for layer in layers])
    name_width = max(5, *(len(layer["name"]) for layer in layers))
    header = (
        f"{'#':>3}  {'layer':<{name_width}}  {'‖∂L/∂x‖':>9}  {'‖∇W‖':>9}  {'act mean':>9}  "
        f"{'act std':>9}  {'dead':>5}  {'sat.':>5}  backward signal"
    )
    lines = [header, "-" * len(header)]
    for layer, bar in zip(layers, bars, strict=True):
        lines.append(
            f"{layer['index']:>3}  {layer['name']:<{name_width}}  "
            f"{_num(layer['backward_signal']):>9}  {_num(layer['weight_grad_norm']):>9}  "
            f"{_num(layer['activation_mean']):>9}  {_num(layer['activation_std']):>9}  "
            f"{_percent(layer['dead_fraction']):>5}  {_percent(layer['saturated_fraction']):>5}  "
            f"{bar}"
        )
    if scale:
        lines.append(f"     {scale}")
    return lines


def _step_table(layer: dict) -> list[str]:
    steps = layer["steps"]
    if len(steps) > MAX_STEP_ROWS:  # evenly spaced rows, always the first and the last step
        picks = sorted(
            {round(i * (len(steps) - 1) / (MAX_STEP_ROWS - 1)) for i in range(MAX_STEP_ROWS)}
        )
        steps = [steps[i] for i in picks]
    bars, scale = _log_bars([s["backward_signal"] for s in steps])
    lines = [f"‖∂L/∂h_t‖ through time, {layer['name']}:", f"{'t':>5}  {'‖∂L/∂h_t‖':>10}"]
    for step, bar in zip(steps, bars, strict=True):
        lines.append(f"{step['t']:>5}  {_num(step['backward_signal']):>10}  {bar}")
    if scale:
        lines.append(f"       {scale}")
    return lines


def _summary_lines(result: dict) -> list[str]:
    s = result["summary"]
    if s["backward_signal_ratio"] is None:
        ratio = "backward signal ratio not finite"
    else:
        decades = "" if s["decades_change"] is None else f", {s['decades_change']:+.1f} decades"
        ratio = f"backward signal ratio {_num(s['backward_signal_ratio'])}{decades}"
    thresholds = s["thresholds"]
    lines = [
        f"Verdict: {result['verdict'].upper()}  ({ratio}; vanishing below "
        f"{thresholds['vanishing_below']:g}, exploding above {thresholds['exploding_above']:g})",
        f"  ratio = {s['ratio_definition']}",
        f"  weight-gradient ratio (first/last layer) {_num(s['weight_grad_ratio'])}; "
        f"fitted growth per layer {_num(s['growth_factor_per_layer'])}"
        + (
            f"; per time step {_num(s['growth_factor_per_step'])}"
            if s.get("growth_factor_per_step") is not None
            else ""
        ),
    ]
    flags = [name for name in ("has_nonfinite", "underflow") if s.get(name)]
    if flags:
        lines.append("  flags: " + ", ".join(flags))
    return lines


def _probe_lines(probes: dict) -> list[str]:
    lines = []
    attention = probes.get("attention")
    if attention:
        lines.append(
            f"Attention per block (entropy in nats, max ln {attention['tokens']} = "
            f"{attention['max_entropy']:.2f}; token similarity at the block's input):"
        )
        for block in attention["blocks"]:
            heads = " ".join(f"{e:.2f}" for e in block["attention_entropy"])
            lines.append(
                f"  block {block['block']:>3}  entropy {heads}  saturated "
                f"{max(block['softmax_saturated_fraction']):.0%}  similarity "
                f"{_num(block['token_similarity'])}"
            )
    spectrum = probes.get("jacobian_spectrum")
    if spectrum and spectrum.get("computed"):
        lines.append(
            f"Jacobian spectrum ({spectrum['factors']} factors): mean singular value "
            f"{_num(spectrum['mean_singular_value'])}, mean square "
            f"{_num(spectrum['mean_squared_singular_value'])}, std of log10 "
            f"{spectrum['log10_std']:.2f}, largest {_num(spectrum['max_singular_value'])}, "
            f"smallest {_num(spectrum['min_singular_value'])}"
        )
    return lines


def _theory_lines(theory: dict) -> list[str]:
    if not theory["covered"]:
        return textwrap.wrap(theory["note"], _WRAP, subsequent_indent="  ")
    lines = [
        f"Theory ({theory['model']}): predicted {_decades(theory['predicted_decades'])} decades, "
        f"measured {_decades(theory['measured_decades'])} over {theory['layers_compared']} layers; "
        f"per layer {_num(theory['predicted_growth_per_layer'], 4)} predicted, "
        f"{_num(theory['measured_growth_per_layer'], 4)} measured"
        + (f"; χ₁ = {_num(theory['chi1'], 4)}" if theory.get("chi1") is not None else "")
    ]
    return lines


def _training_lines(training: dict | None, layers: list[dict]) -> list[str]:
    if not training:
        return []
    lines = [
        f"Training: {training['steps_completed']}/{training['steps']} {training['optimizer']} "
        f"steps, lr {training['lr']:g}, loss {_num(training['loss_initial'])} → "
        f"{_num(training['loss_final'])}" + ("  (diverged)" if training["diverged"] else "")
    ]
    ratios = training["update_ratio_per_layer"]
    bars, scale = _log_bars(ratios)
    lines.append("  mean update-to-weight ratio ‖ΔW‖/‖W‖ per step:")
    for layer, ratio, bar in zip(layers, ratios, bars, strict=True):
        lines.append(f"  {layer['name']:<14} {_num(ratio):>9}  {bar}")
    if scale:
        lines.append(f"  {scale}")
    return lines


def format_result_table(result: dict) -> str:
    """The result as plain text: header, summary, per-layer table with log-scale bars, notes."""
    layers = result["layers"]
    lines = [
        f"Gradient-flow simulation (simulator {result['simulator_version']}): "
        + _config_line(result["config"]),
        "",
        *_summary_lines(result),
        "",
        *_layer_table(layers),
    ]
    if layers and "steps" in layers[0]:
        lines += ["", *_step_table(layers[0])]
    probes = _probe_lines(result.get("probes") or {})
    if probes:
        lines += ["", *probes]
    lines += ["", *_theory_lines(result["theory"])]
    training = _training_lines(result.get("training"), layers)
    if training:
        lines += ["", *training]
    lines += ["", "Notes:"]
    for note in result["notes"]:
        lines += textwrap.wrap(note, _WRAP, initial_indent="  - ", subsequent_indent="    ")
    lines.append(f"({result['elapsed_ms']:.0f} ms)")
    return "\n".join(lines)
