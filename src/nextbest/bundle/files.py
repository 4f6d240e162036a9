"""A bundle directory's files: their names, and their bytes read once.

The loader checks every file against the manifest and parses it from the same bytes, so
an edit racing a reload can never serve old content under new checksums.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nextbest.bundle._schema import BundleFile, ModelsFile, OffersFile
from nextbest.bundle.manifest import MANIFEST_NAME
from nextbest.errors import BundleError
from nextbest.experiments import EXPERIMENTS_FILE
from nextbest.exploration.config import EXPLORATION_FILE
from nextbest.validation import convert_strict, refuse_duplicates
from nextbest.yaml_file import parse_yaml

__all__ = [
    "BUNDLE_FILE",
    "BUNDLE_FILES",
    "EXPERIMENTS_FILE",
    "EXPLORATION_FILE",
    "MODELS_FILE",
    "OFFERS_FILE",
    "POLICIES_FILE",
    "RULES_FILE",
    "WEIGHTS_FILE",
    "BundleSource",
    "parse_required",
    "parse_section",
    "read_bundle_file",
    "read_models_file",
    "read_offers_file",
    "referenced_files",
]

BUNDLE_FILE = "bundle.yaml"
OFFERS_FILE = "offers.yaml"
RULES_FILE = "rules.yaml"
WEIGHTS_FILE = "context_weights.yaml"
POLICIES_FILE = "policies.yaml"
MODELS_FILE = "models.yaml"
BUNDLE_FILES = (
    BUNDLE_FILE,
    OFFERS_FILE,
    RULES_FILE,
    WEIGHTS_FILE,
    POLICIES_FILE,
    MODELS_FILE,
    EXPLORATION_FILE,
    EXPERIMENTS_FILE,
)
_OPTIONAL = frozenset(
    {RULES_FILE, WEIGHTS_FILE, POLICIES_FILE, MODELS_FILE, EXPLORATION_FILE, EXPERIMENTS_FILE}
)

T = TypeVar("T")


def _read_bytes(root: Path, name: str) -> bytes | None:
    """The file's bytes; None when an optional file is absent."""
    path = root / name
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        if name in _OPTIONAL:
            return None
        raise BundleError(name, None, "file is missing") from None
    except OSError as exc:
        raise BundleError(name, None, f"cannot be read: {exc.strerror or exc}") from exc


def parse_section(data: bytes | None, name: str, shape: type[T], empty: T) -> T:
    """The file `name` parsed from `data` as `shape` (`empty` when the file is absent or
    empty)."""
    raw: Any = None if data is None else parse_yaml(data, name)
    return empty if raw is None else convert_strict(raw, shape, name)


def _models(data: bytes | None) -> ModelsFile:
    models = parse_section(data, MODELS_FILE, ModelsFile, ModelsFile())
    refuse_duplicates((m.id for m in models.models), MODELS_FILE, "models", "model")
    return models


@dataclass(frozen=True, slots=True)
class BundleSource:
    """Every file of one bundle directory, read once: the YAML files, the manifest and the
    model files `models.yaml` names."""

    root: Path
    files: Mapping[str, bytes]
    """Bundle file name (or model file path relative to the root) -> bytes."""
    manifest: bytes | None
    models: ModelsFile

    @classmethod
    def read(cls, root: Path) -> BundleSource:
        if not root.is_dir():
            raise BundleError(str(root), None, "bundle directory does not exist")
        files: dict[str, bytes] = {}
        for name in BUNDLE_FILES:
            data = _read_bytes(root, name)
            if data is not None:
                files[name] = data
        models = _models(files.get(MODELS_FILE))
        for position, m in enumerate(models.models):
            try:
                files[m.file] = (root / m.file).read_bytes()
            except OSError:
                raise BundleError(
                    MODELS_FILE, f"models[{position}].file", f"model file {m.file!r} is missing"
                ) from None
        manifest_path = root / MANIFEST_NAME
        manifest = manifest_path.read_bytes() if manifest_path.is_file() else None
        return cls(root, files, manifest, models)

    def get(self, name: str) -> bytes | None:
        return self.files.get(name)

    def section(self, name: str, shape: type[T], empty: T) -> T:
        """An optional file parsed as `shape`; `empty` when it is absent."""
        return parse_section(self.files.get(name), name, shape, empty)

    def required(self, name: str, shape: type[T]) -> T:
        return parse_required(self.files[name], name, shape)


def parse_required(data: bytes, name: str, shape: type[T]) -> T:
    return convert_strict(parse_yaml(data, name), shape, name)


def read_bundle_file(root: Path) -> BundleFile:
    return parse_required(_required(root, BUNDLE_FILE), BUNDLE_FILE, BundleFile)


def read_offers_file(root: Path) -> OffersFile:
    return parse_required(_required(root, OFFERS_FILE), OFFERS_FILE, OffersFile)


def _required(root: Path, name: str) -> bytes:
    data = _read_bytes(root, name)
    assert data is not None  # only optional files may be absent
    return data


def read_models_file(root: Path) -> ModelsFile:
    return _models(_read_bytes(root, MODELS_FILE))


def referenced_files(root: Path, models: ModelsFile) -> list[str]:
    present = [name for name in BUNDLE_FILES if (root / name).is_file()]
    return present + [m.file for m in models.models]
