"""What a detect run is before any pixel is read: its settings (:class:`DetectConfig`), the
loaded model (:class:`Detector`), the tiling the model needs (:func:`tiling_for`) and a
scene's tile plan (:func:`plan_scene`). :mod:`detector.detect.pipeline` runs them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..imagery.scene import DEFAULT_GSD_RANGE_M
from ..model import runtime
from ..model.runtime import DEVICES, resolve_device
from ..model.tiers import TIERS_DIRECT
from .inference import TilePredictor

__all__ = [
    "HEIGHTS",
    "DetectConfig",
    "Detector",
    "configure_process",
    "load_detector",
    "plan_scene",
    "score_thresh_of",
    "tiling_need",
    "TTA_FLOOR",
    "tiling_for",
]

log = logging.getLogger(__name__)

#: Where stack heights (``tiers_est``) come from: "net", the network's tier head (the
#: default; what the reconciler's factors were fitted to), or "shadow", measured from the
#: scene's shadows (:mod:`detector.detect.shadows`; opt-in, ~3 s a scene).
HEIGHTS = ("net", "shadow")


#: ``--tta`` runs the mirrored passes only on tiles whose plain heatmap reaches this score
#: somewhere; elsewhere the plain map stands. Far under any detection threshold (0.37 with
#: ``--tta``): a tile whose best plain peak is this weak would need all three mirror images
#: to score ~0.6 where the plain pass scores under 0.05 (measured: README, ``--tta``).
TTA_FLOOR = 0.05


@dataclass(frozen=True)
class DetectConfig:
    """Settings of a detect run. ``model_path`` None = the shipped model; ``bands`` 1-based
    (1 or 3) or None for the scene's RGB; ``num_threads`` None = all CPU cores;
    ``read_threads`` None = :func:`detector.model.runtime.reader_threads`'s choice."""

    model_path: Path | None = None
    device: str = "auto"
    tile_px: int = 1280
    overlap_px: int | None = None  # None: twice the model's context (tiling_for)
    batch_size: int = 1
    bands: tuple[int, ...] | None = None
    aoi_only: bool = False
    score_thresh: float | None = None  # None: the weights' (ModelMeta.detect_thresh_for)
    num_threads: int | None = None
    tta: bool = False  # mirrored passes averaged (TorchPredictor); 4x the model work on busy tiles
    tta_floor: float = TTA_FLOOR  # 0: every tile mirrored
    read_threads: int | None = None
    serial: bool = False  # one scene at a time (else: outputs written while the next runs)
    force: bool = False  # run scenes outside the model's GSD range (with a warning)
    band_mpx: float = 256.0  # a larger model frame runs in row bands (detect.bands)
    heights: str = "net"  # stack heights: "net" (the tier head) | "shadow" (measured, opt-in)
    sun_source: str = "auto"  # "shadow" heights' sun: "auto" (time, else shadows) | "shadows"
    view_source: str = (
        "tags"  # "shadow" heights' view: "tags" (the product's, else nadir) | "nadir"
    )
    verify: bool = False  # the crop verifier's second look at each box (detect.verify)
    verifier_path: Path | None = None  # None: the shipped models/ccount-verifier.pt
    verify_thresh: float | None = None  # None: the verifier file's

    def check(self) -> None:
        """Raise :class:`ConfigError` for values out of range."""
        if self.device not in DEVICES:
            raise ConfigError(f"--device {self.device!r}: expected one of {', '.join(DEVICES)}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size {self.batch_size} must be >= 1")
        if self.score_thresh is not None and not 0.0 < self.score_thresh < 1.0:
            raise ConfigError(f"--score-thresh {self.score_thresh} must be between 0 and 1")
        for flag, n in (("--threads", self.num_threads), ("--read-threads", self.read_threads)):
            if n is not None and n < 1:
                raise ConfigError(f"{flag} {n} must be >= 1")
        if self.verify_thresh is not None and not 0.0 < self.verify_thresh < 1.0:
            raise ConfigError(f"--verify-thresh {self.verify_thresh} must be between 0 and 1")
        if not self.verify and (self.verifier_path is not None or self.verify_thresh is not None):
            raise ConfigError("--verifier and --verify-thresh need --verify")
        if not 0.0 <= self.tta_floor < 1.0:
            raise ConfigError(f"--tta-floor {self.tta_floor} must be in [0, 1)")
        if self.heights not in HEIGHTS:
            raise ConfigError(f"--heights {self.heights!r}: expected one of {', '.join(HEIGHTS)}")
        if self.sun_source not in ("auto", "shadows"):
            raise ConfigError(f"--sun {self.sun_source!r}: expected auto or shadows")
        if self.view_source not in ("tags", "nadir"):
            raise ConfigError(f"--view {self.view_source!r}: expected tags or nadir")
        if self.sun_source != "auto" and self.heights != "shadow":
            raise ConfigError(f"sun_source {self.sun_source!r} needs heights 'shadow'")
        if not self.band_mpx > 0:
            raise ConfigError(f"band size {self.band_mpx} Mpx must be > 0")
        if self.bands is not None and len(self.bands) not in (1, 3):
            raise ConfigError(f"--bands {self.bands}: select 1 or 3 bands, e.g. 1,2,3")
        from ..imagery.tiling import plan_tiles

        overlap = 0 if self.overlap_px is None else self.overlap_px
        plan_tiles(self.tile_px, self.tile_px, tile_px=self.tile_px, overlap_px=overlap)


