"""nextbest: next-best-activity decisioning.

onnxruntime's wheels for Linux (1.32) send usage telemetry to Microsoft by default and keep
a device identifier under `~/.cache/Microsoft`, from the moment onnxruntime is imported.
A service that scores customers should not call a third party unasked, so nextbest turns
that off (`ORT_DISABLE_TELEMETRY=1`, read by onnxruntime when it is first imported)
unless the environment already says otherwise: `ORT_DISABLE_TELEMETRY=0` keeps
onnxruntime's default.
"""

import os

__all__ = ["__version__"]

__version__ = "0.1.0"

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
