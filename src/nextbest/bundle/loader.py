"""Reading a bundle directory into a validated, compiled, immutable Bundle.

Every file is read once; each section is parsed from those bytes by the package that owns
its meaning, and the same bytes are checked against the manifest. Every problem is raised
as a BundleError naming the file and the field; nothing is half-loaded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from nextbest.bundle._schema import BundleFile, ContextWeightsFile, OffersFile, RulesFile
from nextbest.bundle.bundle import Bundle
from nextbest.bundle.experiment_set import compile_experiments
from nextbest.bundle.files import (
    BUNDLE_FILE,
    EXPERIMENTS_FILE,
    EXPLORATION_FILE,
    OFFERS_FILE,
    POLICIES_FILE,
    RULES_FILE,
    WEIGHTS_FILE,
    BundleSource,
)
from nextbest.bundle.manifest import read_manifest, verify_manifest
from nextbest.bundle.models import compile_models
from nextbest.bundle.offers import compile_offers
from nextbest.bundle.rule_set import compile_rules
from nextbest.bundle.weights import compile_context_weights
from nextbest.experiments import ExperimentsFile
from nextbest.exploration.config import read_exploration
from nextbest.fields import CATEGORIES, FieldCatalogue
from nextbest.pressure.policy import read_policies

__all__ = ["load_bundle"]


def load_bundle(root: Path) -> Bundle:
    """Load, validate and compile the bundle in directory `root`."""
    source = BundleSource.read(root)
    meta = source.required(BUNDLE_FILE, BundleFile)
    catalogue = FieldCatalogue.declare(meta.customer_attributes, meta.context_attributes)
    fields = catalogue.kinds()
    model_ids = {m.id for m in source.models.models}
    offers = compile_offers(source.required(OFFERS_FILE, OffersFile), meta.vocabulary, model_ids)
    rules = compile_rules(source.section(RULES_FILE, RulesFile, RulesFile()), offers, fields)
    weights = compile_context_weights(
        source.section(WEIGHTS_FILE, ContextWeightsFile, {}), meta.vocabulary, offers
    )
    policies = read_policies(source.get(POLICIES_FILE), offers, meta.vocabulary.channels)
    exploration = read_exploration(source.get(EXPLORATION_FILE), meta.vocabulary.channels)
    experiments = compile_experiments(
        source.section(EXPERIMENTS_FILE, ExperimentsFile, ExperimentsFile()),
        meta.vocabulary,
        offers,
        model_ids,
    )
    models = compile_models(source.models, source.files, offers, fields)
    manifest = read_manifest(source.manifest)
    verify_manifest(manifest, meta.name, meta.version, source.files)

    return Bundle(
        path=root,
        name=meta.name,
        version=meta.version,
        description=meta.description,
        loaded_at=datetime.now(UTC),
        checksums=dict(manifest.files),
        vocabulary=meta.vocabulary,
        fields=catalogue,
        offers=offers,
        rules=rules,
        context_weights=weights,
        clv_share={c: meta.value.clv_share.get(c, 0.0) for c in CATEGORIES},
        models=models,
        policies=policies,
        exploration=exploration,
        experiments=experiments,
    )
