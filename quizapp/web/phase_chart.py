"""Geometry of a phase diagram: heat-map cells, measured threshold contours, theory lines."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from quizapp.web.network_picture import signal_colour

WIDTH, HEIGHT = 640, 460
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 44
COLOUR_DECADES = 12
THRESHOLD_DECADES = 3.0  # vanishing below 10⁻³, exploding above 10³


@dataclass
class PhaseCellBox:
    index: int
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str
    config: dict[str, Any]
    verdict: str | None
    log10_ratio: float | None


@dataclass
class PhaseFigure:
    width: int = WIDTH
    height: int = HEIGHT
    plot: tuple[int, int, int, int] = (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)
    cells: list[PhaseCellBox] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    boundaries: list[tuple[str, float, float, float, float]] = field(default_factory=list)
    theory_paths: list[tuple[str, str, str]] = field(default_factory=list)  # css, d, label
    critical_x: float | None = None  # the swept value where χ₁ = 1, if it is in range
    # Theory's χ₁ = 1 line in the axes' units, [(x, y), ...]: a vertical line at critical_x,
    # or the curve across a grid of two scales.
    critical_line: list[tuple[float, float]] = field(default_factory=list)
    x_label: str = ""
    y_label: str = ""

    @property
    def boundary_kinds(self) -> set[str]:
        """Which measured contours are drawn (the legend names only those)."""
        return {css for css, *_ in self.boundaries}


def _position(values: list[float], scale: str) -> list[float]:
    """0..1 position of each grid value's cell centre (cells are equal-width)."""
    n = len(values)
    return [(i + 0.5) / n for i in range(n)]


def _value_to_fraction(value: float, values: list[float], scale: str) -> float | None:
    """Where a value falls on an axis of equal cells, interpolating between cell centres."""
    transform = math.log if scale == "log" else float
    points = [transform(v) for v in values]
    target = transform(value)
    n = len(points)
    if target < points[0] or target > points[-1]:
        return None
    for i in range(n - 1):
        if points[i] <= target <= points[i + 1]:
            share = (target - points[i]) / ((points[i + 1] - points[i]) or 1.0)
            return (i + 0.5 + share) / n
    return 0.5 / n


