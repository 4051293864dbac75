"""Training targets for :class:`~detector.model.net.CCNet`, and the D4 augmentations of a sample.

Frame: the input image is ``H x W`` pixels (tile pixels at the canonical GSD, pixel
``(r, c)`` covers ``[c, c+1) x [r, r+1)``); targets live on the stride-2 output grid of
``h = ceil(H/2)`` rows by ``w = ceil(W/2)`` columns, cell ``(i, j)`` covering input pixels
``[2j, 2j+2) x [2i, 2i+2)``.

A container with centre ``(cx, cy)`` owns the cell ``(i, j) = (floor(cy/2), floor(cx/2))``.
Its heatmap target is an isotropic Gaussian centred on that cell (value exactly 1 there) with
standard deviation ``width_px / 2 / 5`` cells (at least :data:`MIN_SIGMA_CELLS`), about 0.6
cells for a container at the canonical GSD, so side-by-side neighbours 3 cells apart keep
separate peaks. Isotropic on purpose: a long, narrow Gaussian sampled on the grid at an
oblique angle breaks into several local maxima along its ridge (false peaks on every 40ft
container); with isotropic Gaussians combined by maximum, the only local maxima are the
centres. The owning cell also carries the regression targets: offset
``(cx/2 - j, cy/2 - i)``, ``log length_px, log width_px``, ``(sin 2a, cos 2a)`` and the
stack height.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..detections import Detections
from .slots import slot_weight_map
from .tiers import TIERS_DIRECT, shadow_target, sun_usable

__all__ = [
    "MIN_SIGMA_CELLS",
    "STRIDE",
    "Targets",
    "encode_targets",
    "output_size",
    "d4_transform",
]

STRIDE = 2
MIN_SIGMA_CELLS = 0.5
_SIGMA_PER_WIDTH = 1.0 / 5.0


def output_size(height: int, width: int) -> tuple[int, int]:
    """Stride-2 output grid ``(h, w) = (ceil(H/2), ceil(W/2))`` for an ``H x W`` input."""
    return (height + STRIDE - 1) // STRIDE, (width + STRIDE - 1) // STRIDE


@dataclass(frozen=True)
class Targets:
    """Dense targets on the stride-2 grid of one image (all numpy, ``h x w`` cells).

    ``heatmap`` float32 [2, h, w] (class 0 = 20ft, 1 = 40ft); ``pos`` bool [h, w] (cells that
    own a centre); ``offset`` float32 [2, h, w] (dx, dy in cells, 0..1); ``size`` float32
    [2, h, w] (log length_px, log width_px); ``angle`` float32 [2, h, w] (sin 2a, cos 2a);
    ``tiers`` float32 [1, h, w]; regression maps are zero off ``pos``. ``hull``/``bridge``
    float32 [h, w]: fraction of the cell's input pixels inside the mask; ``hull_known`` /
    ``bridge_known`` say whether those masks are labelled at all (a label set without ships
    has neither); ``tiers_known`` whether ``tiers`` holds targets (a shadow target needs the
    sun). ``known``: float32 [h, w] share of each cell inside reviewed area (a reviewed label
    set's loss mask: the heatmap loss counts a cell by that weight), or None = all known.
    ``neg_weight``: extra weight of the heatmap's negatives at empty slots beside containers
    (:mod:`.slots`), or None.
    """

    heatmap: np.ndarray
    pos: np.ndarray
    offset: np.ndarray
    size: np.ndarray
    angle: np.ndarray
    tiers: np.ndarray
    hull: np.ndarray
    bridge: np.ndarray
    hull_known: bool
    bridge_known: bool
    tiers_known: bool = True
    known: np.ndarray | None = None
    neg_weight: np.ndarray | None = None  # float32 [h, w]: weight of negatives (.slots); None = 1


def _cell_fraction(mask: np.ndarray | None, h: int, w: int) -> np.ndarray:
    """Mean of a bool [H, W] mask over each 2x2 cell -> float32 [h, w] (zeros if None)."""
    if mask is None:
        return np.zeros((h, w), np.float32)
    m = np.zeros((h * STRIDE, w * STRIDE), np.float32)
    m[: mask.shape[0], : mask.shape[1]] = mask
    return m.reshape(h, STRIDE, w, STRIDE).mean(axis=(1, 3), dtype=np.float32)


def encode_targets(
    dets: Detections,
    *,
    height: int,
    width: int,
    hull_mask: np.ndarray | None = None,
    bridge_mask: np.ndarray | None = None,
    tiers_output: str = TIERS_DIRECT,
    sun_elevation_deg: float | None = None,
    known_mask: np.ndarray | None = None,
    slot_negatives: float = 0.0,
) -> Targets:
    """Encode the visible containers of ``dets`` (tile pixels) for an ``height x width`` image.

    Containers whose centre lies outside the image, or that are not ``visible``, get no
    target. ``hull_mask``/``bridge_mask`` are bool [H, W] or None (unlabelled).
    ``tiers_output`` says what the tiers channel learns (:mod:`.tiers`): stack tiers, or the
    log shadow length under a sun at ``sun_elevation_deg`` (no tiers target when unknown).
    ``known_mask``: bool [H, W], True where the image was reviewed (the loss ignores the
    rest); None = everything is known. ``slot_negatives`` > 0: the heatmap's negatives at
    the empty slots beside the visible containers weigh up to 1 + that (:mod:`.slots`).
    """
    h, w = output_size(height, width)
    heat = np.zeros((2, h, w), np.float32)
    pos = np.zeros((h, w), bool)
    offset = np.zeros((2, h, w), np.float32)
    size = np.zeros((2, h, w), np.float32)
    angle = np.zeros((2, h, w), np.float32)
    tiers = np.zeros((1, h, w), np.float32)
    tiers_known = tiers_output == TIERS_DIRECT or sun_usable(sun_elevation_deg)
    keep = (
        dets.visible
        & (dets.cx >= 0)
        & (dets.cx < width)
        & (dets.cy >= 0)
        & (dets.cy < height)
        & (dets.length_px > 0)
        & (dets.width_px > 0)
    )
    d = dets.select(keep)
    if len(d):
        gx, gy = d.cx / STRIDE, d.cy / STRIDE  # centre in cell units
        j = np.clip(np.floor(gx).astype(np.int64), 0, w - 1)
        i = np.clip(np.floor(gy).astype(np.int64), 0, h - 1)
        _draw_gaussians(heat, i, j, d)
        pos[i, j] = True
        offset[0, i, j] = gx - j
        offset[1, i, j] = gy - i
        size[0, i, j] = np.log(np.maximum(d.length_px, 1e-3))
        size[1, i, j] = np.log(np.maximum(d.width_px, 1e-3))
        angle[0, i, j] = np.sin(2 * d.angle_rad)
        angle[1, i, j] = np.cos(2 * d.angle_rad)
        if tiers_output == TIERS_DIRECT:
            tiers[0, i, j] = np.maximum(d.tiers, 1.0)
        elif tiers_known:
            tiers[0, i, j] = shadow_target(d.tiers, sun_elevation_deg)
    return Targets(
        heatmap=heat,
        pos=pos,
        offset=offset,
        size=size,
        angle=angle,
        tiers=tiers,
        hull=_cell_fraction(hull_mask, h, w),
        bridge=_cell_fraction(bridge_mask, h, w),
        hull_known=hull_mask is not None,
        bridge_known=bridge_mask is not None,
        tiers_known=tiers_known,
        known=None if known_mask is None else _cell_fraction(known_mask, h, w),
        neg_weight=None
        if slot_negatives <= 0
        else slot_weight_map(dets, d, h=h, w=w, stride=STRIDE, extra=slot_negatives),
    )


def _draw_gaussians(heat: np.ndarray, i: np.ndarray, j: np.ndarray, d: Detections) -> None:
    """Max-combine one isotropic Gaussian per container into ``heat`` [2, h, w], vectorised."""
    _, h, w = heat.shape
    sigma = np.maximum(d.width_px / STRIDE * _SIGMA_PER_WIDTH, MIN_SIGMA_CELLS)
    r = int(np.ceil(3.0 * float(sigma.max())))
    off = np.arange(-r, r + 1)
    dy, dx = np.meshgrid(off, off, indexing="ij")  # [K, K]
    g = np.exp(-0.5 * (dx**2 + dy**2)[None] / (sigma**2)[:, None, None])  # [N, K, K]
    rows = i[:, None, None] + dy[None]
    cols = j[:, None, None] + dx[None]
    kind = np.broadcast_to(d.kind.astype(np.int64)[:, None, None], g.shape)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w) & (g > 1e-4)
    np.maximum.at(heat, (kind[inside], rows[inside], cols[inside]), g[inside].astype(np.float32))


def d4_transform(
    image: np.ndarray,
    dets: Detections,
    masks: tuple[np.ndarray | None, ...],
    *,
    transpose: bool,
    flip_x: bool,
    flip_y: bool,
) -> tuple[np.ndarray, Detections, tuple[np.ndarray | None, ...]]:
    """Apply one element of the dihedral group D4 to a sample (exact, no resampling).

    ``image`` [C, H, W]; ``dets`` in its pixels; ``masks`` bool [H, W] or None. Order:
    transpose (swap x and y) first, then mirror x (``x -> W - x``), then mirror y. Angles map
    as ``a -> pi/2 - a`` (transpose) and ``a -> pi - a`` (each mirror), folded into [0, pi).
    """
    cx, cy, a = dets.cx, dets.cy, dets.angle_rad
    img = image
    ms = list(masks)
    if transpose:
        img = img.transpose(0, 2, 1)
        ms = [None if m is None else m.T for m in ms]
        cx, cy, a = cy, cx, np.pi / 2 - a
    height, width = img.shape[1], img.shape[2]
    if flip_x:
        img = img[:, :, ::-1]
        ms = [None if m is None else m[:, ::-1] for m in ms]
        cx, a = width - cx, np.pi - a
    if flip_y:
        img = img[:, ::-1, :]
        ms = [None if m is None else m[::-1, :] for m in ms]
        cy, a = height - cy, np.pi - a
    a = np.mod(a, np.pi)
    a = np.where(a >= np.pi, 0.0, a)
    out = Detections(**{**dets._asdict(), "cx": cx, "cy": cy, "angle_rad": a})
    ms_c = tuple(None if m is None else np.ascontiguousarray(m) for m in ms)
    return np.ascontiguousarray(img), out, ms_c
