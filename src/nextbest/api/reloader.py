"""Hot bundle reload: validate a new bundle completely, then swap it in one step.

A reload loads and checks the bundle (everything `nextbest validate` checks, its models
opened), runs a smoke decision on every channel, and only then replaces the serving
decider. A request in flight keeps the decider it started with. A bundle that fails never
replaces the serving one. Reloads are serialised; loading runs in a worker thread so that
decisions keep being served meanwhile.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeVar

import structlog
import watchfiles

from nextbest.api.state import Serving
from nextbest.bundle import BundleError, load_bundle
from nextbest.decide import Context, Customer, DecisionRequest
from nextbest.decide.decider import Decider
from nextbest.metrics import count_reload, set_bundle

__all__ = ["BundleReloader", "ReloadAttempt", "ReloadProblem", "load_in_thread"]

_log = structlog.get_logger("nextbest.reload")
T = TypeVar("T")
SMOKE_CUSTOMER = "nextbest-smoke-test"


@dataclass(frozen=True, slots=True)
class ReloadProblem:
    file: str
    field: str | None
    problem: str


@dataclass(frozen=True, slots=True)
class ReloadAttempt:
    at: datetime
    path: str
    trigger: Literal["admin", "watch"]
    result: Literal["loaded", "refused"]
    version: str | None = None
    """The version loaded, or the one still serving after a refusal."""
    problems: tuple[ReloadProblem, ...] = field(default=())


def smoke_test(decider: Decider) -> None:
    """One dry-run decision per channel, without contact pressure; raises BundleError."""
    bundle = decider.bundle
    for channel in bundle.vocabulary.channels:
        request = DecisionRequest(
            customer=Customer(id=SMOKE_CUSTOMER),
            context=Context(channel=channel),
            limit=25,
            explain=True,
            dry_run=True,
        )
        try:
            decider.decide(request)
        except Exception as exc:  # any failure refuses the bundle
            raise BundleError(
                "bundle", f"smoke decision on channel {channel!r}", f"{type(exc).__name__}: {exc}"
            ) from exc


def _prepare(path: Path) -> Decider:
    try:
        bundle = load_bundle(path)
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, no permission
        raise BundleError(str(path), None, f"cannot be read: {exc}") from exc
    decider = Decider(bundle)
    smoke_test(decider)
    return decider


RELOAD_SWITCH_INTERVAL_S = 0.0005
"""How long the loading thread may hold the GIL while the event loop waits for it (the
interpreter's default is 5 ms). Loading a bundle is Python work that holds the GIL; with
the default, each of the loop's turns could wait up to 5 ms behind it, and decisions
overlapping a reload queued up behind those waits (loadtests/bench_reload.py: decision
p99 during reloads 18-28 ms with 5 ms, 10-14 ms with 0.5 ms)."""


async def load_in_thread(prepare: Callable[[Path], T], path: Path) -> T:
    """`prepare(path)` in a worker thread, with the GIL handed back to the loop often."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(RELOAD_SWITCH_INTERVAL_S)
    try:
        return await asyncio.to_thread(prepare, path)
    finally:
        sys.setswitchinterval(previous)


class BundleReloader:
    """Owns the reload procedure and remembers the last attempt."""

    def __init__(self, serving: Serving, path: Path) -> None:
        self._serving = serving
        self.path = path
        self.last_attempt: ReloadAttempt | None = None
        self._lock = asyncio.Lock()

    async def reload(
        self, path: Path | None = None, trigger: Literal["admin", "watch"] = "admin"
    ) -> ReloadAttempt:
        """Load `path` (default: the serving bundle's directory) and swap it in if valid."""
        target = path or self.path
        async with self._lock:
            try:
                decider = await load_in_thread(_prepare, target)
            except (BundleError, OSError) as error:
                exc = (
                    error
                    if isinstance(error, BundleError)  # the path itself: too long, unreadable
                    else BundleError(str(target), None, error.strerror or str(error))
                )
                attempt = ReloadAttempt(
                    at=datetime.now(UTC),
                    path=str(target),
                    trigger=trigger,
                    result="refused",
                    version=self._serving.decider.bundle.version,
                    problems=(ReloadProblem(exc.file, exc.field, exc.problem),),
                )
                _log.warning(
                    "bundle_reload_refused",
                    path=str(target),
                    trigger=trigger,
                    file=exc.file,
                    field=exc.field,
                    problem=exc.problem,
                    serving_version=attempt.version,
                )
            else:
                previous = self._serving.decider.bundle.version
                self._serving.decider = decider
                self.path = target
                attempt = ReloadAttempt(
                    at=datetime.now(UTC),
                    path=str(target),
                    trigger=trigger,
                    result="loaded",
                    version=decider.bundle.version,
                )
                _log.info(
                    "bundle_reloaded",
                    path=str(target),
                    trigger=trigger,
                    bundle_version=decider.bundle.version,
                    previous_version=previous,
                )
            count_reload(attempt.result)
            if attempt.result == "loaded":
                set_bundle(self._serving.decider.bundle.name, attempt.version or "")
            self.last_attempt = attempt
            return attempt

    async def watch(self, quiet_ms: int, stop: asyncio.Event) -> None:
        """Reload whenever the bundle directory changes, once it has been quiet for
        `quiet_ms` (an author saving several files, then sealing, causes one reload)."""
        watched = self.path
        _log.info("bundle_watch_started", path=str(watched), quiet_ms=quiet_ms)
        try:
            async for _changes in watchfiles.awatch(
                watched,
                step=quiet_ms,
                debounce=max(10 * quiet_ms, 10_000),
                stop_event=stop,
                recursive=True,
            ):
                await self.reload(watched, trigger="watch")
        except Exception as exc:  # a lost watch must not stop serving
            _log.error("bundle_watch_failed", path=str(watched), error=repr(exc))
