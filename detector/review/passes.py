"""The model's second look at a detect run's scenes: what the detection files lack.

A detect run writes only the detections at or above its threshold. Picking what to review
needs more, so each scene runs again through the same predictor and decoding
(:class:`~detector.detect.predictor.TorchPredictor`, :func:`~detector.detect.inference.infer_scene`)
twice, with a low peak floor (:data:`PEAK_FLOOR`):

- the *plain* pass: every heatmap peak down to the floor (the below-threshold ones are where
  missed containers show up);
- the *mirrored* pass: the tiles mirrored left-right, the detections mirrored back
  (``x -> W - x``, ``angle -> pi - angle``): where the two passes disagree the model is unsure.

The tiles overlap by the context the model needs (:func:`review_tiling`) and lie on the
world-anchored grid ``ccount detect`` tiles on, so the plain pass finds the detect run's
boxes wherever either's seams fall. A model loaded with the detect run's crop verifier
(``--verify``) gives each plain peak the verifier's probability (``Detections.verify``; NaN
where the file trusts the score).

Frames: detections in *model-frame pixels* of the scene (``SceneReader.grid``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..detect.inference import InferenceSettings, TileOutput, infer_scene
from ..detections import Detections

__all__ = ["PEAK_FLOOR", "MirroredPredictor", "ReviewModel", "ScenePasses", "load_review_model", "valid_share",
           "mirror_x", "review_tiling", "run_passes"]  # fmt: skip

#: Lowest heatmap peak score the review passes keep (below the detect threshold of 0.42).
PEAK_FLOOR = 0.15


def mirror_x(dets: Detections, width: float) -> Detections:
    """``dets`` (pixels of an image ``width`` wide) mirrored left-right: x -> width - x."""
    a = np.mod(np.pi - dets.angle_rad, np.pi)
    a = np.where(a >= np.pi, 0.0, a)
    return Detections(**{**dets._asdict(), "cx": width - dets.cx, "angle_rad": a})


class MirroredPredictor:
    """Wraps a tile predictor: runs it on the tiles mirrored left-right and mirrors the
    detections back into the tiles' own pixels (no hull or bridge maps)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __call__(self, images: np.ndarray) -> list[TileOutput]:
        width = images.shape[-1]
        outs = self.inner(np.ascontiguousarray(images[..., ::-1]))
        return [TileOutput(mirror_x(o.dets, width)) for o in outs]


@dataclass(frozen=True)
class ReviewModel:
    """A loaded model for the review passes: ``predictor`` keeps peaks >= ``floor``;
    ``context_px``/``align_px``: the input context its outputs need and the network's
    stride (:func:`review_tiling`); ``verifier``: a detect run's crop verifier
    (:class:`~detector.detect.verify.CropVerifier`) or None."""

    predictor: object
    path: str
    sha256: str
    gsd_m: float
    floor: float
    context_px: int = 0
    align_px: int = 1
    verifier: object | None = None


def load_review_model(path, *, device: str = "auto", floor: float = PEAK_FLOOR,
                      verifier=None, verify_from: float = 0.0) -> ReviewModel:  # fmt: skip
    """Load the weights at ``path`` (None: the shipped model) for :func:`run_passes`;
    ``verifier``: a verifier file whose probabilities the plain pass adds to the peaks
    scoring at least ``verify_from`` (the run's threshold)."""
    from ..detect.predictor import TorchPredictor
    from ..model.context import model_context_px
    from ..model.runtime import resolve_device
    from ..model.weights import file_sha256, load_model
    from ..paths import default_model_path

    dev = resolve_device(device)
    path = Path(path) if path else default_model_path()
    module, meta = load_model(path, device=dev)
    pred = TorchPredictor(module, device=dev, score_thresh=floor)
    context = model_context_px(module, meta)
    crop = None
    if verifier is not None:
        from ..detect.verify import load_crop_verifier

        crop = load_crop_verifier(verifier, dev, look_from=verify_from)
        context = max(context, crop.reach_px)  # each crop lies inside its tile
    return ReviewModel(pred, str(path), file_sha256(path), float(meta.gsd_m), floor, context,
                       int(getattr(module, "pad_multiple", 1)), crop)  # fmt: skip


