"""The crop verifier: a second look at each detection, as a small CNN over a crop of it.

The detector decides from a heatmap peak; the verifier sees a 64 x 32 px window of the model
frame (0.4 m: 25.6 x 12.8 m) centred on the box and turned so its long side lies along x,
plus the detector's score, and says whether a container is there. Trained on the detector's
own boxes (true when a visible true container lies within 1.25 m) and on boxes it finds on
look-alike scenes (buses, trucks, boxcars, hatch covers: all false), it removes phantoms in
empty slots and look-alikes the heatmap cannot tell apart (``docs/training.md``, "A second
look at each box"). A run with ``--verify`` keeps a box when its score >= ``score_thresh``
and the verifier's probability >= ``verify_thresh``; both are chosen together on validation
scenes and stored in the file.

File format (``torch.save`` of a plain dict, loadable with ``weights_only=True``)::

    {"format": "ccount-verifier/1", "meta": {...VerifierMeta fields...}, "state_dict": {...}}
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._io import atomic_path
from ..errors import ModelError

__all__ = [
    "CROP_HW",
    "VERIFIER_FORMAT",
    "VerifierMeta",
    "VerifierNet",
    "load_verifier",
    "save_verifier",
    "train_verifier",
]

VERIFIER_FORMAT = "ccount-verifier/1"
#: crop rows (across the box) x columns (along it), model-frame pixels
CROP_HW = (32, 64)


@dataclass(frozen=True)
class VerifierMeta:
    """How a verifier file is used and where it came from.

    ``score_thresh``/``verify_thresh``: the rule (keep a box scoring >= the first whose
    verifier probability is >= the second); ``trust_above``: a box scoring at least this is
    kept without a look (None: every box is looked at). ``widths``: the network's channels.
    ``detector_sha256``: the state hash of the detector whose boxes and scores it learned
    (another detector's scores mean something else: a run warns). ``training``: the recipe
    (crop sets with their sizes, steps, augmentation, seed) and the validation scores the
    rule was chosen on."""

    score_thresh: float
    verify_thresh: float
    trust_above: float | None = None
    widths: tuple[int, int, int] = (24, 48, 96)
    crop_hw: tuple[int, int] = CROP_HW
    gsd_m: float = 0.4
    detector_sha256: str = ""
    training: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["crop_hw"] = list(self.crop_hw)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VerifierMeta:
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in d.items() if k in names}
        known["crop_hw"] = tuple(int(v) for v in known.get("crop_hw", CROP_HW))
        if "widths" in known:
            known["widths"] = tuple(int(v) for v in known["widths"])
        for key in ("score_thresh", "verify_thresh"):
            if not 0.0 < float(known.get(key, -1)) < 1.0:
                raise ValueError(f"{key} {known.get(key)!r}: expected a number between 0 and 1")
        return cls(**known)


def _block(cin: int, cout: int, pool: bool) -> list[nn.Module]:
    layers = [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return layers + ([nn.MaxPool2d(2)] if pool else [])


class VerifierNet(nn.Module):
    """Six 3x3 convolutions over the crop (float [N, 3, 32, 64], 0..1), two at each of three
    ``widths`` with a 2x2 max-pool after each pair, pooled to 2 x 4 cells, joined with the
    detector's score; returns one logit per crop (0.2 M parameters at 24, 48, 96)."""

    def __init__(self, widths: tuple[int, int, int] = (24, 48, 96)) -> None:
        super().__init__()
        a, b, c = widths
        self.features = nn.Sequential(
            *_block(3, a, False), *_block(a, a, True), *_block(a, b, False),
            *_block(b, b, True), *_block(b, c, False), *_block(c, c, True),
            nn.AdaptiveAvgPool2d((2, 4)), nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Linear(c * 8 + 1, 64), nn.ReLU(inplace=True),
                                  nn.Linear(64, 1))  # fmt: skip

    def forward(self, x: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.features(x), score[:, None].to(x.dtype)], 1))[:, 0]


def save_verifier(path: str | os.PathLike, net: nn.Module, meta: VerifierMeta) -> None:
    """Write ``net``'s weights with ``meta`` atomically."""
    state = {k: v.detach().cpu().clone().contiguous() for k, v in net.state_dict().items()}
    payload = {"format": VERIFIER_FORMAT, "meta": meta.to_dict(), "state_dict": state}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_verifier(path: str | os.PathLike) -> tuple[VerifierNet, VerifierMeta]:
    """The network (eval mode, CPU) and metadata of a verifier file; :class:`ModelError`
    naming the file when it is missing, unreadable or not a verifier."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: verifier file not found; pass --verifier PATH or drop --verify")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors all mean "not a usable file"
        raise ModelError(f"{path}: not a readable verifier file (corrupt or truncated): {e}") from e
    if not isinstance(payload, dict) or payload.get("format") != VERIFIER_FORMAT:
        raise ModelError(f"{path}: not a ccount verifier file (format {VERIFIER_FORMAT!r})")
    try:
        meta = VerifierMeta.from_dict(payload["meta"])
        net = VerifierNet(meta.widths)
        net.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise ModelError(f"{path}: bad verifier file: {e}") from e
    return net.eval(), meta


def _augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float32 [B, 3, h, w] crops in 0..1: mirrored along and across (a box is symmetric
    both ways), brightness x0.8-1.2 and an offset of +-0.08."""
    b = len(x)
    flip_u = rng.random(b) < 0.5
    x[flip_u] = x[flip_u, :, :, ::-1]
    flip_v = rng.random(b) < 0.5
    x[flip_v] = x[flip_v, :, ::-1, :]
    x *= rng.uniform(0.8, 1.2, (b, 1, 1, 1)).astype(np.float32)
    x += rng.uniform(-0.08, 0.08, (b, 1, 1, 1)).astype(np.float32)
    return np.clip(x, 0, 1)


def train_verifier(
    crops: np.ndarray,
    score: np.ndarray,
    label: np.ndarray,
    *,
    steps: int = 3000,
    batch: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    widths: tuple[int, int, int] = (24, 48, 96),
    log=None,
) -> VerifierNet:
    """A verifier trained on uint8 ``crops`` [N, 3, h, w] with the detector's ``score`` [N]
    and ``label`` [N] (True: a container): binary cross-entropy, AdamW, a one-cycle schedule,
    batches drawn with replacement; the same inputs and seed give the same weights."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    score = np.asarray(score, np.float32)
    target = np.asarray(label, np.float32)
    net = VerifierNet(widths)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    net.train()
    for step in range(steps):
        idx = rng.integers(0, len(crops), batch)
        xb = _augment(crops[idx].astype(np.float32) / 255.0, rng)
        logit = net(torch.from_numpy(np.ascontiguousarray(xb)), torch.from_numpy(score[idx]))
        loss = nn.functional.binary_cross_entropy_with_logits(logit, torch.from_numpy(target[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if log is not None and (step % 500 == 0 or step == steps - 1):
            log(f"step {step}: loss {float(loss.detach()):.4f}")
    return net.eval()
