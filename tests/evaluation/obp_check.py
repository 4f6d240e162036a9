"""Runs test_against_obp.py where obp imports only with help: in a scratch venv,

    python3 -m venv /tmp/obp-venv
    /tmp/obp-venv/bin/pip install --no-deps --ignore-requires-python obp==0.5.7
    /tmp/obp-venv/bin/pip install numpy scipy scikit-learn pandas tqdm matplotlib \
        seaborn pyyaml pytest
    PYTHONPATH=src /tmp/obp-venv/bin/python tests/evaluation/obp_check.py

torch (imported by obp.utils and obp.policy at import time, used by none of the
estimators compared) is replaced by a stub module."""

import sys
import types
from pathlib import Path

import pytest


class _Anything(type):
    def __getattr__(cls, attr: str) -> type:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Anything(attr, (), {})


for name in ("torch", "torch.nn", "torch.nn.functional", "torch.optim"):
    module = types.ModuleType(name)
    module.__getattr__ = lambda attr: _Anything(attr, (), {})
    module.Tensor = type("Tensor", (), {})
    module.Module = type("Module", (), {})
    sys.modules[name] = module

sys.exit(
    pytest.main(
        [
            "-q",
            "--noconftest",
            "-c",
            "/dev/null",
            "-p",
            "no:cacheprovider",
            str(Path(__file__).with_name("test_against_obp.py")),
        ]
    )
)
