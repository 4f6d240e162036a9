"""Training of the propensity models shipped in a bundle (needs the ``train`` extra).

``build_demo_models`` in :mod:`nextbest.training.demo` is the entry point; the other
modules are its parts: the feature list, the synthetic history, the scikit-learn
pipeline, and the ONNX export with its parity gate.
"""

__all__: list[str] = []