@dataclass(frozen=True)
class Detector:
    """A loaded model ready to run: ``predictor`` maps tile batches to detections."""

    predictor: TilePredictor
    device: str
    gsd_m: float
    model_path: str
    sha256: str
    tiers_output: str = TIERS_DIRECT  # what the model's tiers channel means (model.tiers)
    gsd_range_m: tuple[float, float] = DEFAULT_GSD_RANGE_M  # native GSDs it supports
    context_px: int = 0  # input context each output pixel needs (model.context); 0: none
    align_px: int = 1  # tile starts on multiples of this (the network's total stride)
    score_thresh: float = 0.42  # detection threshold in use (config's, else the weights')
    #: the predictor keeps peaks down to this, below ``score_thresh`` (``--heights shadow``:
    #: the boxes under the threshold block shadows, uncounted); None: down to score_thresh
    floor_thresh: float | None = None
    verifier: object | None = None  # detect.verify.CropVerifier (``--verify``)
    verify_thresh: float | None = None  # keep boxes the verifier gives at least this


#: ``--heights shadow``: peaks down to this score are kept as shadow blockers (not counted).
#: A container the detector missed otherwise ends its neighbour's shadow early: on the flat
#: family's test scene a third of the measured 3-4 tier stacks read as 1 tier, 31 of 43 of
#: them beside a missed container.
SHADOW_BLOCKER_THRESH = 0.3
#: (tile, overlap) settings already reported as raised in this process: said once
_RAISED: set[tuple[int, int | None]] = set()
#: overlap of a model that states no context (a test's stand-in predictor)
FALLBACK_OVERLAP_PX = 64


