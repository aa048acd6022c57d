"""The gradient lab's JSON: history, permalinks, the field registry, phase diagrams."""

from __future__ import annotations

from flask import url_for
from flask_login import current_user, login_required
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from quizapp.services import lab as lab_service
from quizapp.services import phase as phase_service
from quizapp.sim.fields import LAB_FIELDS
from quizapp.sim.phase import MAX_SIZE, MIN_SIZE
from quizapp.web.api.documented import (
    CONFIG_REFUSED,
    QUEUE_FULL,
    bad_request,
    documented_errors,
    no_such,
)
from quizapp.web.lab import lab_config_from
from quizapp.web.phase_chart import phase_figure

blp = Blueprint("api_lab", __name__, description="The gradient lab: history, permalinks, fields")


class HistoryItemOut(Schema):
    id = fields.String()
    status = fields.String()
    verdict = fields.String(allow_none=True)
    config = fields.Dict()
    created_at = fields.DateTime()
    url = fields.String()
    share_url = fields.String()


class SharedResultOut(Schema):
    status = fields.String(metadata={"description": "done, or queued/running: then poll run_url"})
    config = fields.Dict()
    share_url = fields.String()
    run_url = fields.String(allow_none=True)
    result = fields.Dict(allow_none=True)


class LabFieldOut(Schema):
    name = fields.String()
    label = fields.String()
    help = fields.String()
    group = fields.String()
    kinds = fields.List(fields.String())
    choices = fields.Method("choice_values")
    defaults = fields.Dict()

    def choice_values(self, spec) -> list[dict]:
        return [{"value": c.value, "label": c.label, "kinds": c.kinds} for c in spec.choices]


def _share(config: dict) -> str:
    return url_for("lab.shared", **lab_service.share_query(config), _external=False)


@blp.get("/lab/history")
@blp.response(200, HistoryItemOut(many=True))
@documented_errors(blp, (401, "Not signed in (anonymous history lives in the browser)"))
@login_required
def lab_history():
    """Your recent lab runs, newest first."""
    return [
        {
            "id": run.id,
            "status": run.status,
            "verdict": verdict,
            "config": run.config,
            "created_at": run.created_at,
            "url": url_for("api_exercises.get_run", run_id=run.id),
            "share_url": _share(run.config),
        }
        for run, verdict in lab_service.lab_history(current_user)
    ]


# The permalink's query: the simulator's own field names, each optional (blank: default).
LabConfigQuery = Schema.from_dict(
    {
        name: fields.String(metadata={"description": f"{spec.label}: {spec.help}"})
        for name, spec in LAB_FIELDS.items()
    },
    name="LabConfigQuery",
)


@blp.get("/lab/results")
@blp.arguments(LabConfigQuery, location="query")
@blp.response(200, SharedResultOut)
@documented_errors(blp, CONFIG_REFUSED, QUEUE_FULL)
def shared_result(query: dict):
    """A configuration's result, public: from the cache, or started now (query = config)."""
    view = lab_service.shared_result(lab_config_from(query))
    pending = view.pending
    return {
        "status": view.run.status,
        "config": view.run.config,
        "share_url": _share(view.run.config),
        "run_url": url_for("api_exercises.get_run", run_id=view.run.id) if pending else None,
        "result": view.result,
    }


@blp.get("/lab/fields")
@blp.response(200, LabFieldOut(many=True))
def lab_fields():
    """The lab's controls: label, help, group, kinds each field applies to, defaults."""
    return list(LAB_FIELDS.values())


class PhaseArgs(Schema):
    preset = fields.String(
        required=True, metadata={"description": "tanh-edge-of-chaos, relu-he-line, …"}
    )
    size = fields.Integer(
        load_default=None,
        validate=validate.Range(min=MIN_SIZE, max=MAX_SIZE),
        metadata={"description": "cells per side"},
    )


class PhaseWaitArgs(Schema):
    seen = fields.Integer(
        load_default=0, validate=validate.Range(min=0), metadata={"description": "cells you have"}
    )
    wait = fields.Float(
        load_default=0.0,
        validate=validate.Range(min=0, max=25),
        metadata={"description": "seconds to hold until more cells finish"},
    )


class PhaseCellOut(Schema):
    index = fields.Integer()
    x = fields.Float()
    y = fields.Float()
    log10_ratio = fields.Float(allow_none=True)
    verdict = fields.String()
    chi1 = fields.Float(allow_none=True)


class PhaseOut(Schema):
    key = fields.String()
    preset = fields.String()
    x_field = fields.String()
    y_field = fields.String()
    xs = fields.List(fields.Float())
    ys = fields.List(fields.Float())
    total = fields.Integer()
    complete = fields.Boolean()
    critical_x = fields.Float(allow_none=True, metadata={"description": "where χ₁ = 1"})
    critical_line = fields.List(
        fields.List(fields.Float()),
        metadata={"description": "theory's χ₁ = 1 line as [x, y] points (empty: none yet)"},
    )
    cells = fields.List(fields.Nested(PhaseCellOut))
    url = fields.String()


def _phase_body(view) -> dict:
    figure = phase_figure(view, lambda config: "")
    columns = len(view.xs)
    return {
        "key": view.key,
        "preset": view.preset.name,
        "x_field": view.preset.x.field,
        "y_field": view.preset.y.field,
        "xs": view.xs,
        "ys": view.ys,
        "total": view.total,
        "complete": view.complete,
        "critical_x": figure.critical_x,
        "critical_line": [list(point) for point in figure.critical_line],
        "cells": [
            {
                "index": index,
                "x": view.xs[index % columns],
                "y": view.ys[index // columns],
                "log10_ratio": cell.log10_ratio,
                "verdict": cell.verdict,
                "chi1": cell.chi1,
            }
            for index, cell in sorted(view.cells.items())
        ],
        "url": url_for("api_lab.get_phase", key=view.key),
    }


@blp.post("/lab/phase")
@blp.arguments(PhaseArgs, location="json")
@blp.response(202, PhaseOut)
@documented_errors(blp, bad_request("Unknown preset or a grid size out of range"))
def start_phase(body: dict):
    """Start (or find) a phase diagram; follow `url` with ?seen=&wait= as cells finish."""
    return _phase_body(phase_service.start_phase(body["preset"], body.get("size")))


@blp.get("/lab/phase/<key>")
@blp.arguments(PhaseWaitArgs, location="query", as_kwargs=True)
@blp.response(200, PhaseOut)
@documented_errors(blp, no_such("phase diagram"))
def get_phase(key: str, seen: int, wait: float):
    """A phase diagram's finished cells; `wait` holds the answer until more than `seen`."""
    return _phase_body(phase_service.wait_for_progress(key, seen, wait))
