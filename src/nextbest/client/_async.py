"""The asyncio client."""

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

__all__ = ["AsyncNextbestClient"]

T = TypeVar("T")


class AsyncNextbestClient:
    """`async with AsyncNextbestClient("http://nextbest:8000") as nb: await nb.decide(...)`.

    Pass `http` to bring your own `httpx.AsyncClient` (timeouts, pools, proxies); its base URL
    is then used. A refused request raises `NextbestError` with the problem document."""

    def __init__(
        self,
        base_url: str = "",
        *,
        timeout_s: float = 2.0,
        admin_token: str | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout_s)
        self._owns_http = http is None
        self._admin_token = admin_token

    async def _send(self, call: _calls.Call[T]) -> T:
        response = await self._http.request(
            call.method, call.path, content=call.body, headers=call.headers
        )
        return call.read(
            response.status_code, response.content, response.headers.get(_calls.REQUEST_ID)
        )

    async def decide(
        self,
        request: DecisionRequest,
        *,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> DecisionResponse:
        return await self._send(_calls.decide(request, request_id, traceparent))

    async def feedback(
        self,
        event: FeedbackRequest,
        *,
        request_id: str | None = None,
        traceparent: str | None = None,
    ) -> FeedbackReceipt:
        return await self._send(_calls.feedback(event, request_id, traceparent))

    async def offers(self) -> OffersPage:
        return await self._send(_calls.offers())

    async def bundle(self) -> BundleInfo:
        return await self._send(_calls.serving_bundle())

    async def ready(self) -> Health:
        return await self._send(_calls.ready())

    async def reload(self, path: str | None = None) -> ReloadInfo:
        """Needs `admin_token`."""
        if not self._admin_token:
            raise ValueError("reload needs the client's admin_token")
        return await self._send(_calls.reload(path, self._admin_token))

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncNextbestClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
