"""Which arm a customer is in: a keyed hash of the customer id, the same on every replica
and in every process, never stored.

The experiment's salt keys a BLAKE2b hash (RFC 7693) of the customer id's UTF-8 bytes.
The first 8 bytes of the digest, read as an unsigned big-endian integer, give the
customer's bucket in [0, 1): its top 53 bits divided by 2**53 (exact in a double, so never
1.0). The arms own consecutive intervals of [0, 1) as wide as their shares, in the order
the file lists them. Two experiments with different salts hash with different keys, so a
customer's bucket in one says nothing about the other.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence

__all__ = ["Bucketing", "bucket"]

_SCALE = 2.0**-53


def _key(salt: str) -> bytes:
    """A BLAKE2b key of 32 bytes made from a salt of any length."""
    return hashlib.blake2b(salt.encode(), digest_size=32).digest()


def _fraction(digest: bytes) -> float:
    return (int.from_bytes(digest, "big") >> 11) * _SCALE


def bucket(salt: str, customer_id: str) -> float:
    """The customer's position in [0, 1) for the experiment salted `salt`."""
    digest = hashlib.blake2b(customer_id.encode(), key=_key(salt), digest_size=8).digest()
    return _fraction(digest)


class Bucketing:
    """One experiment's hash and arm boundaries, laid out once."""

    def __init__(self, salt: str, shares: Sequence[float]) -> None:
        self._hasher = hashlib.blake2b(key=_key(salt), digest_size=8)
        upper, total = [], 0.0
        for share in shares:
            total += share
            upper.append(total)
        upper[-1] = 1.0  # the shares sum to 1 within the tolerance; no bucket falls past it
        self._upper = tuple(upper)

    def bucket(self, customer_id: str) -> float:
        hasher = self._hasher.copy()
        hasher.update(customer_id.encode())
        return _fraction(hasher.digest())

    def arm_index(self, customer_id: str) -> int:
        """The position of the customer's arm in the experiment's list."""
        return bisect.bisect_right(self._upper, self.bucket(customer_id))
