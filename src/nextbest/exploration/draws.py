"""A decision's random numbers, derived from its id: every choice can be replayed.

Uniforms come straight from BLAKE2b of the decision id (53 bits each), which costs a
microsecond where seeding a numpy generator costs tens; Thompson's Beta draws use a numpy
generator seeded from the same hash.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["generator", "uniforms"]

_PERSON = b"nextbest-explore"
_PER_BLOCK = 8  # a 64-byte digest holds eight 64-bit words


def uniforms(decision_id: str, count: int) -> list[float]:
    """`count` numbers in [0, 1), the same for the same decision id."""
    out: list[float] = []
    block = 0
    while len(out) < count:
        digest = hashlib.blake2b(
            decision_id.encode(), digest_size=64, person=_PERSON, salt=block.to_bytes(16, "little")
        ).digest()
        out.extend(
            (int.from_bytes(digest[i : i + 8], "little") >> 11) * 2.0**-53 for i in range(0, 64, 8)
        )
        block += 1
    return out[:count]


def generator(decision_id: str) -> np.random.Generator:
    seed = hashlib.blake2b(decision_id.encode(), digest_size=16, person=_PERSON).digest()
    return np.random.default_rng(int.from_bytes(seed, "little"))