def phase_figure(view, lab_config_url) -> PhaseFigure:
    """The heat map of a PhaseView; `lab_config_url(config)` links each cell to the lab."""
    from quizapp.sim.phase import phase_cells

    figure = PhaseFigure(x_label=view.preset.x.label, y_label=view.preset.y.label)
    left, top, right, bottom = figure.plot
    xs, ys = view.xs, view.ys
    cell_w = (right - left) / len(xs)
    cell_h = (bottom - top) / len(ys)
    configs = dict(phase_cells(view.preset, view.size))
    classes: dict[tuple[int, int], str] = {}
    for row, y in enumerate(ys):
        for column, x in enumerate(xs):
            index = row * len(xs) + column
            cell = view.cells.get(index)
            value = cell.log10_ratio if cell else None
            verdict = cell.verdict if cell else None
            if cell:
                classes[(row, column)] = verdict
            label = f"{view.preset.x.label} {x:g}, {view.preset.y.label} {y:g}"
            if cell is None:
                title, fill = f"{label}: running…", "var(--surface-2)"
            elif value is None:
                # No finite ratio: the signal underflowed to zero (vanished) or overflowed.
                ratio = "0 (underflow)" if verdict == "vanishing" else "not finite"
                title = f"{label}: backward signal ratio {ratio}, {verdict}"
                extreme = {"vanishing": -6.0, "exploding": 6.0}.get(verdict or "")
                fill = signal_colour(extreme)
            else:
                title = f"{label}: backward signal ratio 10^{value:+.1f}, {verdict}"
                # the shared scale saturates at 6 decades; a phase diagram spans twice that
                fill = signal_colour(value * 6 / COLOUR_DECADES)
            figure.cells.append(
                PhaseCellBox(
                    index=index,
                    x=left + column * cell_w,
                    y=bottom - (row + 1) * cell_h,
                    w=cell_w,
                    h=cell_h,
                    fill=fill,
                    title=title,
                    config=lab_config_url(configs[index]),
                    verdict=verdict,
                    log10_ratio=value,
                )
            )
    figure.boundaries = _boundaries(classes, len(xs), len(ys), left, bottom, cell_w, cell_h)
    step_x = max(1, len(xs) // 6)
    figure.x_ticks = [(left + (i + 0.5) * cell_w, _tick(xs[i])) for i in range(0, len(xs), step_x)]
    step_y = max(1, len(ys) // 6)
    figure.y_ticks = [
        (bottom - (i + 0.5) * cell_h, _tick(ys[i])) for i in range(0, len(ys), step_y)
    ]
    _theory(figure, view, left, right, top, bottom)
    return figure


def _tick(value: float) -> str:
    """An axis label: whole numbers as they are, others to 3 significant digits (":g" gave
    six, "0.07294", and neighbouring labels ran into each other on a phone). Each cell's
    exact value is in its own label."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


def _boundaries(classes, columns, rows, left, bottom, cell_w, cell_h):
    """Edges between neighbouring cells on different sides of a threshold."""

    def kind(a: str, b: str) -> str | None:
        pair = {a, b}
        if a == b:
            return None
        if "vanishing" in pair and "exploding" in pair:
            return "boundary-both"
        return "boundary-vanishing" if "vanishing" in pair else "boundary-exploding"

    out = []
    for (row, column), verdict in classes.items():
        right_neighbour = classes.get((row, column + 1))
        if right_neighbour and (css := kind(verdict, right_neighbour)):
            x = left + (column + 1) * cell_w
            out.append((css, x, bottom - (row + 1) * cell_h, x, bottom - row * cell_h))
        above = classes.get((row + 1, column))
        if above and (css := kind(verdict, above)):
            y = bottom - (row + 1) * cell_h
            out.append((css, left + column * cell_w, y, left + (column + 1) * cell_w, y))
    return out


def _theory(figure: PhaseFigure, view, left, right, top, bottom) -> None:
    preset = view.preset
    if preset.theory == "inverse_sqrt_depth":
        points = []
        for depth in view.ys:
            fx = _value_to_fraction(1 / math.sqrt(depth), view.xs, preset.x.scale)
            fy = _value_to_fraction(depth, view.ys, preset.y.scale)
            if fx is not None and fy is not None:
                points.append((left + fx * (right - left), bottom - fy * (bottom - top)))
        if len(points) > 1:
            figure.theory_paths.append(("theory-critical", _path(points), "scale = 1/√depth"))
        return
    if preset.theory == "chi1_xy":
        _theory_xy(figure, view, left, right, top, bottom)
        return
    if preset.theory != "chi1":
        return
    # χ₁ depends on the swept weight std only: the fine curve the first batch computed, or
    # (until it arrives) one value per column from the finished cells.
    if view.theory:
        curve = [(x, chi) for x, chi in view.theory if chi and chi > 0]
    else:
        by_column: dict[int, float] = {}
        for index, cell in view.cells.items():
            if cell.chi1:
                by_column.setdefault(index % len(view.xs), cell.chi1)
        curve = [(view.xs[c], by_column[c]) for c in sorted(by_column)]
    transform = math.log if preset.x.scale == "log" else float
    inverse = math.exp if preset.x.scale == "log" else float

    def x_pixel(value: float) -> float | None:
        fraction = _value_to_fraction(value, view.xs, preset.x.scale)
        return None if fraction is None else left + fraction * (right - left)

    for (xa, ca), (xb, cb) in zip(curve, curve[1:], strict=False):
        la, lb = math.log(ca), math.log(cb)
        if (la <= 0 <= lb or lb <= 0 <= la) and la != lb:
            share = -la / (lb - la)
            critical = inverse(transform(xa) + share * (transform(xb) - transform(xa)))
            pixel = x_pixel(critical)
            if pixel is not None:
                figure.critical_x = critical
                figure.critical_line = [(critical, view.ys[0]), (critical, view.ys[-1])]
                figure.theory_paths.append(
                    ("theory-critical", f"M{pixel:.1f},{top}L{pixel:.1f},{bottom}", "χ₁ = 1")
                )
            break
    # Theory's ±3 decades: depth · ½·log10 χ₁ = ±3, i.e. depth = 6 / |log10 χ₁| along x.
    for sign, css, label in ((-1, "theory-vanishing", "theory: 10⁻³"),
                             (1, "theory-exploding", "theory: 10³")):  # fmt: skip
        points = []
        for x, chi in curve:
            log_chi = math.log10(chi)
            if log_chi * sign <= 0:
                continue
            fy = _value_to_fraction(2 * THRESHOLD_DECADES / abs(log_chi), view.ys, preset.y.scale)
            pixel = x_pixel(x)
            if fy is not None and pixel is not None:
                points.append((pixel, bottom - fy * (bottom - top)))
        if len(points) > 1:
            figure.theory_paths.append((css, _path(points), label))


def _theory_xy(figure: PhaseFigure, view, left, right, top, bottom) -> None:
    """Curves across a grid of two scales: rows [y, x at χ₁ = 1, x at 10⁻³, x at 10³] (the
    worker's `critical_lines`); nothing until the first batch has computed them."""
    preset = view.preset
    lines = (
        (1, "theory-critical", "χ₁ = 1"),
        (2, "theory-vanishing", "theory: 10⁻³"),
        (3, "theory-exploding", "theory: 10³"),
    )
    for column, css, label in lines:
        points = []
        for row in view.theory or []:
            if row[column] is None:
                continue
            fx = _value_to_fraction(row[column], view.xs, preset.x.scale)
            fy = _value_to_fraction(row[0], view.ys, preset.y.scale)
            if fx is not None and fy is not None:
                points.append((left + fx * (right - left), bottom - fy * (bottom - top)))
                if column == 1:
                    figure.critical_line.append((row[column], row[0]))
        if len(points) > 1:
            figure.theory_paths.append((css, _path(points), label))


def _path(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points))
