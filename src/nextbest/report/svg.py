"""Inline SVG interval charts: one row per label, a dot for the estimate and a bar for its
95 % interval, on a shared axis that always shows zero (dashed)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

__all__ = ["Interval", "interval_chart"]

_ROW = 34
_LEFT = 190
_RIGHT = 30
_TOP = 34
_BOTTOM = 40


@dataclass(frozen=True)
class Interval:
    label: str
    value: float
    low: float
    high: float
    tone: str = "#2563eb"


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _label(value: float, step: float) -> str:
    digits = max(0, -math.floor(math.log10(step))) if step > 0 else 2
    return f"{value:.{digits}f}"


def interval_chart(title: str, rows: list[Interval], *, width: int = 640) -> str:
    finite = [v for r in rows for v in (r.low, r.high, r.value) if math.isfinite(v)]
    low, high = min([0.0, *finite]), max([0.0, *finite])
    pad = (high - low) * 0.08 or 1.0
    low, high = low - pad, high + pad
    plot = width - _LEFT - _RIGHT
    height = _TOP + _ROW * len(rows) + _BOTTOM

    def x(value: float) -> float:
        return _LEFT + (value - low) / (high - low) * plot

    ticks = _ticks(low, high)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="12" y="20" class="title">{escape(title)}</text>',
    ]
    bottom = height - _BOTTOM
    parts += [
        f'<line x1="{x(tick):.1f}" y1="{_TOP - 6}" x2="{x(tick):.1f}" y2="{bottom}" '
        'class="grid"/>'
        f'<text x="{x(tick):.1f}" y="{bottom + 16}" class="tick">{_label(tick, step)}</text>'
        for tick in ticks
    ]
    parts.append(
        f'<line x1="{x(0):.1f}" y1="{_TOP - 6}" x2="{x(0):.1f}" y2="{bottom}" class="zero"/>'
    )
    for i, row in enumerate(rows):
        y = _TOP + _ROW * i + _ROW / 2
        parts.append(
            f'<text x="{_LEFT - 10}" y="{y + 4:.1f}" class="label">{escape(row.label)}</text>'
        )
        if math.isfinite(row.low) and math.isfinite(row.high):
            parts.append(
                f'<line x1="{x(row.low):.1f}" y1="{y:.1f}" x2="{x(row.high):.1f}" '
                f'y2="{y:.1f}" stroke="{row.tone}" class="bar"/>'
            )
        if math.isfinite(row.value):
            parts.append(
                f'<circle cx="{x(row.value):.1f}" cy="{y:.1f}" r="5" fill="{row.tone}">'
                f"<title>{escape(row.label)}: {row.value:.4g} [{row.low:.4g}, {row.high:.4g}]"
                "</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)
