"""`evaluate` on the log of a uniformly random logging policy, over a simulated population
whose truth is known: the demo bundle's true value lies within each estimator's interval."""

from __future__ import annotations

from pathlib import Path

import pytest
from simulated_experiment import (
    Arm,
    demo_population,
    history_records,
    serve,
    simulation_rng,
    true_value,
    write_history,
)

from nextbest.bundle import Bundle
from nextbest.evaluation.evaluate import Evaluation, evaluate_bundle

DECISIONS = 2000


@pytest.fixture(scope="module")
def uniform_log(tmp_path_factory: pytest.TempPathFactory, demo_bundle: Bundle) -> Path:
    population = demo_population(DECISIONS, 31)
    rng = simulation_rng(31)
    served = serve(population, range(DECISIONS), Arm("uniform", 1.0, "uniform", demo_bundle), rng)
    return write_history(
        tmp_path_factory.mktemp("uniform"),
        history_records(population, served, rng, experiment=None),
    )


@pytest.fixture(scope="module")
def evaluation(uniform_log: Path, demo_bundle: Bundle) -> Evaluation:
    return evaluate_bundle(str(uniform_log), demo_bundle.path, resamples=500, seed=1)


def test_the_true_value_lies_within_every_interval(
    evaluation: Evaluation, demo_bundle: Bundle
) -> None:
    acceptance, value = true_value(demo_population(DECISIONS, 31), demo_bundle)
    for measure, truth in (("acceptance", acceptance), ("value", value)):
        for estimator in ("IPS", "SNIPS", "DR"):
            found = evaluation.estimate(measure, estimator)
            assert found.low <= truth <= found.high, (measure, estimator, found, truth)
        logged = evaluation.estimate(measure, "logged")
        assert logged.high < truth  # random offers earn less than the model's choices


def test_the_uniform_log_overlaps_the_candidate_everywhere(evaluation: Evaluation) -> None:
    counts = evaluation.replay.counts
    assert counts.evaluated == DECISIONS
    assert counts.no_overlap_slots == 0
    assert counts.deterministic_slots == 0
    assert evaluation.warnings() == []
    # about one slot in (eligible offers) agrees with the candidate, weight = eligible offers
    assert 0.03 * counts.slots < evaluation.ess < 0.2 * counts.slots
