"""HTTP metrics: every request by route template, method and status, with its latency;
and the contact store's circuit breaker as a gauge.

A raw ASGI middleware around the whole app (404s and 405s included, as route
`unmatched`). Routes are Litestar's path templates, so the label values are bounded by
the app's routes.
"""

from __future__ import annotations

import time
from collections import defaultdict
from functools import cache

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

from nextbest.metric_batches import HistogramAdder, Pending
from nextbest.pressure.breaker import CircuitBreaker, ShardBreakers
from nextbest.pressure.release import Releaser

__all__ = [
    "BREAKER_OPEN",
    "HTTP_SECONDS",
    "RELEASES",
    "RELEASES_PENDING",
    "HttpMetrics",
    "HttpMetricsMiddleware",
]

HTTP_SECONDS = Histogram(
    "nextbest_http_request_duration_seconds",
    "HTTP requests by route template, method and status, and how long the service took to "
    "answer them (from the request's arrival in the app to the last byte sent).",
    ["route", "method", "status"],
    buckets=(5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
BREAKER_OPEN = Gauge(
    "nextbest_contact_store_breaker_open",
    "1 while the circuit breaker in front of the contact store is open (calls refused at "
    "once, decisions degraded), else 0; on a Redis Cluster, 1 while any primary's is open "
    "(only its customers' decisions degrade); with several workers, 1 if any worker's is.",
    multiprocess_mode="max",
)
RELEASES_PENDING = Gauge(
    "nextbest_contact_releases_pending",
    "Decisions whose contacts wait to be released (the store may have recorded them, the "
    "answer did not carry them); with several workers, the sum.",
    multiprocess_mode="livesum",
)
RELEASES = Counter(
    "nextbest_contact_releases_total",
    "Releases of the contacts of decisions whose answer did not carry them, by result: "
    "`released`, or `abandoned` (queue full, still failing after 10 minutes, or pending at "
    "shutdown: those contacts stay until their window ends).",
    ["result"],
)
UNMATCHED = "unmatched"


@cache
def _observer(route: str, method: str, status: int) -> HistogramAdder:
    return HistogramAdder(HTTP_SECONDS.labels(route, method, str(status)))


_Answered = tuple[str, str, int, float]


class HttpMetrics:
    """Notes each answered HTTP request and, when the notes are added to the metrics
    (metric_batches.py: before an exposition, else within about a second), the contact
    store's state: the breaker, and the releases of contacts (which run in the
    background)."""

    __slots__ = (
        "__weakref__",
        "_abandoned",
        "_answered",
        "_breaker",
        "_open",
        "_pending",
        "_released",
        "_releaser",
    )

    def __init__(self, breaker: CircuitBreaker | ShardBreakers, releaser: Releaser) -> None:
        self._breaker = breaker
        self._open: bool | None = None
        self._releaser = releaser
        self._pending = self._released = self._abandoned = 0
        self._answered: Pending[_Answered] = Pending(self._add)

    def answered(self, route: str, method: str, status: int, started: float) -> None:
        """A request to `route` (a path template), begun at `started` (perf_counter)."""
        self._answered.note((route, method, status, time.perf_counter() - started))

    def _add(self, answered: list[_Answered]) -> None:
        by_route: defaultdict[tuple[str, str, int], list[float]] = defaultdict(list)
        for route, method, status, seconds in answered:
            by_route[route, method, status].append(seconds)
        for key, times in by_route.items():
            _observer(*key).add(times)
        self._note_breaker()
        self._note_releases()

    def _note_breaker(self) -> None:
        is_open = self._breaker.is_open
        if is_open is not self._open:
            self._open = is_open
            BREAKER_OPEN.set(1 if is_open else 0)

    def _note_releases(self) -> None:
        releaser = self._releaser
        if releaser.pending != self._pending:
            self._pending = releaser.pending
            RELEASES_PENDING.set(self._pending)
        if releaser.released != self._released:
            _RELEASED.inc(releaser.released - self._released)
            self._released = releaser.released
        if releaser.abandoned != self._abandoned:
            _ABANDONED.inc(releaser.abandoned - self._abandoned)
            self._abandoned = releaser.abandoned


class HttpMetricsMiddleware:
    """Times every HTTP request (`HttpMetrics`)."""

    __slots__ = ("_metrics", "app")

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = scope.get("path_template") or UNMATCHED
            self._metrics.answered(route, scope["method"], status, started)


_RELEASED = RELEASES.labels("released")
_ABANDONED = RELEASES.labels("abandoned")
