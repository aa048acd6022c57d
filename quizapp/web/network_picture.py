"""Geometry of the network picture and the training heat map: server-drawn SVG, no library.

Each layer is a column (recurrent kinds: one cell per layer and time step) coloured by its
backward signal relative to the output on a log scale: blue where it has vanished, red where
it has exploded, pale where it is healthy. Dead and saturated units are drawn as dark and
hatched bands inside the column, in proportion to their share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

MAX_COLUMNS = 60  # more layers are sampled evenly, always keeping the first and the last
MAX_STEPS = 50
DECADES = 6  # the colour saturates 6 decades from the output's signal
PICTURE_WIDTH = 640


def signal_colour(log_ratio: float | None) -> str:
    """hsl() for log10 of a signal relative to the output: blue vanished, red exploded."""
    if log_ratio is None:
        return "hsl(0 0% 45%)"  # not finite
    strength = min(abs(log_ratio), DECADES) / DECADES
    hue = 215 if log_ratio < 0 else 5
    saturation = round(25 + 60 * strength)
    lightness = round(88 - 48 * strength)
    return f"hsl({hue} {saturation}% {lightness}%)"


def _log_relative(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference or value <= 0:
        return None if value is None or not reference else -float(DECADES)
    return math.log10(value / reference)


def _pick(count: int, limit: int) -> list[int]:
    if count <= limit:
        return list(range(count))
    return sorted({round(i * (count - 1) / (limit - 1)) for i in range(limit)})


@dataclass
class Cell:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str
    dead_h: float = 0.0
    saturated_h: float = 0.0


@dataclass
class Picture:
    width: int
    height: int
    cells: list[Cell] = field(default_factory=list)
    column_labels: list[tuple[float, str]] = field(default_factory=list)
    row_labels: list[tuple[float, str]] = field(default_factory=list)
    recurrent: bool = False
    sampled: bool = False


def network_picture(result: dict[str, Any]) -> Picture | None:
    """Columns per layer, or layer × time cells for recurrent kinds."""
    layers = result.get("layers") or []
    if not layers:
        return None
    summary = result.get("summary") or {}
    reference = summary.get("output_signal") or layers[-1].get("backward_signal")
    if any(layer.get("steps") for layer in layers):
        return _unrolled(layers, reference)
    picks = _pick(len(layers), MAX_COLUMNS)
    left, top, height = 40, 10, 120
    slot = (PICTURE_WIDTH - left - 10) / len(picks)
    picture = Picture(PICTURE_WIDTH, top + height + 30, sampled=len(picks) < len(layers))
    for column, index in enumerate(picks):
        layer = layers[index]
        log_ratio = _log_relative(layer.get("backward_signal"), reference)
        dead = layer.get("dead_fraction") or 0.0
        saturated = layer.get("saturated_fraction") or 0.0
        x = left + column * slot
        picture.cells.append(
            Cell(
                x=x + slot * 0.12,
                y=top,
                w=max(slot * 0.76, 1.5),
                h=height,
                fill=signal_colour(log_ratio),
                title=_describe(layer, log_ratio),
                dead_h=height * dead,
                saturated_h=height * saturated,
            )
        )
        if column == 0 or column == len(picks) - 1 or len(picks) <= 12 or column % 5 == 0:
            picture.column_labels.append((x + slot / 2, str(index)))
    return picture


def _unrolled(layers: list[dict], reference: float | None) -> Picture:
    stacked = [layer for layer in layers if layer.get("steps")]
    steps = len(stacked[0]["steps"])
    picks = _pick(steps, MAX_STEPS)
    left, top, row_h = 60, 10, 26
    slot = (PICTURE_WIDTH - left - 10) / len(picks)
    picture = Picture(
        PICTURE_WIDTH, top + row_h * len(stacked) + 30, recurrent=True, sampled=len(picks) < steps
    )
    for row, layer in enumerate(stacked):
        y = top + row * row_h
        picture.row_labels.append((y + row_h / 2, layer["name"]))
        for column, t in enumerate(picks):
            step = layer["steps"][t]
            log_ratio = _log_relative(step.get("backward_signal"), reference)
            picture.cells.append(
                Cell(
                    x=left + column * slot + 0.5,
                    y=y + 2,
                    w=max(slot - 1, 1.0),
                    h=row_h - 4,
                    fill=signal_colour(log_ratio),
                    title=f"{layer['name']}, step {step['t']}: ‖∂L/∂h‖ "
                    + ("not finite" if log_ratio is None else f"10^{log_ratio:+.1f} of the output"),
                )
            )
    for column, t in enumerate(picks):
        if column == 0 or column == len(picks) - 1 or column % 10 == 0:
            picture.column_labels.append((left + (column + 0.5) * slot, str(t + 1)))
    return picture


def _describe(layer: dict, log_ratio: float | None) -> str:
    parts = [f"{layer['index']} {layer['name']}"]
    parts.append(
        "backward signal not finite"
        if log_ratio is None
        else f"backward signal 10^{log_ratio:+.1f} of the output"
    )
    if layer.get("dead_fraction"):
        parts.append(f"{layer['dead_fraction']:.0%} dead")
    if layer.get("saturated_fraction"):
        parts.append(f"{layer['saturated_fraction']:.0%} saturated")
    return ", ".join(parts)


@dataclass
class HeatMap:
    width: int
    height: int
    left: int
    top: int
    cell_w: float
    cell_h: float
    cells: list[tuple[float, float, str, str]]  # x, y, fill, title
    steps: list[int]
    layer_names: list[str]
    rows: list[list[float | None]]  # per step: log10 relative values per layer (the table)


def training_heat_map(result: dict[str, Any]) -> HeatMap | None:
    """Layer × step heat map of each layer's backward signal ‖∂L/∂x_l‖ during training, on
    the main chart's log scale: relative to that step's signal at the output."""
    training = result.get("training") or {}
    per_step = training.get("layer_backward_signals")
    if not per_step:
        return None
    names = [layer["name"] for layer in result.get("layers") or []]
    steps = training.get("layer_signal_steps") or list(range(1, len(per_step) + 1))
    outputs = training.get("output_signals") or [None] * len(per_step)
    rows: list[list[float | None]] = []
    for signals, output in zip(per_step, outputs, strict=False):
        reference = output or (signals[-1] if signals else None)
        rows.append([_log_relative(value, reference) for value in signals])
    left, top = 70, 8
    width = PICTURE_WIDTH
    n_layers = max(len(r) for r in rows)
    cell_w = (width - left - 10) / len(rows)
    cell_h = max(4.0, min(18.0, 180 / max(1, n_layers)))
    cells = []
    for column, values in enumerate(rows):
        for row, value in enumerate(values):
            name = names[row] if row < len(names) else str(row)
            text = "not finite" if value is None else f"10^{value:+.1f} of the output's"
            cells.append(
                (
                    left + column * cell_w,
                    top + row * cell_h,
                    signal_colour(value),
                    f"step {steps[column]}, {name}: backward signal ‖∂L/∂x‖ {text}",
                )
            )
    height = int(top + n_layers * cell_h + 26)
    return HeatMap(width, height, left, top, cell_w, cell_h, cells, steps, names, rows)
