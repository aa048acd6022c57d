"""The charts of a simulation result: per-layer gradients, activations, training loss."""

from __future__ import annotations

from typing import Any

from quizapp.web.charts import Chart, log_line_chart

HEALTHY_BAND = (1e-3, 1e3)


def _relative(values: list[float | None], reference: float | None) -> list[float | None]:
    if not reference:
        return [None for _ in values]
    return [None if v is None else v / reference for v in values]


def run_charts(result: dict[str, Any]) -> dict[str, Chart]:
    """Chart geometry for one result; every series is relative to the output's signal."""
    layers = result.get("layers") or []
    summary = result.get("summary") or {}
    theory = result.get("theory") or {}
    charts: dict[str, Chart] = {}
    signal = [layer.get("backward_signal") for layer in layers]
    output_signal = summary.get("output_signal") or (signal[-1] if signal else None)
    series = {"measured": _relative(signal, output_signal)}
    growth = theory.get("predicted_growth_per_layer") if theory.get("covered") else None
    per_layer = theory.get("predicted_log10_signal") if theory.get("covered") else None
    # The theory is relative to the readout's input; the chart to the output's signal.
    anchor = series["measured"][-1] if series["measured"] else None
    if per_layer and anchor and len(per_layer) == len(layers):
        series["theory"] = [anchor * 10.0**value for value in per_layer]
        band = theory.get("finite_width_band")
        if band:
            series["band low"] = [anchor * 10.0**v for v in band["low"]]
            series["band high"] = [anchor * 10.0**v for v in band["high"]]
    elif growth and len(layers) > 1:
        last = len(layers) - 1
        series["theory"] = [growth ** (last - index) for index in range(len(layers))]
    charts["signal"] = log_line_chart(
        series,
        {"measured": "line-signal", "theory": "line-theory", "band low": "line-band",
         "band high": "line-band"},
        healthy_band=HEALTHY_BAND,
    )  # fmt: skip
    grads = [layer.get("weight_grad_norm") for layer in layers]
    charts["weights"] = log_line_chart(
        {"weight gradient": _relative(grads, grads[-1] if grads else None)},
        {"weight gradient": "line-weights"},
    )
    charts["activations"] = log_line_chart(
        {"activation std": [layer.get("activation_std") for layer in layers]},
        {"activation std": "line-activations"},
    )
    steps = layers[0].get("steps") if layers else None
    if steps:
        values = [step.get("backward_signal") for step in steps]
        charts["steps"] = log_line_chart(
            {"per step": _relative(values, values[-1] if values else None)},
            {"per step": "line-signal"},
            healthy_band=HEALTHY_BAND,
        )
    charts.update(probe_charts(result.get("probes") or {}))
    training = result.get("training")
    if training and training.get("loss"):
        charts["loss"] = log_line_chart({"loss": training["loss"]}, {"loss": "line-loss"})
    return charts


def probe_charts(probes: dict[str, Any]) -> dict[str, Chart]:
    """Charts of the kind-specific probes: attention per block, the Jacobian's spectrum."""
    charts: dict[str, Chart] = {}
    attention = probes.get("attention")
    if attention and attention.get("blocks"):
        blocks = attention["blocks"]
        ceiling = attention.get("max_entropy") or 1.0
        charts["attention"] = log_line_chart(
            {
                "entropy / ln T": [
                    None if b.get("attention_entropy_mean") is None
                    else b["attention_entropy_mean"] / ceiling
                    for b in blocks
                ],
                "token similarity": [b.get("token_similarity") for b in blocks],
            },
            {"entropy / ln T": "line-signal", "token similarity": "line-activations"},
        )  # fmt: skip
    spectrum = probes.get("jacobian_spectrum")
    if spectrum and spectrum.get("computed"):
        charts["spectrum"] = log_line_chart(
            {"singular value": spectrum["singular_values"]}, {"singular value": "line-signal"}
        )
    return charts
