"""Training of the propensity models shipped in a bundle (needs the ``train`` extra).

:func:`nextbest.training.train.train_model` is ``nextbest train``: spec (:mod:`.spec`),
history (:mod:`.history`), pipeline (:mod:`.pipeline`), evaluation (:mod:`.evaluate`),
ONNX export with its parity gate (:mod:`.export`), and writing into the bundle
(:mod:`.manifest`, :mod:`.writer`). :mod:`.demo` runs the same path on the demo's
synthetic history (:mod:`.synthetic`).
"""

__all__: list[str] = []
