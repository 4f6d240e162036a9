from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar.testing import TestClient

from nextbest.api.app import create_app
from nextbest.bundle import Bundle, load_bundle, seal_bundle
from nextbest.decide import Decider

DEMO_BUNDLE = Path(__file__).resolve().parents[1] / "models" / "demo-energy"


@pytest.fixture(scope="session")
def demo_bundle() -> Bundle:
    return load_bundle(DEMO_BUNDLE)


@pytest.fixture(scope="session")
def decider(demo_bundle: Bundle) -> Decider:
    return Decider(demo_bundle)


@pytest.fixture(scope="session")
def client(decider: Decider) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(decider)) as test_client:
        yield test_client


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    """A writable copy of the demo bundle."""
    target = tmp_path / "bundle"
    shutil.copytree(DEMO_BUNDLE, target)
    return target


EditYaml = Callable[[str, Callable[[Any], Any]], None]


@pytest.fixture
def edit_yaml(bundle_copy: Path) -> EditYaml:
    """Change one YAML file of the bundle copy and re-seal it, as a bundle author would."""

    def edit(name: str, change: Callable[[Any], Any]) -> None:
        path = bundle_copy / name
        data = yaml.safe_load(path.read_text())
        result = change(data)
        path.write_text(yaml.safe_dump(data if result is None else result, sort_keys=False))
        seal_bundle(bundle_copy)

    return edit
