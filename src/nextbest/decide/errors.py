"""A request that decodes but does not fit the serving bundle (unknown channel, ...)."""

from nextbest.errors import InvalidRequestError

__all__ = ["InvalidRequestError"]
