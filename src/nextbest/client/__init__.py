"""A typed Python client for nextbest, sync and async, over httpx (`pip install
nextbest[client]`). It sends and returns the server's own msgspec types."""

from nextbest.client._async import AsyncNextbestClient
from nextbest.client._errors import NextbestError
from nextbest.client._sync import NextbestClient

__all__ = ["AsyncNextbestClient", "NextbestClient", "NextbestError"]
