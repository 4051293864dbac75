"""Export the network to ONNX or TorchScript for use outside this package.

Both take the tuple-returning :class:`~detector.model.net.CCNetExport` wrapper of an
eval-mode model with BatchNorm folded into the convolutions. The exported graph maps
``image`` float32 [B, 3, H, W] 0..1 to ``(heatmap, size, angle, offset, tiers, hull,
bridge)`` at stride 2, exactly like :meth:`CCNet.forward`; decode its outputs with
:func:`detector.model.decode.decode` (after wrapping them in a dict with :func:`as_outputs`).
ONNX graphs have dynamic batch and, unless ``fixed_hw`` is given, dynamic H and W (multiples
of 32 are safest: the network pads internally). The weights' metadata travels with the file
(ONNX ``metadata_props``; TorchScript extra file ``meta.json``).
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._io import atomic_path, check_output_file
from ..errors import ConfigError, ModelError
from .net import HEAD_CHANNELS, CCNet, CCNetExport, fuse_batchnorm
from .weights import ModelMeta, file_sha256, load_model

__all__ = [
    "FORMATS",
    "OUTPUT_NAMES",
    "as_outputs",
    "export_model",
    "export_onnx",
    "export_torchscript",
]

FORMATS = ("onnx", "torchscript")
OUTPUT_NAMES = tuple(HEAD_CHANNELS)


def as_outputs(tensors) -> dict[str, torch.Tensor]:
    """Exported outputs (tuple/list of tensors or arrays, in :data:`OUTPUT_NAMES` order) -> dict."""
    return {name: torch.as_tensor(t) for name, t in zip(OUTPUT_NAMES, tensors, strict=True)}


def _prepared(model: nn.Module) -> CCNetExport:
    if not isinstance(model, CCNet):
        raise ModelError(f"can only export CCNet models, got {type(model).__name__}")
    m = fuse_batchnorm(copy.deepcopy(model).cpu().float())
    m.always_pad = True
    return CCNetExport(m).eval()


def _meta_json(meta: ModelMeta | None, source: str | None) -> str:
    d = meta.to_dict() if meta is not None else {}
    d["outputs"] = {k: v for k, v in HEAD_CHANNELS.items()}
    d["source_weights"] = source
    return json.dumps(d, sort_keys=True)


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    meta: ModelMeta | None = None,
    fixed_hw: tuple[int, int] | None = None,
    source: str | None = None,
) -> Path:
    """Write ``model`` as ONNX (opset 18) to ``path`` atomically; returns the path."""
    import onnx

    wrapped = _prepared(model)
    h, w = fixed_hw or (256, 256)
    x = torch.rand(1, 3, h, w)
    if fixed_hw is None:  # torch.export keeps the internal padding symbolic in H and W
        dims = {
            0: torch.export.Dim("batch", min=1, max=4096),
            2: torch.export.Dim("height", min=32, max=16384),
            3: torch.export.Dim("width", min=32, max=16384),
        }
        kwargs: dict[str, Any] = {"dynamo": True, "dynamic_shapes": {"x": dims}}
    else:  # the (much faster) tracing exporter: H and W are constants, batch stays dynamic
        axes = {"image": {0: "batch"}} | {name: {0: "batch"} for name in OUTPUT_NAMES}
        kwargs = {"dynamo": False, "dynamic_axes": axes}
    path = Path(path)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped,
            (x,),
            str(tmp),
            input_names=["image"],
            output_names=list(OUTPUT_NAMES),
            opset_version=18,
            verbose=False,
            **kwargs,
        )
        proto = onnx.load(str(tmp))
        onnx.checker.check_model(proto)
        entry = proto.metadata_props.add()
        entry.key, entry.value = "ccount_meta", _meta_json(meta, source)
        onnx.save(proto, str(tmp))
    return path


def export_torchscript(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    meta: ModelMeta | None = None,
    source: str | None = None,
) -> Path:
    """Write ``model`` as a scripted TorchScript module to ``path`` atomically."""
    wrapped = _prepared(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(wrapped)
    path = Path(path)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated upstream but still works
        torch.jit.save(scripted, str(tmp), _extra_files={"meta.json": _meta_json(meta, source)})
    return path


def export_model(
    out: str | os.PathLike,
    *,
    fmt: str,
    weights: str | os.PathLike | None = None,
    fixed_hw: tuple[int, int] | None = None,
) -> Path:
    """Load ``weights`` (default: the shipped model) and export it as ``fmt`` to ``out``."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if fmt != "onnx" and fixed_hw is not None:
        raise ConfigError("--fixed-size applies to ONNX only; TorchScript takes any size")
    check_output_file(out)  # before loading and tracing: a bad --out is one line, exit 2
    model, meta = load_model(weights, device="cpu")
    from ..paths import default_model_path

    src = Path(weights) if weights is not None else default_model_path()
    source = f"{src.name} sha256={file_sha256(src)}"
    if fmt == "onnx":
        return export_onnx(model, out, meta=meta, fixed_hw=fixed_hw, source=source)
    return export_torchscript(model, out, meta=meta, source=source)
