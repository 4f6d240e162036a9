"""Means, differences of means and sample sizes, with the normal reference.

Per arm, a measure's 95 % interval is mean +- z sd / sqrt(n). The uplift of an arm is
its mean minus the control's; its interval and two-sided p-value use the unpooled
(Welch) standard error sqrt(sd_a^2 / n_a + sd_c^2 / n_c) with the normal reference, which
for a 0/1 measure is the unpooled two-proportion z-test. The sample size to detect an
uplift d is, per arm with equal arms, (z_(1 - alpha / 2) + z_power)^2 (sd_a^2 + sd_c^2) / d^2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

__all__ = ["ALPHA", "POWER", "Moments", "Summary", "Uplift", "sample_size", "summary", "uplift"]

ALPHA = 0.05
POWER = 0.80
_NORMAL = NormalDist()


def _z(level: float) -> float:
    return _NORMAL.inv_cdf(1.0 - (1.0 - level) / 2.0)


@dataclass
class Moments:
    """A running count, sum and sum of squares of one measure."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    def add(self, value: float) -> None:
        self.n += 1
        self.total += value
        self.squares += value * value

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """The sample variance (n - 1 in the denominator)."""
        if self.n < 2:
            return math.nan
        return max(0.0, (self.squares - self.total * self.total / self.n) / (self.n - 1))


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    low: float
    high: float
    sd: float


@dataclass(frozen=True)
class Uplift:
    difference: float
    low: float
    high: float
    p_value: float
    relative: float
    """difference / control mean (nan when the control's mean is 0)."""
    needed_per_arm: float
    """Decisions per arm to detect `difference` at ALPHA with POWER (inf for 0)."""


def summary(moments: Moments, level: float = 1.0 - ALPHA) -> Summary:
    sd = math.sqrt(moments.variance) if moments.n > 1 else math.nan
    half = _z(level) * sd / math.sqrt(moments.n) if moments.n > 1 else math.nan
    return Summary(moments.n, moments.mean, moments.mean - half, moments.mean + half, sd)


def sample_size(
    sd_arm: float, sd_control: float, difference: float, alpha: float = ALPHA, power: float = POWER
) -> float:
    if difference == 0 or math.isnan(difference):
        return math.inf
    z = _z(1.0 - alpha) + _NORMAL.inv_cdf(power)
    return z * z * (sd_arm**2 + sd_control**2) / difference**2


def uplift(arm: Moments, control: Moments, level: float = 1.0 - ALPHA) -> Uplift:
    difference = arm.mean - control.mean
    se = math.sqrt(arm.variance / arm.n + control.variance / control.n)
    if se > 0:
        p_value = 2.0 * (1.0 - _NORMAL.cdf(abs(difference) / se))
    else:
        p_value = 1.0 if difference == 0 else 0.0
    half = _z(level) * se
    relative = difference / control.mean if control.mean else math.nan
    needed = sample_size(math.sqrt(arm.variance), math.sqrt(control.variance), difference)
    return Uplift(difference, difference - half, difference + half, p_value, relative, needed)
