"""Charts drawn on the server as inline SVG: no JavaScript, nothing from a CDN, readable on a phone.

Each point carries a <title>, which browsers show as a tooltip on hover (and screen readers read).
"""

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 34


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _fmt(value: float) -> str:
    return f"{value:,.1f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"


def trend_chart(points: Sequence[tuple[str, float | None]], *, unit: str, title: str) -> SafeString:
    """A line chart of labelled values; a missing value (None) breaks the line rather than drawing a zero."""
    values = [value for _label, value in points if value is not None]
    top = _nice_max(max(values, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(points) - 1, 1)

    def x(index: int) -> float:
        return LEFT + index * step

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    parts = [
        f'<svg class="chart trend" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for tick in range(5):
        value = top * tick / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{_fmt(value)}</text>'
        )
    label_every = max(1, math.ceil(len(points) / 8))
    for index, (label, _value) in enumerate(points):
        # Counted from the newest point, which is always labelled, so labels never crowd at the right.
        if (len(points) - 1 - index) % label_every == 0:
            # The last label ends at its point so it is not cut off at the chart's right edge.
            anchor = "end" if index == len(points) - 1 and index else "middle"
            parts.append(
                f'<text class="axis" x="{x(index):.1f}" y="{HEIGHT - 12}" text-anchor="{anchor}">{escape(label)}</text>'
            )
    segment: list[str] = []
    segments: list[list[str]] = []
    for index, (_label, value) in enumerate(points):
        if value is None:
            if segment:
                segments.append(segment)
            segment = []
        else:
            segment.append(f"{x(index):.1f},{y(value):.1f}")
    if segment:
        segments.append(segment)
    parts += [f'<polyline class="line" points="{" ".join(s)}"/>' for s in segments]
    for index, (label, value) in enumerate(points):
        if value is not None:
            parts.append(
                f'<circle class="point" cx="{x(index):.1f}" cy="{y(value):.1f}" r="4">'
                f"<title>{escape(label)}: {_fmt(value)} {escape(unit)}</title></circle>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text inside went through escape()


def pareto_chart(rows: Sequence[tuple[str, float, float]], *, unit: str, title: str) -> SafeString:
    """Bars of (label, value, cumulative %) largest first, with the cumulative % as a line on a 0–100 % scale."""
    top = _nice_max(max((value for _label, value, _cum in rows), default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT - 30, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(rows), 1)
    parts = [
        f'<svg class="chart pareto" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for tick in range(5):
        ty = TOP + plot_h * (1 - tick / 4)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">{_fmt(top * tick / 4)}</text>'
            f'<text class="axis" x="{LEFT + plot_w + 4}" y="{ty + 4:.1f}">{tick * 25}%</text>'
        )
    line = []
    for index, (label, value, cumulative) in enumerate(rows):
        bar_h = plot_h * value / top
        bx = LEFT + index * slot + slot * 0.15
        parts.append(
            f'<rect class="bar" x="{bx:.1f}" y="{TOP + plot_h - bar_h:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{bar_h:.1f}"><title>{escape(label)}: {_fmt(value)} {escape(unit)} '
            f"({_fmt(cumulative)}%)</title></rect>"
            f'<text class="axis" x="{bx + slot * 0.35:.1f}" y="{HEIGHT - 12}" text-anchor="middle">'
            f"{escape(label[:6])}</text>"
        )
        line.append(f"{bx + slot * 0.35:.1f},{TOP + plot_h * (1 - cumulative / 100):.1f}")
    if line:
        parts.append(f'<polyline class="line cumulative" points="{" ".join(line)}"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text inside went through escape()
