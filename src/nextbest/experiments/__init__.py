"""Experiments: control groups and challengers on a stable share of the customers.

`experiments.yaml` (spec) is compiled by the bundle loader into `Experiments` (plan); a
customer's arm is a keyed hash of the customer id (assignment).
"""

from nextbest.experiments.assignment import Bucketing, bucket
from nextbest.experiments.plan import (
    NO_EXPERIMENTS,
    Arm,
    Assignment,
    Experiment,
    Experiments,
    WeightTables,
)
from nextbest.experiments.spec import EXPERIMENTS_FILE, ArmPolicy, ExperimentsFile

__all__ = [
    "EXPERIMENTS_FILE",
    "NO_EXPERIMENTS",
    "Arm",
    "ArmPolicy",
    "Assignment",
    "Bucketing",
    "Experiment",
    "Experiments",
    "ExperimentsFile",
    "WeightTables",
    "bucket",
]
