from __future__ import annotations

from nextbest.pressure.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_half_opens_after_the_pause() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures_to_open=3, open_s=1.0, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failed()
    assert breaker.allow()
    breaker.failed()
    assert breaker.is_open
    assert not breaker.allow()
    clock.now += 1.01
    assert breaker.allow()  # one trial
    assert not breaker.allow()  # the others wait for it
    breaker.succeeded()
    assert breaker.allow()
    assert not breaker.is_open


def test_a_failed_trial_opens_it_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures_to_open=1, open_s=1.0, clock=clock)
    breaker.failed()
    clock.now += 1.5
    assert breaker.allow()
    breaker.failed()
    assert not breaker.allow()


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failures_to_open=2, open_s=1.0, clock=Clock())
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    assert breaker.allow()


def test_calls_in_flight_together_that_fail_together_count_once() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures_to_open=3, open_s=1.0, clock=clock)
    burst = [clock.now + i * 0.001 for i in range(30)]  # 30 calls started within 30 ms
    clock.now += 0.04
    for started in burst:
        breaker.failed(started)  # they all time out
    assert not breaker.is_open, "one failure so far"
    for _ in range(2):  # two more waves, each started after the last failure
        started = clock.now
        clock.now += 0.01
        breaker.failed(started)
        breaker.failed(started)
    assert breaker.is_open
