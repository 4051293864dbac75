"""Weights files: a state dict plus the metadata that says how to use it, checked on load.

File format (``torch.save`` of a plain dict, loadable with ``weights_only=True``)::

    {"format": "ccount-weights/1", "meta": {...ModelMeta fields...}, "state_dict": {...}}

``meta["state_sha256"]`` is the SHA-256 of the state dict's canonical bytes (for each tensor
in key order: name, dtype, shape, raw little-endian bytes), so a tampered or truncated
tensor is caught even if the pickle still loads. :func:`file_sha256` hashes the whole file
(what outputs record as the model's provenance).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._io import atomic_path
from ..detections import KINDS
from ..errors import DeviceError, ModelError
from ..imagery.scene import DEFAULT_GSD_RANGE_M
from .net import ARCHITECTURES, build_model
from .tiers import TIERS_DIRECT, TIERS_OUTPUTS

__all__ = [
    "DEFAULT_GSD_RANGE_M",
    "FORMAT",
    "ModelMeta",
    "canonical_gsd_m",
    "file_sha256",
    "load_model",
    "read_meta",
    "resolve_device",
    "save_weights",
    "set_score_thresh",
    "state_sha256",
    "weights_id",
]

FORMAT = "ccount-weights/1"
#: How inputs must be prepared; stored in every file and checked by nothing but people.
DEFAULT_NORMALISATION: dict[str, Any] = {
    "bands": "RGB (3 bands; 1-based scene bands chosen by the reader)",
    "scale": "float32 0..1 after the per-scene percentile stretch (raster.Stretch)",
    "mean": [0.0, 0.0, 0.0],
    "std": [1.0, 1.0, 1.0],
}


def canonical_gsd_m() -> float:
    """The model frame's GSD in metres (``detector.imagery.raster.CANONICAL_GSD_M``)."""
    from ..imagery.raster import CANONICAL_GSD_M

    return float(CANONICAL_GSD_M)


@dataclass(frozen=True)
class ModelMeta:
    """What a weights file says about itself.

    ``arch``/``arch_kwargs``: builder name in :data:`~detector.model.net.ARCHITECTURES` and
    its keyword arguments; ``classes``: heatmap class names in order; ``gsd_m``: canonical
    metres per pixel of the input; ``normalisation``: how inputs are scaled; ``recipe``:
    training configuration (seed, steps, batch, lr, sample generator version, init, labels);
    ``metrics``: measured quality (filled after evaluation); ``train_time_s``/``hardware``:
    how long and on what it trained; ``code_version``: package version and git commit;
    ``state_sha256``: hash of the state dict (set by :func:`save_weights`);
    ``tiers_output``: what the tiers channel predicts (:mod:`.tiers`; files without the field
    predate it and regress tiers directly); ``gsd_range_m``: the native scene GSDs (metres,
    low and high) the model supports once resampled to ``gsd_m`` (files without the field:
    :data:`DEFAULT_GSD_RANGE_M`, what the shipped model was trained and tested on);
    ``context_px``: input pixels the outputs need on every side (:mod:`.context`; detect
    overlaps tiles by at least twice it; files without it get it measured on load);
    ``score_thresh``: the detection threshold chosen for these weights on a validation set
    (``scripts/calibrate_threshold.py``; detect's default; files without it:
    :data:`~detector.model.decode.DEFAULT_SCORE_THRESH`).
    """

    arch: str
    arch_kwargs: dict[str, Any]
    classes: tuple[str, ...] = KINDS
    gsd_m: float = 0.4
    output_stride: int = 2
    normalisation: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_NORMALISATION))
    recipe: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    train_time_s: float = 0.0
    hardware: str = ""
    code_version: str = ""
    created_utc: str = ""
    state_sha256: str = ""
    format: str = FORMAT
    tiers_output: str = TIERS_DIRECT
    gsd_range_m: tuple[float, float] = DEFAULT_GSD_RANGE_M
    context_px: int | None = None
    score_thresh: float | None = None
    score_thresh_tta: float | None = None  # calibrated for the mirrored passes (detect --tta)

    @property
    def detect_thresh(self) -> float:
        """The detection score threshold these weights are used at by default."""
        from .decode import DEFAULT_SCORE_THRESH

        return DEFAULT_SCORE_THRESH if self.score_thresh is None else float(self.score_thresh)

    def detect_thresh_for(self, tta: bool) -> float:
        """The default threshold of a run with or without ``--tta``: the averaged passes
        score lower, so they have their own when one was calibrated (else the plain one)."""
        if tta and self.score_thresh_tta is not None:
            return float(self.score_thresh_tta)
        return self.detect_thresh

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["classes"] = list(self.classes)
        d["gsd_range_m"] = list(self.gsd_range_m)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelMeta:
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in d.items() if k in names}
        if "classes" in known:
            known["classes"] = tuple(known["classes"])
        for key in ("score_thresh", "score_thresh_tta"):
            st = known.get(key)
            if st is not None and not 0.0 < float(st) < 1.0:
                raise ValueError(f"{key} {st!r}: expected a number between 0 and 1")
        if "gsd_range_m" in known:
            rng = tuple(float(x) for x in known["gsd_range_m"])
            if len(rng) != 2:
                raise ValueError(f"gsd_range_m {known['gsd_range_m']!r}: expected [low, high]")
            known["gsd_range_m"] = rng
        return cls(**known)


