"""CPU time of a process and all its descendants, read from /proc (Linux).

On a machine whose cores other work shares, a server's requests per second say how much
of the cores it got as much as how cheap its requests are. The CPU time it spent per
request does not depend on that: the floor's CPU per request over a decision's is the
ratio of their rates on cores of their own.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["tree_cpu_s"]

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _own_cpu_ticks(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children.extend(int(child) for child in text)
    return children


def tree_cpu_s(pid: int) -> float | None:
    """User + system seconds of `pid` and its live descendants; None off Linux."""
    if not Path("/proc/self/stat").exists():
        return None
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += _own_cpu_ticks(current)
            pending.extend(_children(current))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / _TICK
