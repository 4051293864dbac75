"""Extra heatmap-loss weight on the empty slots beside containers (``--slot-negatives``).

Most false containers of the shipped weights sit one slot beside a true one: the shadowed
floor of an empty slot between two stacks, or past a block's last row
(``scripts/false_containers.py``). Those cells are negatives in the focal loss like any
other, one cell among thousands. This map weighs them more: for every container, the two
slots beside it across its axis (centre one container width plus a gap away) that no
container covers get a Gaussian bump of ``extra`` on top of weight 1.

Only labels are used (no generator knowledge), so it works on reviewed label sets too.
"""

from __future__ import annotations

import numpy as np

from ..detections import Detections, box_offsets

__all__ = ["ACROSS_PITCH", "empty_slots", "slot_weight_map"]

#: Centre-to-centre distance of side-by-side slots, in container widths (2.44 m + ~0.3 m).
ACROSS_PITCH = 1.12
#: A slot centre is taken when it lies inside a container grown by this share of its width.
_PAD = 0.25
#: Standard deviation of a slot's bump, in container widths.
_SIGMA = 0.25


def empty_slots(dets: Detections, centres: Detections) -> np.ndarray:
    """[M, 2] (x, y) centres of the slots beside ``centres`` across their axes that none of
    ``dets`` (all containers, seen or not) covers; pixels of the image."""
    if not len(centres):
        return np.zeros((0, 2))
    ca, sa = np.cos(centres.angle_rad), np.sin(centres.angle_rad)
    step = ACROSS_PITCH * centres.width_px
    across = np.stack([-sa * step, ca * step], axis=1)  # [N, 2]
    centre = np.stack([centres.cx, centres.cy], axis=1)
    slots = np.concatenate([centre + across, centre - across])  # [2N, 2]
    if not len(dets):
        return slots
    along_d, across_d = box_offsets(  # [M, K]
        slots[:, None, 0] - dets.cx[None], slots[:, None, 1] - dets.cy[None], dets.angle_rad[None]
    )
    pad = _PAD * dets.width_px[None]
    covered = (along_d <= dets.length_px[None] / 2 + pad) & (
        across_d <= dets.width_px[None] / 2 + pad
    )
    return slots[~covered.any(axis=1)]


def slot_weight_map(
    dets: Detections, centres: Detections, *, h: int, w: int, stride: int, extra: float
) -> np.ndarray:
    """float32 [h, w] weights of the stride-``stride`` output grid: 1 everywhere, plus
    ``extra`` times a Gaussian (sd :data:`_SIGMA` widths) at each of :func:`empty_slots`
    (max-combined)."""
    out = np.ones((h, w), np.float32)
    slots = empty_slots(dets, centres)
    if extra <= 0 or not len(slots) or not len(centres):
        return out
    sigma = max(_SIGMA * float(np.median(centres.width_px)) / stride, 0.5)  # cells
    r = int(np.ceil(3 * sigma))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    bump = np.zeros((h, w), np.float32)
    for x, y in slots / stride:  # cell units; cell (i, j) spans [j, j+1) x [i, i+1)
        i0, j0 = int(np.floor(y)), int(np.floor(x))
        rows, cols = i0 + yy, j0 + xx
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        if not inside.any():
            continue
        g = np.exp(-0.5 * ((cols + 0.5 - x) ** 2 + (rows + 0.5 - y) ** 2) / sigma**2)
        np.maximum.at(bump, (rows[inside], cols[inside]), g[inside].astype(np.float32))
    return out + np.float32(extra) * bump
