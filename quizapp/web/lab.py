"""The gradient lab's pages: the instrument itself, result fragments, permalinks, overlays."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user

from quizapp.services import lab as lab_service
from quizapp.services import phase as phase_service
from quizapp.services import simulations as sim_service
from quizapp.services.errors import InvalidInput
from quizapp.services.simulations import RunView
from quizapp.sim.fields import (
    DEFAULTS,
    LAB_FIELDS,
    applicable_config,
    differences,
    fields_by_group,
)
from quizapp.sim.phase import MAX_SIZE, MIN_SIZE, PHASE_PRESETS
from quizapp.web.charts import log_line_chart
from quizapp.web.network_picture import network_picture, training_heat_map
from quizapp.web.phase_chart import phase_figure
from quizapp.web.run_charts import HEALTHY_BAND, run_charts

lab = Blueprint("lab", __name__)


@lab.app_template_global()
def lab_config_summary(config: dict[str, Any]) -> str:
    return config_summary(config)


PANEL_WAIT = 10.0  # seconds a result fragment request holds on before answering "pending"
OVERLAY_CSS = ("line-run-0", "line-run-1", "line-run-2", "line-run-3")

LAB_PRESETS = [
    ("Deep sigmoid, default init", {"kind": "mlp", "depth": 30, "activation": "sigmoid"}),
    ("ReLU with He init", {"kind": "mlp", "depth": 50, "activation": "relu", "init": "he_normal"}),
    (
        "ReLU + batch norm, depth 100",
        {
            "kind": "mlp",
            "depth": 100,
            "activation": "relu",
            "init": "he_normal",
            "norm": "batchnorm",
        },
    ),
    ("Residual sigmoid stack", {"kind": "residual_mlp", "depth": 50, "activation": "sigmoid"}),
    ("LSTM, 50 steps", {"kind": "lstm", "seq_len": 50}),
    ("LSTM, forget bias 3", {"kind": "lstm", "seq_len": 50, "forget_bias": 3.0}),
    ("Training, 60 steps", {"kind": "mlp", "depth": 12, "train_steps": 60}),
    (
        "Transformer, 12 blocks, no norm",
        {"kind": "transformer", "depth": 12, "init": "xavier_normal", "norm": "none"},
    ),
    (
        "Transformer, 12 blocks, pre-LN",
        {"kind": "transformer", "depth": 12, "init": "xavier_normal", "norm": "layer"},
    ),
    ("Orthogonal tanh, width 16", {"kind": "mlp", "depth": 30, "width": 16,
                                   "activation": "tanh", "init": "orthogonal",
                                   "jacobian_spectrum": "exact"}),
]  # fmt: skip


def _user():
    return current_user if current_user.is_authenticated else None


def lab_config_from(values) -> dict[str, Any]:
    """A simulator config from form or query fields; blank fields take the defaults.

    Fields that do not apply to the chosen kind are ignored (the form without JavaScript
    shows them all), so every lab address shared so far still opens the same network.
    """
    config: dict[str, Any] = {}
    for name, spec in LAB_FIELDS.items():
        raw = (values.get(name) or "").strip()
        if not raw:
            continue
        if spec.number_type is None:
            config[name] = raw
            continue
        try:
            config[name] = float(raw) if spec.number_type is float else int(raw)
        except ValueError:
            label = "a whole number" if spec.number_type is int else "a number"
            raise InvalidInput(
                f"{name} must be {label}, not {raw[:20]!r} ({spec.label})", field=name
            ) from None
    unknown = [key for key in values if key not in LAB_FIELDS and key not in ("csrf_token",)]
    if unknown:
        raise InvalidInput(f"unknown field: {', '.join(sorted(unknown))[:200]}", field=unknown[0])
    return applicable_config(config)


def config_summary(config: dict[str, Any]) -> str:
    """One line naming what sets a run apart (history lists and legends)."""
    c = config
    parts = [c["kind"], f"depth {c['depth']}", f"width {c['width']}"]
    if c.get("activation"):
        parts.append(c["activation"])
    parts.append(c["init"] + (f" {c['init_std']:g}" if c.get("init_std") else ""))
    if c.get("norm") not in (None, "none"):
        parts.append(c["norm"])
    if c.get("skip_every"):
        parts.append(f"skip {c['skip_every']} × {c['residual_scale']:g}")
    if c.get("forget_bias") is not None:
        parts.append(f"forget bias {c['forget_bias']:g}")
    if c.get("seq_len"):
        parts.append(f"{c['seq_len']} steps")
    if c.get("train_steps"):
        parts.append(f"{c['train_steps']} training steps")
    return " · ".join(parts)


def share_url(config: dict[str, Any]) -> str:
    return url_for("lab.shared", **lab_service.share_query(config))


def _field_data(spec) -> str:
    """What the lab's script needs about a field, as one JSON attribute."""
    return json.dumps(
        {
            "kinds": spec.kinds,
            "requires": spec.requires,
            "defaults": {kind: spec.default_text(kind) for kind in spec.kinds},
            "values": spec.defaults,
        }
    )


