"""The report as a terminal table."""

from __future__ import annotations

import math

from nextbest.report.report import ArmRow, Report

__all__ = ["MEASURE_TITLES", "report_lines"]

MEASURE_TITLES = {
    "acceptance": "acceptance (accepted offers per decision)",
    "value": "value per decision",
}


def _count(value: float) -> str:
    return "-" if math.isinf(value) else f"{value:,.0f}"


def _p(value: float) -> str:
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def _row(row: ArmRow, measure: str, digits: int) -> str:
    s = row.measures[measure]
    cells = f"{row.arm + (' (control)' if row.control else ''):<24}{row.decisions:>10,}"
    cells += f"{s.mean:>12.{digits}f}  [{s.low:.{digits}f}, {s.high:.{digits}f}]"
    if row.control:
        return cells
    u = row.uplifts[measure]
    relative = "" if math.isnan(u.relative) else f" ({u.relative:+.1%})"
    uplift = f"{u.difference:+.{digits}f}{relative}"
    interval = f"[{u.low:+.{digits}f}, {u.high:+.{digits}f}]"
    return (
        f"{cells:<68}{uplift:<20}{interval:<22}p {_p(u.p_value):<9}"
        f"more per arm {_count(row.still_needed(measure))}"
    )


def report_lines(report: Report) -> list[str]:
    lines = [
        f"decisions read {report.join.decisions}, responses {report.join.responses}; "
        f"without an experiment {report.outside}",
        "95 % intervals (normal); uplift: arm - control, Welch standard error, two-sided "
        f"p; 'more per arm': decisions each arm still needs to detect the observed uplift "
        f"at alpha {report.alpha} with power {report.power:.0%}",
    ]
    for experiment in report.experiments:
        lines += ["", f"experiment {experiment.experiment} (control: {experiment.control})"]
        for measure, digits in (("acceptance", 4), ("value", 2)):
            lines += [
                f"  {MEASURE_TITLES[measure]}",
                f"  {'arm':<24}{'decisions':>10}{'mean':>12}  {'95 % interval':<20}"
                f"{'uplift':<20}95 % interval",
            ]
            lines += [f"  {_row(row, measure, digits)}" for row in experiment.arms]
    return lines
