"""The blocking client."""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

import httpx

from nextbest.api.wire import (
    BundleInfo,
    FeedbackReceipt,
    FeedbackRequest,
    Health,
    OffersPage,
    ReloadInfo,
)
from nextbest.client import _calls
from nextbest.decide.types import DecisionRequest, DecisionResponse

__all__ = ["NextbestClient"]

T = TypeVar("T")


class NextbestClient:
    """`with NextbestClient("http://nextbest:8000") as nb: nb.decide(request)`.

    Pass `http` to bring your own `httpx.Client` (timeouts, pools, proxies); its base URL
    is then used. A refused request raises `NextbestError` with the problem document."""

    def __init__(
        self,
        base_url: str = "",
        *,
        timeout_s: float = 2.0,
        admin_token: str | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout_s)
        self._owns_http = http is None
        self._admin_token = admin_token

    def _send(self, call: _calls.Call[T]) -> T:
        response = self._http.request(
            call.method, call.path, content=call.body, headers=call.headers
        )
        return call.read(
            response.status_code, response.content, response.headers.get(_calls.REQUEST_ID)
        )

    def decide(
        self,
        request: DecisionRequest,
        *,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> DecisionResponse:
        return self._send(_calls.decide(request, request_id, traceparent))

    def feedback(
        self,
        event: FeedbackRequest,
        *,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> FeedbackReceipt:
        return self._send(_calls.feedback(event, request_id, traceparent))

    def offers(self) -> OffersPage:
        return self._send(_calls.offers())

    def bundle(self) -> BundleInfo:
        return self._send(_calls.serving_bundle())

    def ready(self) -> Health:
        return self._send(_calls.ready())

    def reload(self, path: str | None = None) -> ReloadInfo:
        """Needs `admin_token`."""
        if not self._admin_token:
            raise ValueError("reload needs the client's admin_token")
        return self._send(_calls.reload(path, self._admin_token))

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> NextbestClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
