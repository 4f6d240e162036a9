"""The one error training raises: which input (history, spec, bundle), which column or
field, what is wrong. Nothing is written when it is raised."""

from __future__ import annotations

from nextbest.errors import BundleError

__all__ = ["TrainingError"]


class TrainingError(BundleError):
    """Training cannot go on: names the file and the column or spec field.

    The same shape as the bundle's error (file, field, problem), so that the command line
    reports both alike; caught as a BundleError too.
    """
