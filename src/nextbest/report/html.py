"""The report as one self-contained HTML page: tables and inline SVG charts, no external
assets."""

from __future__ import annotations

import math
from html import escape

from nextbest.report.report import ExperimentReport, Report
from nextbest.report.svg import Interval, interval_chart
from nextbest.report.table import MEASURE_TITLES

__all__ = ["report_html"]

_CONTROL_TONE = "#6b7280"
_UP_TONE = "#15803d"
_DOWN_TONE = "#b91c1c"
_FLAT_TONE = "#2563eb"

_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#111827;margin:0;
background:#f9fafb}
main{max-width:1180px;margin:0 auto;padding:24px 32px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px}
h3{font-size:16px;margin:20px 0 6px}
p.note{color:#4b5563;margin:4px 0 12px;font-size:13px}
table{border-collapse:collapse;background:#fff;margin:8px 0 16px;font-size:14px}
th,td{padding:6px 10px;border-bottom:1px solid #e5e7eb;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
th{background:#f3f4f6;font-weight:600}
td.up{color:#15803d;font-weight:600}td.down{color:#b91c1c;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.charts svg{background:#fff;border:1px solid #e5e7eb;border-radius:6px}
svg .title{font:600 14px system-ui,sans-serif;fill:#111827}
svg .label{font:13px system-ui,sans-serif;fill:#111827;text-anchor:end}
svg .tick{font:11px system-ui,sans-serif;fill:#6b7280;text-anchor:middle}
svg .grid{stroke:#e5e7eb;stroke-width:1}
svg .zero{stroke:#111827;stroke-width:1.2;stroke-dasharray:4 3}
svg .bar{stroke-width:4;stroke-linecap:round}
"""


def _p(value: float) -> str:
    return "&lt;0.0001" if value < 1e-4 else f"{value:.4f}"


def _tone(low: float, high: float) -> str:
    if low > 0:
        return _UP_TONE
    if high < 0:
        return _DOWN_TONE
    return _FLAT_TONE


def _table(experiment: ExperimentReport, measure: str, digits: int) -> str:
    head = (
        "<tr><th>arm</th><th>decisions</th><th>offers shown</th><th>mean</th>"
        "<th>95 % interval</th><th>uplift</th><th>95 % interval</th><th>relative</th>"
        "<th>p</th><th>more decisions per arm</th></tr>"
    )
    body = []
    for row in experiment.arms:
        s = row.measures[measure]
        cells = [
            escape(row.arm) + (" (control)" if row.control else ""),
            f"{row.decisions:,}",
            f"{row.offers:,}",
            f"{s.mean:.{digits}f}",
            f"[{s.low:.{digits}f}, {s.high:.{digits}f}]",
        ]
        css = ""
        if row.control:
            cells += ["", "", "", "", ""]
        else:
            u = row.uplifts[measure]
            css = "up" if u.low > 0 else "down" if u.high < 0 else ""
            more = row.still_needed(measure)
            cells += [
                f"{u.difference:+.{digits}f}",
                f"[{u.low:+.{digits}f}, {u.high:+.{digits}f}]",
                "" if math.isnan(u.relative) else f"{u.relative:+.1%}",
                _p(u.p_value),
                "-" if math.isinf(more) else f"{more:,.0f}",
            ]
        tds = "".join(
            f'<td class="{css}">{c}</td>' if i == 5 and css else f"<td>{c}</td>"
            for i, c in enumerate(cells)
        )
        body.append(f"<tr>{tds}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _charts(experiment: ExperimentReport, measure: str) -> str:
    means = [
        Interval(
            row.arm + (" (control)" if row.control else ""),
            row.measures[measure].mean,
            row.measures[measure].low,
            row.measures[measure].high,
            _CONTROL_TONE if row.control else _FLAT_TONE,
        )
        for row in experiment.arms
    ]
    uplifts = [
        Interval(
            row.arm,
            row.uplifts[measure].difference,
            row.uplifts[measure].low,
            row.uplifts[measure].high,
            _tone(row.uplifts[measure].low, row.uplifts[measure].high),
        )
        for row in experiment.arms
        if not row.control
    ]
    title = MEASURE_TITLES[measure]
    return (
        '<div class="charts">'
        + interval_chart(f"{title}, per arm", means, width=520)
        + interval_chart(f"uplift against {experiment.control}", uplifts, width=520)
        + "</div>"
    )


def report_html(report: Report, title: str = "nextbest experiment report") -> str:
    sections = []
    for experiment in report.experiments:
        sections.append(
            f"<h2>Experiment {escape(experiment.experiment)}</h2>"
            f'<p class="note">control arm: {escape(experiment.control)}</p>'
        )
        for measure, digits in (("acceptance", 4), ("value", 2)):
            sections.append(
                f"<h3>{escape(MEASURE_TITLES[measure])}</h3>"
                + _charts(experiment, measure)
                + _table(experiment, measure, digits)
            )
    method = (
        "Intervals: 95 %, normal. Uplift: arm minus control, with the unpooled (Welch) "
        "standard error and a two-sided p-value (for a 0/1 measure, the two-proportion "
        f"z-test). More decisions per arm: to detect the observed uplift at alpha "
        f"{report.alpha} with power {report.power:.0%}, equal arms."
    )
    read = (
        f"{report.join.decisions:,} decisions and {report.join.responses:,} responses read; "
        f"{report.outside:,} decisions without an experiment."
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="note">{escape(read)}</p><p class="note">{escape(method)}</p>'
        + "".join(sections)
        + "</main></body></html>\n"
    )
