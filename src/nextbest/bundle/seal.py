"""`nextbest seal`: write the manifest of a bundle directory after editing it."""

from __future__ import annotations

from pathlib import Path

from nextbest.bundle._schema import ManifestFile, ModelsFile
from nextbest.bundle.files import read_bundle_file, read_models_file, referenced_files
from nextbest.bundle.manifest import write_manifest

__all__ = ["seal_bundle"]


def seal_bundle(root: Path) -> ManifestFile:
    """Checksum every file the bundle in `root` uses and write `manifest.json`."""
    meta = read_bundle_file(root)
    models: ModelsFile = read_models_file(root)
    return write_manifest(root, meta.name, meta.version, referenced_files(root, models))
