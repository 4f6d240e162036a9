"""The bundle manifest: name, version and a SHA-256 checksum of every file the bundle uses."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import msgspec

from nextbest.bundle._schema import ManifestFile
from nextbest.errors import BundleError

__all__ = ["MANIFEST_NAME", "checksum", "read_manifest", "verify_manifest", "write_manifest"]

MANIFEST_NAME = "manifest.json"


def checksum(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_manifest(root: Path, name: str, version: str, files: Iterable[str]) -> ManifestFile:
    """Write `manifest.json` for `files` (paths relative to `root`), sorted for reproducibility."""
    manifest = ManifestFile(
        name=name,
        version=version,
        files={f: checksum((root / f).read_bytes()) for f in sorted(set(files))},
    )
    encoded = msgspec.json.format(msgspec.json.encode(manifest), indent=2)
    (root / MANIFEST_NAME).write_bytes(encoded + b"\n")
    return manifest


def read_manifest(data: bytes | None) -> ManifestFile:
    if data is None:
        raise BundleError(MANIFEST_NAME, None, "file is missing; run `nextbest seal`")
    try:
        return msgspec.json.decode(data, type=ManifestFile)
    except msgspec.DecodeError as exc:
        raise BundleError(MANIFEST_NAME, None, str(exc)) from exc


def verify_manifest(
    manifest: ManifestFile, name: str, version: str, files: Mapping[str, bytes]
) -> None:
    """Every file the bundle uses is listed, and the bytes read match the listed checksum."""
    if manifest.name != name:
        raise BundleError(
            MANIFEST_NAME, "name", f"{manifest.name!r} differs from bundle.yaml {name!r}"
        )
    if manifest.version != version:
        raise BundleError(
            MANIFEST_NAME, "version", f"{manifest.version!r} differs from bundle.yaml {version!r}"
        )
    for file in sorted(files):
        listed = manifest.files.get(file)
        if listed is None:
            raise BundleError(MANIFEST_NAME, f"files.{file}", "not listed; run `nextbest seal`")
        if listed != checksum(files[file]):
            raise BundleError(
                file, None, "checksum differs from manifest.json (changed after sealing?)"
            )
