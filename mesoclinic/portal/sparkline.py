"""A small line chart drawn on the server as inline SVG: no script, no library, a few hundred
bytes. The chart is a picture with a one-sentence summary for screen readers (``role="img"``
and its label); the numbers themselves are in the table beside it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 320
HEIGHT = 140
# Room for the value labels on the left and the dates below.
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 26


@dataclass(frozen=True)
class Axis:
    """A value range and the words written at its two ends."""

    low: float
    high: float
    low_label: str
    high_label: str


def _coordinate(value: float, low: float, high: float, start: float, length: float) -> float:
    if high <= low:
        return start + length / 2
    return start + (value - low) / (high - low) * length


def line_chart(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    x_axis: Axis,
    y_axis: Axis,
    label: str,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """``ys`` against ``xs`` (times as numbers, say), lower values lower down; one point alone
    is a dot. Every text (``label`` and the axes' words) is escaped."""
    plot_w = width - LEFT - RIGHT
    plot_h = height - TOP - BOTTOM
    bottom = TOP + plot_h
    points = [
        (
            _coordinate(x, x_axis.low, x_axis.high, LEFT, plot_w),
            # SVG counts y downwards: the high end of the range is at the top.
            bottom - _coordinate(y, y_axis.low, y_axis.high, 0, plot_h),
        )
        for x, y in zip(xs, ys, strict=True)
    ]
    line = (
        format_html(
            '<polyline class="spark-line" fill="none" stroke="currentColor" stroke-width="2" '
            'points="{}"/>',
            " ".join(f"{x:.1f},{y:.1f}" for x, y in points),
        )
        if len(points) > 1
        else ""
    )
    dots = format_html_join(
        "", '<circle cx="{}" cy="{}" r="3.5"/>', ((f"{x:.1f}", f"{y:.1f}") for x, y in points)
    )
    return format_html(
        '<svg class="spark" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-label="{label}" focusable="false"><title>{label}</title>'
        '<g class="spark-axis" stroke="currentColor" stroke-width="1">'
        '<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}"/>'
        '<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/></g>'
        '<g class="spark-text" font-size="11" fill="currentColor">'
        '<text x="{label_x}" y="{top_text}" text-anchor="end">{y_high}</text>'
        '<text x="{label_x}" y="{bottom}" text-anchor="end">{y_low}</text>'
        '<text x="{left}" y="{date_y}">{x_low}</text>'
        "{x_high}</g>"
        '{line}<g class="spark-dots" fill="currentColor">{dots}</g></svg>',
        w=width,
        h=height,
        label=label,
        left=LEFT,
        right=width - RIGHT,
        top=TOP,
        bottom=bottom,
        label_x=LEFT - 6,
        top_text=TOP + 8,
        date_y=height - 8,
        y_high=y_axis.high_label,
        y_low=y_axis.low_label,
        x_low=x_axis.low_label,
        x_high=format_html(
            '<text x="{}" y="{}" text-anchor="end">{}</text>',
            width - RIGHT,
            height - 8,
            x_axis.high_label,
        )
        if x_axis.high_label
        else "",
        line=line,
        dots=dots,
    )
