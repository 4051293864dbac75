"""How much input context the network's outputs need: the margin a tile must have.

A convolutional network's output at a pixel depends on the input within its receptive
field; near a tile's edge part of that field is missing (the network pads with zeros), so
the output differs from what the whole scene would give. :func:`measure_context_px`
measures, on a fixed textured test image, the smallest margin ``d`` (model pixels) such that
cutting the input off at distance ``d`` around a block (zeros beyond, as at a tile's edge)
changes no heatmap probability inside the block by more than ``tol``. Detect then overlaps
tiles by at least ``2 d``: a tile's core lies half an overlap inside its window.

The weights' metadata stores it (:class:`~detector.model.weights.ModelMeta.context_px`,
set when weights are written); files without it get it measured on load
(:func:`model_context_px`, ~1 s on a CPU, once per process and file).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["CONTEXT_TOL", "measure_context_px", "model_context_px"]

#: largest change of a centre-heatmap probability accepted at the edge of the context
# 0.05 let one of ~120 boxes flip between tile sizes (mix3 weights: 64 px); 0.02 let 4 of 115
# flip on tests/detect/test_seams.py's flat scene (weights of 2026-12-05: 64 px; 0.01: 64 px;
# 0.005: 96 px and none, as at 80 px)
CONTEXT_TOL = 0.005
_BLOCK_PX = 64  # the block whose outputs are compared
_MAX_PX = 192  # largest margin tried
_STEP_PX = 16
_cache: dict[str, int] = {}


def _test_image(size_px: int, seed: int = 0) -> np.ndarray:
    """float32 [3, size, size] in 0..1: value noise summed over scales 2..64 px, so that
    edges, blobs and flat areas alike drive the network."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.zeros((3, size_px, size_px), np.float32)
    for k, cell in enumerate((2, 4, 8, 16, 32, 64)):
        n = -(-size_px // cell) + 1
        coarse = rng.random((3, n, n)).astype(np.float32)
        for c in range(3):
            up = cv2.resize(coarse[c], (n * cell, n * cell), interpolation=cv2.INTER_LINEAR)
            img[c] += up[:size_px, :size_px] * (0.5 ** (k / 2))
    img -= img.min()
    img /= img.max()
    return img


def measure_context_px(
    module: nn.Module,
    *,
    tol: float = CONTEXT_TOL,
    align_px: int | None = None,
    seeds: tuple[int, ...] = (0, 1),
) -> int:
    """Smallest margin (model pixels, a multiple of 16, at most 192) around a 64 px block at
    which zeroing all input beyond it changes the block's heatmap probabilities by at most
    ``tol`` (see the module docstring), the largest over test images of ``seeds``.
    ``module``: a :class:`~detector.model.net.CCNet` (any device); the block sits on the
    network's stride grid (``align_px``, default its ``pad_multiple``), as detect's aligned
    tiles do."""
    return max(_context_on(module, tol, align_px, seed) for seed in seeds)


def _context_on(module: nn.Module, tol: float, align_px: int | None, seed: int) -> int:
    a = int(align_px or getattr(module, "pad_multiple", 32))
    b, m = _BLOCK_PX, _MAX_PX
    size = -(-(b + 2 * m) // a) * a
    c0 = (size - b) // 2 // a * a
    x = torch.from_numpy(_test_image(size, seed))[None]
    dev = next(module.parameters()).device
    s = slice(c0 // 2, (c0 + b) // 2)
    was = module.training
    module.eval()

    def centre(img: torch.Tensor) -> torch.Tensor:
        hm = module(img.to(dev))["heatmap"].float()
        return torch.sigmoid(hm).amax(1)[0, s, s].cpu()

    def ok(d: int) -> bool:  # the block's outputs within tol with input cut at margin d
        y = torch.zeros_like(x)
        win = np.s_[..., c0 - d : c0 + b + d, c0 - d : c0 + b + d]
        y[win] = x[win]
        return float((centre(y) - ref).abs().max()) <= tol

    try:
        with torch.inference_mode():
            ref = centre(x)
            lo, hi = 0, m // _STEP_PX  # bisection on margins k * step (ok(hi * step) assumed)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if ok(mid * _STEP_PX) else (mid, hi)
    finally:
        module.train(was)
    return hi * _STEP_PX


def model_context_px(module: nn.Module, meta) -> int:
    """The context the weights' metadata states, else measured (:func:`measure_context_px`,
    remembered per state hash for the process)."""
    stated = getattr(meta, "context_px", None)
    if stated is not None:
        return int(stated)
    key = getattr(meta, "state_sha256", "") or str(id(module))
    if key not in _cache:
        _cache[key] = measure_context_px(module)
    return _cache[key]