def render_lab_page(values, error: InvalidInput | None = None, status: int = 200):
    """The lab: controls from the field registry, and the result when it is already known."""
    kind = values.get("kind") or "mlp"
    view = None
    config = None
    if error is None and values:
        try:
            config = lab_service.normalised_lab_config(lab_config_from(values))
            view = lab_service.cached_view(config)
        except InvalidInput as invalid:
            error = invalid
    user = _user()
    return render_template(
        "exercises/lab.html",
        groups=fields_by_group(),
        field_data=_field_data,
        values=values,
        kind=kind if kind in DEFAULTS else "mlp",
        presets=LAB_PRESETS,
        error=error,
        view=view,
        fragment=_fragment_context(view) if view else None,
        history=lab_service.lab_history(user) if user else [],
        share=share_url(config) if config else None,
    ), status


def _fragment_context(view: RunView) -> dict[str, Any]:
    result = view.result
    return {
        "view": view,
        "charts": run_charts(result) if result else None,
        "picture": network_picture(result) if result else None,
        "heat": training_heat_map(result) if result else None,
        "share": share_url(view.run.config),
    }


def _fragment(view: RunView):
    status = 202 if view.pending else 200
    response = render_template("exercises/_lab_result.html", **_fragment_context(view))
    return response, status, {"X-Run-Id": view.run.id, "Cache-Control": "no-store"}


@lab.post("/lab/panel")
def panel():
    """Start (or fetch from the cache) a run and answer with its result panel, in place."""
    try:
        config = lab_service.normalised_lab_config(lab_config_from(request.form))
        # A result already computed is read, not run: it costs nothing, records no run and
        # so does not count against the run limits while a learner drags a slider.
        cached = lab_service.cached_view(config)
        if cached is not None:
            return _fragment(cached)
        run = sim_service.start_lab_run(_user(), config)
    except InvalidInput as error:
        body = render_template("exercises/_lab_error.html", error=error)
        return body, 400, {"X-Error-Field": error.field or ""}
    return _fragment(lab_service.wait_for_run(run.id, _user(), PANEL_WAIT))


@lab.get("/runs/<run_id>/panel")
def run_panel(run_id: str):
    """A run's result panel, held back until the run finishes (long-polling, ?wait= s)."""
    wait = request.args.get("wait", type=float) or 0.0
    return _fragment(lab_service.wait_for_run(run_id, _user(), wait))


@lab.get("/lab/results")
def shared():
    """A lab result's permalink: anyone can open it; served from the cache or run now."""
    values = request.args
    try:
        view = lab_service.shared_result(lab_config_from(values))
    except InvalidInput as error:
        return render_lab_page(values, error=error, status=400)
    context = _fragment_context(view)
    return render_template(
        "exercises/shared.html", **context, lab_query=lab_service.share_query(view.run.config)
    )


@lab.get("/lab/overlay")
def overlay():
    """Up to four runs on one chart with shared axes, and where their configurations differ."""
    views = lab_service.overlay_views(request.args.getlist("run"), _user())
    finished = [v for v in views if v.result]
    if not finished:
        abort(404)
    series, css, labels = {}, {}, []
    for number, view in enumerate(finished):
        layers = view.result.get("layers") or []
        signal = [layer.get("backward_signal") for layer in layers]
        reference = (view.result.get("summary") or {}).get("output_signal") or (
            signal[-1] if signal else None
        )
        name = f"run {number + 1}"
        series[name] = [None if v is None or not reference else v / reference for v in signal]
        css[name] = OVERLAY_CSS[number]
        labels.append((name, OVERLAY_CSS[number], view))
    chart = log_line_chart(series, css, healthy_band=HEALTHY_BAND)
    configs = [view.run.config for _, _, view in labels]
    shown = [name for name in LAB_FIELDS if any(c.get(name) is not None for c in configs)]
    return render_template(
        "exercises/overlay.html",
        chart=chart,
        labels=labels,
        fields=shown,
        field_labels={name: LAB_FIELDS[name].label for name in shown},
        differing=differences(configs),
        series=series,
        share_url=share_url,
    )


@lab.get("/lab/phase")
def phase():
    """The phase diagram: a 2-D sweep drawn as a heat map with theory's critical line."""
    preset = request.args.get("preset") or next(iter(PHASE_PRESETS))
    view = phase_service.start_phase(preset, request.args.get("size"))
    return render_template(
        "exercises/phase.html",
        presets=PHASE_PRESETS,
        sizes=range(MIN_SIZE, MAX_SIZE + 1),
        **_phase_context(view),
    )


@lab.get("/lab/phase/<key>/figure")
def phase_figure_fragment(key: str):
    """The heat map once more cells have finished than `seen` (long-polling, ?wait= s)."""
    seen = request.args.get("seen", type=int) or 0
    wait = request.args.get("wait", type=float) or 0.0
    view = phase_service.wait_for_progress(key, seen, wait)
    return (
        render_template("exercises/_phase_figure.html", **_phase_context(view)),
        200,
        {"Cache-Control": "no-store"},
    )


def _phase_context(view) -> dict[str, Any]:
    return {
        "phase": view,
        "figure": phase_figure(view, lambda config: url_for("exercises.lab", **_short(config))),
    }


def _short(config: dict[str, Any]) -> dict[str, Any]:
    return lab_service.share_query(config)