def review_tiling(model: ReviewModel, tile_px: int = 512) -> tuple[int, int]:
    """(tile, overlap) in pixels for ``model``: tiles overlap by twice its context, as
    ``ccount detect`` tiles (:func:`detector.detect.plan.tiling_for`), and are at least
    ``tile_px``."""
    from ..detect.plan import FALLBACK_OVERLAP_PX, tiling_need

    return tiling_need(tile_px, None, model.context_px, model.align_px, FALLBACK_OVERLAP_PX)


@dataclass(frozen=True)
class ScenePasses:
    """Both passes over one scene: ``plain`` and ``mirrored`` peaks >= the floor in
    model-frame pixels; ``grid``: the model frame; ``valid``/``scale``: coarse valid-pixel
    mask (mask pixel (i, j) covers frame rows ``[i*scale, (i+1)*scale)``)."""

    scene: object
    grid: object
    plain: Detections
    mirrored: Detections
    valid: np.ndarray
    scale: float


def run_passes(
    model: ReviewModel,
    scene,
    *,
    tile_px: int = 512,
    batch_size: int = 8,
    windows=None,
    mirrored: bool = True,
) -> ScenePasses:
    """Run both passes over ``scene`` (an opened :class:`~detector.imagery.scene.Scene`).
    ``windows``: model-frame :class:`~detector.imagery.tiling.Window` s to cover (tiles that
    touch none are skipped); None = the whole scene. ``mirrored`` False: the plain pass only
    (``ScenePasses.mirrored`` empty). Tiles of at least ``tile_px`` (:func:`review_tiling`)."""
    from ..imagery.reader import SceneReader
    from ..imagery.tiling import grid_phase, plan_tiles, select_tiles

    tile_px, overlap_px = review_tiling(model, tile_px)
    settings = InferenceSettings(tile_px=tile_px, overlap_px=overlap_px, batch_size=batch_size)
    with SceneReader(scene, target_gsd_m=model.gsd_m) as reader:
        grid = reader.grid
        # tiles on ccount detect's world-anchored grid: the network's strided encoder gives
        # other boxes for a tile shifted by less than its stride
        a = model.align_px
        tiles = plan_tiles(grid.height, grid.width, tile_px=tile_px, overlap_px=overlap_px,
                           align_px=a, phase_px=grid_phase(grid.transform, a))  # fmt: skip
        valid, scale = reader.coarse_valid()
        plan = select_tiles(tiles, valid=valid, aoi=None, scale=scale, height=grid.height,
                            width=grid.width, tile_px=tile_px, overlap_px=overlap_px)  # fmt: skip
        run = list(plan.tiles)
        if windows is not None:
            run = [t for t in run if any(_overlaps(t.window, w) for w in windows)]
        plain = infer_scene(model.predictor, reader, run, settings, verifier=model.verifier).dets
        mirr = Detections.empty()
        if mirrored:
            mirr = infer_scene(MirroredPredictor(model.predictor), reader, run, settings).dets
    return ScenePasses(scene, grid, plain, mirr, np.asarray(valid), float(scale))


def _overlaps(a, b) -> bool:
    return (
        a.col_off < b.col_off + b.width
        and b.col_off < a.col_off + a.width
        and a.row_off < b.row_off + b.height
        and b.row_off < a.row_off + a.height
    )


def valid_share(passes: ScenePasses, window) -> float:
    """Share of the coarse mask pixels under ``window`` (model frame) that are valid."""
    s = passes.scale
    i0, i1 = (
        int(window.row_off // s),
        max(int(window.row_off // s) + 1, math.ceil((window.row_off + window.height) / s)),
    )
    j0, j1 = (
        int(window.col_off // s),
        max(int(window.col_off // s) + 1, math.ceil((window.col_off + window.width) / s)),
    )
    part = passes.valid[i0:i1, j0:j1]
    return float(part.mean()) if part.size else 0.0
