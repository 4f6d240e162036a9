"""Closed-loop saturation runs with wrk, one Lua script per endpoint.

Every request is built by the same Lua function for the floor and for decisions: a body
template is picked round-robin and a fresh customer id spliced into it, so that both
endpoints cost the generator the same and recorded decisions spread over distinct
customers (no customer repeats within a run, so caps hold back little and every decision
that carries a sales offer goes to the store).
"""

from __future__ import annotations

import resource
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WRK_MISSING", "WrkResult", "find_wrk", "run_wrk", "write_script"]

WRK_MISSING = """\
wrk is not installed; bench_http.py uses it to saturate the server cheaply (C, one
thread, on the same machine as the server). Install it, then run this again:
  Debian/Ubuntu:  sudo apt-get install -y wrk
  macOS:          brew install wrk
  from source:    https://github.com/wg/wrk (make; put ./wrk on PATH)"""

_MARK = "NEXTBEST_WRK_RESULT"

# Lua for wrk 4. `templates` holds {before id, after id} pairs; the id is
# <prefix><thread>-<counter>. done() prints one line that run_wrk() parses. Defining
# response() makes wrk hand every body to Lua: both endpoints pay it alike.
_LUA = """\
local path = %(path)s
local prefix = %(prefix)s
local templates = {
%(templates)s
}
local headers = {["Content-Type"] = "application/json"}
local count = #templates
local counter = 0
local threads = {}
degraded = 0

function setup(thread)
  thread:set("thread_no", #threads)
  table.insert(threads, thread)
end

function init(args)
  label = prefix .. tostring(thread_no) .. "-"
end

function request()
  counter = counter + 1
  local t = templates[(counter %% count) + 1]
  return wrk.format("POST", path, headers, t[1] .. label .. counter .. t[2])
end

-- a decision answered without the contact store is no full decision: count it
function response(status, headers, body)
  if body and string.find(body, '"degraded":["', 1, true) then
    degraded = degraded + 1
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local d = 0
  for _, thread in ipairs(threads) do
    d = d + (thread:get("degraded") or 0)
  end
  io.write(string.format("%(mark)s %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d %%d\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, d))
end
"""


def _lua_string(text: str) -> str:
    if "]==]" in text:
        raise ValueError("a body may not contain ']==]'")
    return f"[==[{text}]==]"


def write_script(
    target: Path, path: str, templates: Sequence[tuple[str, str]], prefix: str
) -> Path:
    """A Lua script sending POST `path` with bodies `before + id + after`."""
    rows = ",\n".join(f"  {{{_lua_string(a)}, {_lua_string(b)}}}" for a, b in templates)
    target.write_text(
        _LUA
        % {
            "path": _lua_string(path),
            "prefix": _lua_string(prefix),
            "templates": rows,
            "mark": _MARK,
        }
    )
    return target


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int
    """Connect, read, write and timeout errors and answers with a status >= 400."""
    p50_ms: float
    p99_ms: float
    max_ms: float
    degraded: int
    """Answers that say `"degraded": ["contact_pressure"]`: the store was not asked."""
    cpu_share: float
    """wrk's own CPU time over the run's wall time (1.0 = one core)."""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def find_wrk() -> str | None:
    return shutil.which("wrk")


def run_wrk(
    wrk: str, url: str, script: Path, *, duration_s: float, connections: int, threads: int = 1
) -> WrkResult:
    command = [
        wrk,
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(duration_s))}s",
        "--timeout=5s",
        f"--script={script}",
        url,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    for line in finished.stdout.splitlines():
        if line.startswith(_MARK):
            fields = [int(v) for v in line.split()[1:]]
            requests, duration_us, *errors, p50, p99, top, degraded = fields
            return WrkResult(
                requests=requests,
                seconds=duration_us / 1e6,
                errors=sum(errors),
                p50_ms=p50 / 1000,
                p99_ms=p99 / 1000,
                max_ms=top / 1000,
                degraded=degraded,
                cpu_share=cpu / (duration_us / 1e6),
            )
    raise RuntimeError(
        f"wrk gave no result (status {finished.returncode}):\n{finished.stdout}{finished.stderr}"
    )