def state_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 hex of a state dict's canonical bytes (see the module docstring)."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex of a file's bytes (for provenance records)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_id(path: str | os.PathLike) -> str:
    """12 hex digits that name a weights file's network (its state hash: the same after
    ``set_score_thresh``, so predictions cached below a floor stay valid), e.g. as the key
    of a folder of cached predictions."""
    return (read_meta(path).state_sha256 or file_sha256(path))[:12]


def save_weights(path: str | os.PathLike, model: nn.Module, meta: ModelMeta) -> ModelMeta:
    """Write ``model``'s weights with ``meta`` atomically; returns meta with the hash set."""
    state = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    meta = dataclasses.replace(meta, state_sha256=state_sha256(state))
    payload = {"format": FORMAT, "meta": meta.to_dict(), "state_dict": state}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return meta


def set_score_thresh(
    path: str | os.PathLike, score_thresh: float, *, tta: bool = False
) -> ModelMeta:
    """Store a calibrated detection threshold in a weights file's metadata (atomically); the
    state dict and its hash are unchanged. ``tta``: the threshold of runs with the mirrored
    passes (``score_thresh_tta``), else the plain one. Returns the new metadata."""
    path = Path(path)
    if not 0.0 < float(score_thresh) < 1.0:
        raise ModelError(f"{path}: score threshold {score_thresh} must be between 0 and 1")
    payload = _load_payload(path)
    key = "score_thresh_tta" if tta else "score_thresh"
    old = ModelMeta.from_dict(payload["meta"])
    recipe = {k: v for k, v in old.recipe.items() if k != f"{key}_inherited"}  # measured now
    meta = dataclasses.replace(old, recipe=recipe, **{key: round(float(score_thresh), 4)})
    payload["meta"] = meta.to_dict()
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return meta


def _load_payload(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelError(
            f"{path}: weights file not found; pass --model PATH or train one with "
            "`ccount train --out PATH`"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors all mean "not a usable file"
        raise ModelError(f"{path}: not a readable weights file (corrupt or truncated): {e}") from e
    if not isinstance(payload, dict) or not {"format", "meta", "state_dict"} <= payload.keys():
        raise ModelError(f"{path}: not a ccount weights file (no format/meta/state_dict)")
    if payload["format"] != FORMAT:
        raise ModelError(
            f"{path}: weights format {payload['format']!r}, this code reads {FORMAT!r}"
        )
    return payload


def read_meta(path: str | os.PathLike) -> ModelMeta:
    """The metadata of a weights file (format checked, weights not verified)."""
    path = Path(path)
    payload = _load_payload(path)
    try:
        return ModelMeta.from_dict(payload["meta"])
    except (TypeError, ValueError) as e:
        raise ModelError(f"{path}: bad metadata: {e}") from e


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when present else CPU; ``"cpu"``/``"cuda"``/``"cuda:N"`` as given.

    Raises :class:`~detector.errors.DeviceError` for an unknown name or CUDA without a GPU.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise DeviceError(f"unknown device {device!r}; use auto, cpu or cuda") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            f"device {device!r} requested but CUDA is not available; use --device cpu"
        )
    if dev.type not in ("cpu", "cuda"):
        raise DeviceError(f"device {device!r} is not supported; use auto, cpu or cuda")
    return dev


def load_model(
    path: str | os.PathLike | None = None, *, device: str | torch.device = "cpu"
) -> tuple[nn.Module, ModelMeta]:
    """Load a weights file (default: ``models/ccount-centernet.pt``) into an eval-mode model.

    Checks the format, the architecture name, the classes, the canonical GSD and the state
    hash; any mismatch or corruption raises :class:`~detector.errors.ModelError` naming the
    file. ``device`` is "cpu", "cuda", "auto" or a torch device.
    """
    from ..paths import default_model_path

    dev = resolve_device(device)
    path = Path(path) if path is not None else default_model_path()
    meta = read_meta(path)
    state = _load_payload(path)["state_dict"]
    if meta.arch not in ARCHITECTURES:
        raise ModelError(
            f"{path}: architecture {meta.arch!r} unknown to this code (knows {sorted(ARCHITECTURES)})"
        )
    if tuple(meta.classes) != KINDS:
        raise ModelError(f"{path}: classes {list(meta.classes)}, expected {list(KINDS)}")
    gsd = canonical_gsd_m()
    if abs(float(meta.gsd_m) - gsd) > 1e-9:
        raise ModelError(f"{path}: trained at GSD {meta.gsd_m} m, this code runs at {gsd} m")
    if meta.tiers_output not in TIERS_OUTPUTS:
        raise ModelError(
            f"{path}: tiers output {meta.tiers_output!r} unknown to this code (knows {list(TIERS_OUTPUTS)})"
        )
    lo, hi = (float(x) for x in meta.gsd_range_m)
    if not (0 < lo <= meta.gsd_m <= hi):
        raise ModelError(f"{path}: GSD range {lo}-{hi} m must hold its GSD {meta.gsd_m} m")
    if not isinstance(state, dict) or state_sha256(state) != meta.state_sha256:
        raise ModelError(f"{path}: weights hash does not match its metadata (altered or corrupt)")
    try:
        model = build_model(meta.arch, **meta.arch_kwargs)
        model.load_state_dict(state, strict=True)
    except (TypeError, RuntimeError, ValueError) as e:
        msg = " ".join(str(e).split())[:300]
        raise ModelError(f"{path}: weights do not fit {meta.arch} {meta.arch_kwargs}: {msg}") from e
    return model.eval().to(dev), meta
