"""The answer's numbers are rounded as `round(x, n)` rounds them, to the last bit, though
the response builder rounds them all in one formatting call."""

from __future__ import annotations

import math
import random
import struct

from nextbest.decide.explanation import _rounded


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (
        a == b and math.copysign(1, a) == math.copysign(1, b)
    )


def test_rounding_in_one_call_is_round() -> None:
    rng = random.Random(16)
    numbers = [0.0, -0.0, math.inf, -math.inf, math.nan, 2.675, 0.125, 0.0000005, -5e-7, 1e300]
    numbers += [rng.random() for _ in range(3000)]
    numbers += [rng.uniform(-1e5, 1e5) for _ in range(3000)]
    numbers += [round(rng.uniform(0, 100), rng.randrange(9)) + 5e-7 for _ in range(3000)]
    numbers += [struct.unpack("d", rng.randbytes(8))[0] for _ in range(3000)]
    for places in (2, 6):
        rounded = _rounded(numbers, f"%.{places}f " * len(numbers))
        assert len(rounded) == len(numbers)
        for number, got in zip(numbers, rounded, strict=True):
            assert _same(got, round(number, places)), (number, places, got)
