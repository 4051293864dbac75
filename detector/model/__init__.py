"""The container detector: network, targets, losses, decoding, weights files, training, export.

Modules (import the one you need; importing this package imports nothing heavy):

- :mod:`.net` -- :class:`CCNet` (CenterNet-style, stride-2 outputs), builders, BN folding
- :mod:`.targets` -- encode containers and masks into training targets; D4 augmentation
- :mod:`.losses` -- focal + L1 + BCE losses
- :mod:`.decode` -- peaks -> :class:`~detector.detections.Detections`; hull/bridge maps
- :mod:`.weights` -- save/load weights with checked metadata (:class:`ModelMeta`)
- :mod:`.data` -- sample pool, augmentation, batching
- :mod:`.labelset` -- training windows from GeoJSON / COCO label sets and their scenes
- :mod:`.validate` -- quick held-out scoring during training
- :mod:`.config` -- :class:`TrainConfig`, what determines a training run (no torch)
- :mod:`.train` -- :func:`train` from synthetic samples and label sets
- :mod:`.checkpoint` -- resumable training: the loop's whole state, chunks, Ctrl-C
- :mod:`.provenance` -- generator/code versions, hardware, weights written with the recipe
- :mod:`.card` -- Markdown model card from a weights file's metadata
- :mod:`.export` -- ONNX / TorchScript export
- :mod:`.context` -- the input context the outputs need (detect's minimum tile overlap)
"""

__all__: list[str] = []
