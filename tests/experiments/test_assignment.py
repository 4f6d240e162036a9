"""A customer's arm: a keyed hash of the customer id, the same in every process, spread
over the arms as their shares say, independent between experiments."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
from scipy import stats

from nextbest.experiments import Arm, Bucketing, Experiment, bucket

CUSTOMERS = [f"C-{i:06d}" for i in range(30_000)]
SIGNIFICANCE = 0.001
"""A test of a fair assignment fails this rarely; the customer ids are fixed, so each test
gives the same answer on every run."""


def experiment(salt: str, shares: tuple[float, ...]) -> Experiment:
    arms = [Arm(f"arm_{i}", share) for i, share in enumerate(shares)]
    return Experiment("e", salt, arms)


def test_the_bucket_is_the_documented_hash() -> None:
    """The README's recipe, for a warehouse that recomputes arms in SQL or Spark."""
    key = hashlib.blake2b(b"spring promo", digest_size=32).digest()
    digest = hashlib.blake2b(b"C-1001", key=key, digest_size=8).digest()
    expected = (int.from_bytes(digest, "big") >> 11) / 2**53
    assert bucket("spring promo", "C-1001") == expected
    assert Bucketing("spring promo", [1.0]).bucket("C-1001") == expected
    assert 0.0 <= expected < 1.0


def test_assignment_is_the_same_in_another_process() -> None:
    """No per-process state (Python's `hash()` is salted per process): a fresh
    interpreter with another hash seed assigns every customer the same arm."""
    sample = CUSTOMERS[:2_000]
    probe = (
        "import json, sys; from nextbest.experiments import Arm, Experiment; "
        "arms = [Arm(f'arm_{i}', s) for i, s in enumerate((0.2, 0.3, 0.5))]; "
        "e = Experiment('e', 'replica salt', arms); "
        "print(json.dumps([e.assign(c).arm.id for c in json.load(sys.stdin)]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", probe],
        input=json.dumps(sample),
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    here = experiment("replica salt", (0.2, 0.3, 0.5))
    assert json.loads(other.stdout) == [here.assign(c).arm.id for c in sample]


def test_assignment_is_sticky() -> None:
    first = experiment("sticky", (0.5, 0.5))
    again = experiment("sticky", (0.5, 0.5))
    assert [first.assign(c).arm.id for c in CUSTOMERS[:500]] == [
        again.assign(c).arm.id for c in CUSTOMERS[:500]
    ]


def test_arms_get_their_shares_within_sampling_error() -> None:
    shares = (0.7, 0.1, 0.15, 0.05)
    e = experiment("shares", shares)
    counts = Counter(e.assign(c).arm.id for c in CUSTOMERS)
    observed = [counts[f"arm_{i}"] for i in range(len(shares))]
    expected = [share * len(CUSTOMERS) for share in shares]
    assert stats.chisquare(observed, expected).pvalue > SIGNIFICANCE
    for got, share in zip(observed, shares, strict=True):
        # each arm alone: a two-sided binomial test
        assert stats.binomtest(got, len(CUSTOMERS), share).pvalue > SIGNIFICANCE


def test_a_skewed_assignment_would_be_caught() -> None:
    """The test above has power: the same counts against shifted shares fail it."""
    e = experiment("shares", (0.7, 0.1, 0.15, 0.05))
    counts = Counter(e.assign(c).arm.id for c in CUSTOMERS)
    observed = [counts[f"arm_{i}"] for i in range(4)]
    wrong = [share * len(CUSTOMERS) for share in (0.68, 0.12, 0.15, 0.05)]
    assert stats.chisquare(observed, wrong).pvalue < SIGNIFICANCE


def test_an_arm_of_share_zero_gets_nobody() -> None:
    e = experiment("ramp", (0.5, 0.0, 0.5))
    assert "arm_1" not in {e.assign(c).arm.id for c in CUSTOMERS[:5_000]}


def test_two_experiments_assign_independently() -> None:
    """The arm in one experiment says nothing about the arm in another (different salts):
    a chi-square test of independence on the contingency table."""
    first = experiment("first salt", (0.5, 0.5))
    second = experiment("second salt", (0.2, 0.3, 0.5))
    table = np.zeros((2, 3))
    for customer in CUSTOMERS:
        row = int(first.assign(customer).arm.id[-1])
        column = int(second.assign(customer).arm.id[-1])
        table[row, column] += 1
    assert stats.chi2_contingency(table).pvalue > SIGNIFICANCE


def test_the_same_salt_would_not_be_independent() -> None:
    """The contingency test has power: two experiments sharing a salt put every customer
    of the first one's lower half into the second one's lower arms."""
    first = experiment("same", (0.5, 0.5))
    second = experiment("same", (0.2, 0.3, 0.5))
    table = np.zeros((2, 3))
    for customer in CUSTOMERS[:5_000]:
        table[int(first.assign(customer).arm.id[-1]), int(second.assign(customer).arm.id[-1])] += 1
    assert stats.chi2_contingency(table).pvalue < SIGNIFICANCE
