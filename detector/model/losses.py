"""Training losses for :class:`~detector.model.net.CCNet` against batched :class:`Targets`.

- centre heatmap: CenterNet's penalty-reduced focal loss (alpha 2, beta 4), normalised by the
  number of containers in the batch;
- offset, log size, (sin 2a, cos 2a), tiers: L1 at the cells that own a centre (tiers only
  on images whose tiers target is known, see :mod:`.tiers`);
- hull and bridge: binary cross-entropy on soft per-cell targets, on images where the mask is
  labelled.

All losses are computed in float32 (safe under CUDA autocast).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .targets import Targets

__all__ = [
    "LOSS_WEIGHTS",
    "TargetBatch",
    "check_loss_weights",
    "collate_targets",
    "focal_loss",
    "detection_loss",
    "parse_loss_weights",
]

#: Weight of each term in the total loss.
LOSS_WEIGHTS: dict[str, float] = {
    "heatmap": 1.0,
    "offset": 1.0,
    "size": 1.0,
    "angle": 1.0,
    "tiers": 0.2,
    "hull": 1.0,
    "bridge": 0.5,
}


def check_loss_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """``weights`` as a plain dict of loss terms (:data:`LOSS_WEIGHTS`) to the weights that
    replace theirs (>= 0, finite; terms not named keep theirs);
    :class:`~detector.errors.ConfigError` otherwise."""
    from ..synth.mixes import named_weights

    return named_weights("--loss-weights", "loss term", LOSS_WEIGHTS, weights)


def parse_loss_weights(text: str) -> dict[str, float]:
    """``"hull=4,bridge=2"`` -> ``{"hull": 4.0, "bridge": 2.0}`` (:func:`check_loss_weights`)."""
    from ..synth.mixes import parse_mix

    return parse_mix(text, option="--loss-weights", check=check_loss_weights)


@dataclass(frozen=True)
class TargetBatch:
    """:class:`Targets` of B images stacked into tensors on one device (same fields, [B, ...])."""

    heatmap: torch.Tensor
    pos: torch.Tensor
    offset: torch.Tensor
    size: torch.Tensor
    angle: torch.Tensor
    tiers: torch.Tensor
    hull: torch.Tensor
    bridge: torch.Tensor
    hull_known: torch.Tensor  # bool [B]
    bridge_known: torch.Tensor  # bool [B]
    tiers_known: torch.Tensor  # bool [B]
    known: torch.Tensor | None = None  # float32 [B, h, w] reviewed share; None = all known
    neg_weight: torch.Tensor | None = None  # float32 [B, h, w] negatives' weight; None = 1

    def to(self, device: torch.device | str) -> TargetBatch:
        return TargetBatch(
            **{
                k: None
                if getattr(self, k) is None
                else getattr(self, k).to(device, non_blocking=True)
                for k in self.__annotations__
            }
        )


def collate_targets(targets: Sequence[Targets]) -> TargetBatch:
    """Stack per-image :class:`Targets` (equal sizes) into a CPU :class:`TargetBatch`."""

    def st(name: str) -> torch.Tensor:
        return torch.from_numpy(np.stack([getattr(t, name) for t in targets]))

    known = None
    if any(t.known is not None for t in targets):
        known = torch.from_numpy(
            np.stack(
                [np.ones(t.pos.shape, np.float32) if t.known is None else t.known for t in targets]
            )
        )

    neg_weight = None
    if any(t.neg_weight is not None for t in targets):
        neg_weight = torch.from_numpy(
            np.stack(
                [
                    np.ones(t.pos.shape, np.float32) if t.neg_weight is None else t.neg_weight
                    for t in targets
                ]
            )
        )
    return TargetBatch(
        heatmap=st("heatmap"),
        pos=st("pos"),
        offset=st("offset"),
        size=st("size"),
        angle=st("angle"),
        tiers=st("tiers"),
        hull=st("hull"),
        bridge=st("bridge"),
        hull_known=torch.tensor([t.hull_known for t in targets]),
        bridge_known=torch.tensor([t.bridge_known for t in targets]),
        tiers_known=torch.tensor([t.tiers_known for t in targets]),
        known=known,
        neg_weight=neg_weight,
    )


def focal_loss(
    logits: torch.Tensor,
    gt: torch.Tensor,
    known: torch.Tensor | None = None,
    neg_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """CenterNet focal loss; ``logits`` and ``gt`` [B, K, h, w], gt 1 exactly at centres.
    ``known`` float [B, h, w]: each cell's weight (0 = unreviewed, not background); None =
    every cell counts fully. ``neg_weight`` float [B, h, w]: a further weight of the
    negatives only (the empty slots of :mod:`.slots`); None = 1."""
    logits = logits.float()
    pos = gt >= 1.0
    log_p = F.logsigmoid(logits)
    log_1mp = F.logsigmoid(-logits)
    p = torch.sigmoid(logits)
    pos_map = log_p * (1 - p) ** 2
    neg_map = log_1mp * p**2 * (1 - gt) ** 4
    if known is not None:
        wk = known.float()[:, None]
        pos_map, neg_map = pos_map * wk, neg_map * wk
    if neg_weight is not None:
        neg_map = neg_map * neg_weight.float()[:, None]
    pos_term = pos_map[pos].sum()
    neg_term = neg_map[~pos].sum()
    n_pos = pos.sum().clamp(min=1)
    return -(pos_term + neg_term) / n_pos


def _masked_l1(pred: torch.Tensor, target: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Mean L1 over the cells in ``pos`` [B, h, w] of [B, C, h, w] maps (summed over C)."""
    n = pos.sum()
    if n == 0:
        return pred.sum() * 0.0
    p = pred.float().permute(0, 2, 3, 1)[pos]
    t = target.permute(0, 2, 3, 1)[pos]
    return (p - t).abs().sum() / n


def _masked_bce(logits: torch.Tensor, target: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Mean BCE of [B, 1, h, w] logits vs [B, h, w] soft targets over images with ``known``."""
    if not bool(known.any()):
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logits[known, 0].float(), target[known])


def detection_loss(
    outputs: dict[str, torch.Tensor], t: TargetBatch, *, weights: dict[str, float] | None = None
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted total loss and its parts (as floats, for logging)."""
    w = LOSS_WEIGHTS if weights is None else weights
    parts = {
        "heatmap": focal_loss(outputs["heatmap"], t.heatmap, t.known, t.neg_weight),
        "offset": _masked_l1(outputs["offset"], t.offset, t.pos),
        "size": _masked_l1(outputs["size"], t.size, t.pos),
        "angle": _masked_l1(outputs["angle"], t.angle, t.pos),
        "tiers": _masked_l1(outputs["tiers"], t.tiers, t.pos & t.tiers_known[:, None, None]),
        "hull": _masked_bce(outputs["hull"], t.hull, t.hull_known),
        "bridge": _masked_bce(outputs["bridge"], t.bridge, t.bridge_known),
    }
    total = sum(w[k] * v for k, v in parts.items())
    return total, {k: float(v.detach()) for k, v in parts.items()}
