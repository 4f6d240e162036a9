"""Prometheus metrics, with the maintained client library.

A decision's figures are noted on its path and added to the metrics in batches
(metric_batches.py): before each exposition, and within about a second otherwise.
Labels are bounded by the bundle (channels, categories, policy ids, experiment and arm
ids) or by fixed sets, so the hot path caches its labelled children. The experiment
series hold the ids of every experiment the process has served since it started (a
reload adds the new bundle's, a restart forgets the old ones).
With several workers, `nextbest serve` points `PROMETHEUS_MULTIPROC_DIR` at a fresh
directory before the workers start, and `/metrics` adds up every worker's values.
"""

from __future__ import annotations

import os
from collections import Counter as CountOf
from functools import cache
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from nextbest.metric_batches import HistogramAdder, Pending, flush_all

if TYPE_CHECKING:
    from nextbest.decide.values import Decision

__all__ = [
    "CONTENT_TYPE_LATEST",
    "count_degraded",
    "count_experiment_response",
    "count_feedback",
    "count_history_dropped",
    "count_history_written",
    "count_reload",
    "count_shed",
    "exposition",
    "observe_decision",
    "set_bundle",
]

_SECONDS = (25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1)

STAGE_SECONDS = Histogram(
    "nextbest_decision_stage_seconds",
    "Time a decision spends in each stage; `total` is the whole decision without HTTP.",
    ["stage"],
    buckets=_SECONDS,
)
DECISIONS = Counter(
    "nextbest_decisions_total",
    "Decisions answered, by channel and outcome (offers, empty, degraded).",
    ["channel", "outcome"],
)
OFFERS = Counter("nextbest_offers_returned_total", "Offers returned, by category.", ["category"])
CAPS_HIT = Counter(
    "nextbest_caps_hit_total",
    "Offers held back by a contact policy, by policy id.",
    ["policy"],
)
DEGRADED = Counter(
    "nextbest_degraded_decisions_total",
    "Decisions answered without the contact store, by channel and degraded mode.",
    ["channel", "mode"],
)
FEEDBACK = Counter(
    "nextbest_feedback_total",
    "Feedback events, by outcome and status (recorded, duplicate, unavailable).",
    ["outcome", "status"],
)
HISTORY_DROPPED = Counter(
    "nextbest_history_dropped_total",
    "History records not written, by reason (queue_full, sink_failed).",
    ["reason"],
)
HISTORY_WRITTEN = Counter("nextbest_history_written_total", "History records written.")
EXPERIMENT_DECISIONS = Counter(
    "nextbest_experiment_decisions_total",
    "Decisions made in an experiment (experiments.yaml), by experiment and arm.",
    ["experiment", "arm"],
)
EXPERIMENT_OFFERS = Counter(
    "nextbest_experiment_offers_total",
    "Offers returned in an experiment, by experiment, arm and category.",
    ["experiment", "arm", "category"],
)
EXPERIMENT_RESPONSES = Counter(
    "nextbest_experiment_responses_total",
    "Feedback recorded for decisions in an experiment, by experiment, arm and outcome "
    "(the arm recomputed from the customer id, channel and placement).",
    ["experiment", "arm", "outcome"],
)
SHED = Counter(
    "nextbest_decisions_shed_total",
    "Decisions refused with 503 after waiting past the queue deadline for their turn.",
)
RELOADS = Counter("nextbest_bundle_reloads_total", "Bundle reload attempts, by result.", ["result"])
BUNDLE = Gauge(
    "nextbest_bundle_info",
    "The serving bundle (value 1), labelled with its name and version.",
    ["name", "version"],
    multiprocess_mode="liveall",
)

_STAGE_NAMES = ("rules", "scoring", "arbitration", "pressure", "total")
_STAGES = tuple(HistogramAdder(STAGE_SECONDS.labels(stage), 1e9) for stage in _STAGE_NAMES)


@cache
def _decisions(channel: str, outcome: str) -> Counter:
    return DECISIONS.labels(channel, outcome)


@cache
def _offers(category: str) -> Counter:
    return OFFERS.labels(category)


