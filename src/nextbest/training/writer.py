"""Writing a trained model into a bundle: staged, loaded by the service's own loader,
then installed.

The bundle's files are copied to a scratch directory, the model, its metrics,
``models.yaml`` and ``manifest.json`` are written there and the copy is loaded with
:func:`nextbest.bundle.load_bundle`. Only when that succeeds are the new files moved
into the bundle, each atomically, ``manifest.json`` last. Any failure leaves the bundle
as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from nextbest.bundle import BundleError, load_bundle, seal_bundle
from nextbest.bundle.files import MODELS_FILE, read_models_file, referenced_files
from nextbest.bundle.manifest import MANIFEST_NAME
from nextbest.training.errors import TrainingError
from nextbest.training.manifest import ModelEntry, merge_entry, render_manifest

__all__ = ["install_model", "write_atomically"]


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename; readable by the service user."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        Path(tmp).chmod(0o644)  # mkstemp makes 0600; shipped bundle files must be readable
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_model(bundle_dir: Path, entry: ModelEntry, files: Mapping[str, bytes]) -> None:
    """Write ``files`` (paths relative to the bundle) and ``entry`` into ``bundle_dir``'s
    ``models.yaml``, re-seal, and check that the service loads the result."""
    existing = read_models_file(bundle_dir)
    written = {**files, MODELS_FILE: render_manifest(merge_entry(existing, entry)).encode()}
    with tempfile.TemporaryDirectory(prefix="nextbest-train-") as scratch:
        staging = Path(scratch) / bundle_dir.name
        staging.mkdir()
        for name in referenced_files(bundle_dir, existing):
            source = bundle_dir / name
            if source.is_file():
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, staging / name)
        for name, data in written.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
        try:
            seal_bundle(staging)
            load_bundle(staging)
        except BundleError as exc:
            raise TrainingError(
                str(bundle_dir), None, f"the trained bundle would not load ({exc}); nothing written"
            ) from exc
        for name in [*written, MANIFEST_NAME]:
            write_atomically(bundle_dir / name, (staging / name).read_bytes())