def tiling_need(tile_px: int, overlap_px: int | None, context_px: int, align_px: int,
                fallback_px: int) -> tuple[int, int]:  # fmt: skip
    """(tile, overlap) for a model needing ``context_px`` of input on every side, with
    stride ``align_px``: an overlap of at least twice the context (``overlap_px`` None:
    exactly that, or ``fallback_px`` without a context), a tile of at least that overlap
    plus one core of twice the context (at least one stride)."""
    a, ctx = max(1, align_px), max(0, context_px)
    need = -(-2 * ctx // a) * a
    overlap = (need if ctx else fallback_px) if overlap_px is None else max(overlap_px, need)
    tile = tile_px
    if tile < overlap + max(a, 2 * ctx):
        tile = -(-(overlap + max(a, 2 * ctx)) // a) * a
    return tile, overlap


def tiling_for(detector: Detector, config: DetectConfig) -> DetectConfig:
    """``config`` with the tiling the model needs (an int ``overlap_px``; :func:`tiling_need`,
    :data:`FALLBACK_OVERLAP_PX` for a model without a context): the core of a tile lies half
    an overlap inside its window, so every output there sees all the input it depends on. A
    raised ``--overlap``/``--tile`` is said once per process on stderr (a warning)."""
    from dataclasses import replace

    given = config.overlap_px
    tile, overlap = tiling_need(config.tile_px, given, detector.context_px, detector.align_px,
                                FALLBACK_OVERLAP_PX)  # fmt: skip
    ctx = max(0, detector.context_px)
    need = tiling_need(tile, None, ctx, detector.align_px, 0)[1]
    if (tile, overlap) == (config.tile_px, given):
        return config
    if (given is not None or tile != config.tile_px) and (config.tile_px, given) not in _RAISED:
        _RAISED.add((config.tile_px, given))
        what = [f"--tile {config.tile_px} -> {tile}"] if tile != config.tile_px else []
        if given is not None and overlap != given:
            what.append(f"--overlap {given} -> {overlap}")
        log.warning(
            "the model needs %d px of input around each output pixel, so tiles overlap by "
            "at least %d px: %s", ctx, need, ", ".join(what),
        )  # fmt: skip
    return replace(config, tile_px=tile, overlap_px=overlap)


def score_thresh_of(config: DetectConfig, meta=None) -> float:
    """The detection threshold a run with ``config`` uses: ``--score-thresh``, else the one
    stored in its weights for a run with or without ``--tta``, or with ``--verify`` the
    verifier file's
    (:meth:`detector.model.weights.ModelMeta.detect_thresh_for`; ``meta`` when already
    read, else read from the file)."""
    if config.score_thresh is not None:
        return float(config.score_thresh)
    if config.verify:  # the verifier's rule: chosen with its own detection threshold
        from .verify import verifier_rule

        return verifier_rule(config)[0]
    if meta is None:
        from ..model.weights import read_meta
        from ..paths import default_model_path

        meta = read_meta(config.model_path or default_model_path())
    return meta.detect_thresh_for(config.tta)


def configure_process(config: DetectConfig) -> None:
    """Process-wide settings for detecting (see :func:`detector.model.runtime.configure_process`)."""
    runtime.configure_process(config.num_threads)


def load_detector(config: DetectConfig) -> Detector:
    """Load the model once (``config.model_path`` or the shipped one) on the chosen device."""
    from ..model.context import model_context_px
    from ..model.weights import file_sha256, load_model
    from ..paths import default_model_path, default_verifier_path
    from .predictor import TorchPredictor

    device = resolve_device(config.device)
    configure_process(config)
    path = Path(config.model_path) if config.model_path else default_model_path()
    module, meta = load_model(path, device=device)
    context_px = model_context_px(module, meta)
    verifier, verify_thresh = None, None
    if config.verify:
        from .verify import load_crop_verifier, verifier_rule

        vpath = config.verifier_path or default_verifier_path()
        verifier = load_crop_verifier(vpath, device)
        vm = verifier.meta
        thresh, verify_thresh, _ = verifier_rule(config, verifier)
        verifier.look_from = thresh  # a box under the threshold is not counted: no look
        context_px = max(context_px, verifier.reach_px)  # each crop lies inside its tile
        if vm.detector_sha256 and meta.state_sha256 and vm.detector_sha256 != meta.state_sha256:
            log.warning(
                "%s learned the boxes of another detector (%s...), not %s: its rule may not "
                "hold; retrain it (docs/training.md)", vpath, vm.detector_sha256[:12], path,
            )  # fmt: skip
    else:
        thresh = score_thresh_of(config, meta)
    floor = min(thresh, SHADOW_BLOCKER_THRESH) if config.heights == "shadow" else None
    predictor = TorchPredictor(
        module,
        device=device,
        score_thresh=thresh if floor is None else floor,
        tta=config.tta,
        tta_floor=config.tta_floor,
    )
    return Detector(
        predictor=predictor,
        device=device,
        gsd_m=float(meta.gsd_m),
        model_path=str(path),
        sha256=file_sha256(path),
        tiers_output=meta.tiers_output,
        gsd_range_m=tuple(meta.gsd_range_m),
        context_px=context_px,
        align_px=int(getattr(module, "pad_multiple", 1)),
        score_thresh=thresh,
        floor_thresh=floor,
        verifier=verifier,
        verify_thresh=verify_thresh,
    )


def plan_scene(reader, scene, config: DetectConfig, align_px: int = 1, phase_px=(0, 0)):
    """The tiles of ``scene`` to run (nodata tiles, and off-port ones with ``aoi_only``,
    skipped), on the world-anchored grid of phase ``phase_px``."""
    from ..imagery.aoi import load_port
    from ..imagery.raster import rasterize_aoi
    from ..imagery.tiling import plan_tiles, select_tiles

    grid = reader.grid
    tiles = plan_tiles(
        grid.height, grid.width, tile_px=config.tile_px, overlap_px=config.overlap_px,
        align_px=align_px, phase_px=phase_px,
    )  # fmt: skip
    scale = reader.mask_scale()
    aoi, within = None, None
    if config.aoi_only:
        if not scene.port:
            raise ConfigError(
                f"{scene.path}: lies in no known port, so --aoi has no area to keep; drop --aoi"
            )
        aoi = rasterize_aoi([load_port(scene.port).area], grid, scale=scale)
        rows, cols = np.nonzero(aoi.any(axis=1))[0], np.nonzero(aoi.any(axis=0))[0]
        if len(rows):  # the nodata mask is needed around the AOI only (+ the dilation)
            within = (rows[0] - 2, rows[-1] + 3, cols[0] - 2, cols[-1] + 3)
    valid, scale = reader.coarse_valid(within)
    return select_tiles(
        tiles, valid=valid, aoi=aoi, scale=scale, height=grid.height, width=grid.width,
        tile_px=config.tile_px, overlap_px=config.overlap_px,
    )  # fmt: skip
