"""Line charts as inline SVG: the report is one file that opens anywhere, with no script and nothing fetched."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

PALETTE = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
FAULT_FILL = "#ff7f0e"  # shaded fault windows; the report's render test looks for this colour
# Every element carries its presentation as attributes, not only through the page's <style>: a server with a
# strict Content-Security-Policy (Jenkins serves artifacts so) blocks inline styles, and an SVG rect with no
# fill attribute is then filled black over the fault bands.
AXIS = 'class="axis" font-size="11" fill="#555"'


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[float, float | None]]  # None: no value there (a gap in the line)
    color: str = PALETTE[0]


@dataclass(frozen=True)
class Band:
    start: float
    end: float
    label: str


def nice_ceiling(value: float) -> float:
    """1, 2 or 5 times a power of ten, at least `value`: axis ends people can read."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_max: float,
    y_label: str,
    bands: Sequence[Band] = (),
    markers: Sequence[tuple[float, str]] = (),
    width: int = 960,
    height: int = 230,
    x_label: str = "seconds since the run started",
) -> str:
    left, right, top, bottom = 60, 150, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [y for s in series for _, y in s.points if y is not None]
    y_max = nice_ceiling(max(values, default=0.0) * 1.05)
    x_max = max(x_max, 1e-9)

    def x(value: float) -> float:
        return left + plot_w * min(max(value / x_max, 0.0), 1.0)

    def y(value: float) -> float:
        return top + plot_h * (1 - min(value / y_max, 1.0))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="16" class="chart-title" font-weight="bold" font-size="13">{escape(title)}</text>',
    ]
    for i, band in enumerate(bands):
        x0, x1 = x(band.start), x(band.end)
        out.append(
            f'<rect class="fault" x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 2):.1f}" height="{plot_h}" '
            f'fill="{FAULT_FILL}" fill-opacity="0.25"><title>{escape(band.label)} '
            f"({band.start:.1f}s to {band.end:.1f}s)</title></rect>"
        )
        out.append(
            f'<text x="{x0 + 2:.1f}" y="{top + 10 + 10 * (i % 3)}" class="band-label" font-size="11" fill="#a04000">'
            f"{escape(band.label)}</text>"
        )
    out.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" class="frame" fill="none" stroke="#999"/>'
    )
    for k in range(5):
        value = y_max * k / 4
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" class="grid" '
            f'stroke="#eee"/><text x="{left - 4}" y="{y(value) + 4:.1f}" class="tick" font-size="11" '
            f'text-anchor="end">{_number(value)}</text>'
        )
    step = nice_ceiling(x_max / 8)
    for k in range(int(x_max / step) + 1):
        out.append(
            f'<text x="{x(k * step):.1f}" y="{top + plot_h + 14}" class="tick" font-size="11" text-anchor="middle">'
            f"{_number(k * step)}</text>"
        )
    out.append(
        f'<text x="{left + plot_w / 2}" y="{height - 4}" {AXIS} text-anchor="middle">{escape(x_label)}</text>'
        f'<text x="12" y="{top + plot_h / 2}" {AXIS} text-anchor="middle" '
        f'transform="rotate(-90 12 {top + plot_h / 2})">{escape(y_label)}</text>'
    )
    for t, label in markers:
        out.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{top + plot_h}" class="marker" '
            f'stroke="#555" stroke-dasharray="3 3">'
            f"<title>{escape(label)} at {t:.1f}s</title></line>"
        )
    for i, s in enumerate(series):
        for segment in _segments(s.points):
            if len(segment) == 1:  # a lone value between gaps: a dot, or it would not show at all
                ((px, py),) = segment
                out.append(f'<circle cx="{x(px):.1f}" cy="{y(py):.1f}" r="2" fill="{s.color}"/>')
                continue
            path = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in segment)
            out.append(
                f'<polyline class="series" points="{path}" stroke="{s.color}" fill="none" stroke-width="1.6"/>'
            )
        ly = top + 12 + 16 * i
        out.append(
            f'<line x1="{left + plot_w + 10}" x2="{left + plot_w + 28}" y1="{ly - 4}" y2="{ly - 4}" '
            f'stroke="{s.color}" stroke-width="3"/>'
            f'<text x="{left + plot_w + 32}" y="{ly}" class="legend" font-size="11">{escape(s.label)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _segments(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    segments: list[list[tuple[float, float]]] = [[]]
    for px, py in points:
        if py is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append((px, py))
    return [s for s in segments if s]


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2g}" if value < 1 else f"{value:.1f}"


def escape(text: str) -> str:
    """Text for HTML and SVG content and attribute values (the report's one escaping rule)."""
    return html.escape(text, quote=True)