_Noted = tuple[
    int, int, int, int, int, str, str, tuple[str, ...], tuple[str, ...], tuple[str, str] | None
]
"""A decision's stage times (ns), channel, outcome, categories returned, caps hit and
experiment arm."""


def observe_decision(decision: Decision, total_ns: int) -> None:
    timings, response = decision.timings, decision.response
    blocked = decision.selection.blocked
    assignment = decision.ranking.assignment
    _DECIDED.note(
        (
            timings.rules_ns,
            timings.scoring_ns,
            timings.arbitration_ns,
            timings.pressure_ns,
            total_ns,
            response.channel,
            "degraded" if response.degraded else "offers" if response.offers else "empty",
            tuple([offer.category for offer in response.offers]),
            tuple([r.id for r in blocked.values() if r.kind == "cap" and r.id is not None])
            if blocked
            else (),
            None if assignment is None else (assignment.experiment, assignment.arm.id),
        )
    )


def _add_decisions(decided: list[_Noted]) -> None:
    columns = list(zip(*decided, strict=True))
    for adder, times in zip(_STAGES, columns, strict=False):  # the stage times come first
        adder.add(times)
    counted: CountOf[tuple[str, str]] = CountOf()
    categories: CountOf[str] = CountOf()
    caps: CountOf[str] = CountOf()
    arms: CountOf[tuple[str, str]] = CountOf()
    arm_offers: CountOf[tuple[str, str, str]] = CountOf()
    for *_, channel, outcome, returned, capped, arm in decided:
        counted[channel, outcome] += 1
        categories.update(returned)
        if capped:
            caps.update(capped)
        if arm is not None:
            arms[arm] += 1
            arm_offers.update((*arm, category) for category in returned)
    for (channel, outcome), count in counted.items():
        _decisions(channel, outcome).inc(count)
    for category, count in categories.items():
        _offers(category).inc(count)
    for policy, count in caps.items():
        _caps(policy).inc(count)
    for (experiment, arm_id), count in arms.items():
        _experiment_decisions(experiment, arm_id).inc(count)
    for (experiment, arm_id, category), count in arm_offers.items():
        _experiment_offers(experiment, arm_id, category).inc(count)


_DECIDED: Pending[_Noted] = Pending(_add_decisions)


@cache
def _experiment_decisions(experiment: str, arm: str) -> Counter:
    return EXPERIMENT_DECISIONS.labels(experiment, arm)


@cache
def _experiment_offers(experiment: str, arm: str, category: str) -> Counter:
    return EXPERIMENT_OFFERS.labels(experiment, arm, category)


def count_experiment_response(experiment: str, arm: str, outcome: str) -> None:
    EXPERIMENT_RESPONSES.labels(experiment, arm, outcome).inc()


@cache
def _caps(policy: str) -> Counter:
    return CAPS_HIT.labels(policy)


def count_shed() -> None:
    SHED.inc()


def count_degraded(channel: str, mode: str) -> None:
    DEGRADED.labels(channel, mode).inc()


def count_feedback(outcome: str, status: str) -> None:
    FEEDBACK.labels(outcome, status).inc()


def count_history_dropped(reason: str, count: int) -> None:
    HISTORY_DROPPED.labels(reason).inc(count)


def count_history_written(count: int) -> None:
    HISTORY_WRITTEN.inc(count)


def count_reload(result: str) -> None:
    RELOADS.labels(result).inc()


_serving_bundle: list[tuple[str, str]] = []


def set_bundle(name: str, version: str) -> None:
    """Mark (name, version) as serving; the previous one drops to 0 (multiprocess mode)
    or disappears."""
    for previous in _serving_bundle:
        if _multiprocess():
            BUNDLE.labels(*previous).set(0)
        else:
            BUNDLE.remove(*previous)
    _serving_bundle[:] = [(name, version)]
    BUNDLE.labels(name, version).set(1)


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def exposition() -> bytes:
    """The text exposition of this process, or of every worker in multiprocess mode."""
    flush_all()
    if _multiprocess():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()
