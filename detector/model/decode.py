"""Turn the network's stride-2 maps into oriented container detections and ship masks.

Peaks are local maxima of the class-max centre heatmap (a cell equal to the 3x3 max-pool of
its neighbourhood) with score >= ``score_thresh``. Every peak becomes a detection: there is
no top-k cap and no IoU suppression between neighbours, because containers touch (their
centres are >= 3 cells apart at the canonical GSD, so each keeps its own peak). Everything
runs vectorised in torch on the outputs' device; one transfer to the CPU at the end.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..detections import Detections
from .targets import STRIDE

__all__ = ["DEFAULT_SCORE_THRESH", "decode", "decode_masks", "find_peaks"]

# Chosen on validation scenes (synth scene seeds 60010-60013, never trained on) as the
# threshold where count error crosses zero and F1 peaks; see README "Measured numbers".
DEFAULT_SCORE_THRESH = 0.42


def _max3x3(score: torch.Tensor) -> torch.Tensor:
    """3x3 maximum of [B, h, w] (edges padded with -inf): max_pool2d's values, separably, in
    a fraction of its time on the CPU."""
    p = F.pad(score, (1, 1, 1, 1), value=float("-inf"))
    rows = torch.maximum(torch.maximum(p[..., :-2], p[..., 1:-1]), p[..., 2:])
    return torch.maximum(torch.maximum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])


def find_peaks(heatmap_logits: torch.Tensor, *, score_thresh: float) -> tuple[torch.Tensor, ...]:
    """Peaks of ``heatmap_logits`` [B, K, h, w] (logits).

    Returns ``(b, i, j, kind, score)``, each [N], sorted by image then row-major cell.
    """
    prob = torch.sigmoid(heatmap_logits.float())
    score = prob.amax(dim=1)  # [B, h, w]
    peak = (score == _max3x3(score)) & (score >= score_thresh)
    # Ties: two neighbouring cells can both equal their 3x3 max only if their scores are
    # equal (a plateau; likely with float16/bfloat16 outputs). Keep the one with the largest
    # cell index among neighbouring peaks, so a plateau gives one detection. Checked on the
    # few peaks only, not with another pass over the whole map.
    h, w = score.shape[-2:]
    b, i, j = peak.nonzero(as_tuple=True)
    cell = (b * h + i) * w + j  # ascending (row-major nonzero)
    beaten = torch.zeros_like(cell, dtype=torch.bool)
    for di, dj in ((0, 1), (1, -1), (1, 0), (1, 1)):  # neighbours with a larger cell index
        ni, nj = i + di, j + dj
        inside = (ni < h) & (nj >= 0) & (nj < w)
        beaten |= inside & torch.isin((b * h + ni) * w + nj, cell)
    b, i, j = b[~beaten], i[~beaten], j[~beaten]
    kind = prob[b, :, i, j].argmax(dim=1)  # ties: the first class, as max(dim) gives
    return b, i, j, kind, score[b, i, j]


def decode(
    outputs: dict[str, torch.Tensor], *, score_thresh: float = DEFAULT_SCORE_THRESH
) -> list[Detections]:
    """Detections per image from :meth:`CCNet.forward` outputs (dict of [B, C, h, w]).

    Returns a list of B :class:`Detections` in input-image pixels (the stride-2 cell ``(i, j)``
    with offset ``(dx, dy)`` has centre ``((j + dx) * 2, (i + dy) * 2)``); ``score`` is the
    peak's class probability, ``kind`` its argmax class, ``tiers`` the raw tiers channel
    (what it means depends on the weights: :func:`.tiers.tiers_from_output`). If the
    predicted width exceeds the length the two swap and the angle turns by 90 degrees, so
    ``length_px >= width_px`` always.
    """
    hm = outputs["heatmap"]
    batch = hm.shape[0]
    b, i, j, kind, score = find_peaks(hm, score_thresh=score_thresh)

    def at(name: str) -> torch.Tensor:
        return outputs[name][b, :, i, j].float()  # [N, C]; only the peaks' cells converted

    off, size, ang, tiers = at("offset"), at("size"), at("angle"), at("tiers")
    cx = (j.float() + off[:, 0]) * STRIDE
    cy = (i.float() + off[:, 1]) * STRIDE
    length = torch.exp(size[:, 0].clamp(max=8.0))
    width = torch.exp(size[:, 1].clamp(max=8.0))
    angle = 0.5 * torch.atan2(ang[:, 0], ang[:, 1])
    swap = width > length
    length, width = torch.where(swap, width, length), torch.where(swap, length, width)
    angle = torch.remainder(angle + swap.float() * (math.pi / 2), math.pi)
    cols = torch.stack([cx, cy, length, width, angle, kind.float(), score, tiers[:, 0]], dim=1)
    counts = torch.bincount(b, minlength=batch).tolist()
    table = cols.detach().cpu().double().numpy()
    out: list[Detections] = []
    start = 0
    for n in counts:
        t = table[start : start + n]
        start += n
        ang_np = np.where(t[:, 4] >= np.pi, 0.0, t[:, 4])
        out.append(
            Detections(
                cx=t[:, 0],
                cy=t[:, 1],
                length_px=t[:, 2],
                width_px=t[:, 3],
                angle_rad=ang_np,
                kind=t[:, 5].round().astype(np.int8),
                score=t[:, 6].astype(np.float32),
                tiers=t[:, 7].astype(np.float32),
            )
        )
    return out


def decode_masks(
    outputs: dict[str, torch.Tensor], *, output_size: tuple[int, int] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hull and bridge probabilities, float32 [B, h, w] each on the outputs' device.

    At stride 2 (cell ``(i, j)`` covers input pixels ``[2j, 2j+2) x [2i, 2i+2)``) unless
    ``output_size=(H, W)`` asks for input-pixel resolution (bilinear upsampling, cropped).
    """
    hull = torch.sigmoid(outputs["hull"].float())
    bridge = torch.sigmoid(outputs["bridge"].float())
    if output_size is not None:
        height, width = output_size
        both = torch.cat([hull, bridge], dim=1)
        h2, w2 = both.shape[-2] * STRIDE, both.shape[-1] * STRIDE
        both = F.interpolate(both, size=(h2, w2), mode="bilinear", align_corners=False)
        both = both[:, :, :height, :width]
        hull, bridge = both[:, 0:1], both[:, 1:2]
    return hull[:, 0], bridge[:, 0]
