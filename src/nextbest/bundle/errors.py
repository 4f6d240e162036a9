"""The one error a bundle can raise: which file, which field, what is wrong."""

from nextbest.errors import BundleError

__all__ = ["BundleError"]
