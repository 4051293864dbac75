"""``ccount detect``'s library side: scenes in, detections and counts out, one scene at a time.

Per scene: open and validate (:func:`detector.imagery.raster.open_scene`), plan tiles in the model
frame and skip nodata (and, with ``aoi_only``, non-port) tiles, run the tiles through the
model with prefetching reads and merge by ownership (:mod:`detector.detect.inference`), find and
identify ship hulls and assign regions (:mod:`detector.detect.locate`), count
(:mod:`detector.detect.count`) and write, all-or-nothing:

- ``<scene>.detections.geojson``: RFC 7946 lon/lat, one Polygon per container (``kind``,
  ``score``, ``region``, ``ship``, ``tiers_est``) plus one per ship hull;
- ``<scene>.detections.gpkg``: the same features, layer ``detections``, EPSG:4326;
- ``<scene>.counts.json``: see :func:`detector.detect.count.scene_counts`.

A scene that fails is recorded in its :class:`SceneOutcome` (one-line error) and the batch
goes on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, CountError
from ..imagery.scene import DEFAULT_GSD_RANGE_M
from ..model import runtime
from ..model.runtime import DEVICES, resolve_device
from ..model.tiers import TIERS_DIRECT
from .bands import BandJob, BandRunner, band_rows, merge_bands, run_bands, split_bands
from .checks import check_scene
from .finish import GPKG_LAYER, InferredScene, check_output_names, finish_scene, output_paths
from .inference import InferenceSettings, TilePredictor, infer_scene
from .progress import tqdm_progress

__all__ = [
    "DEVICES",
    "HEIGHTS",
    "DetectConfig",
    "Detector",
    "SceneOutcome",
    "output_paths",
    "resolve_device",
    "configure_process",
    "load_detector",
    "tiling_for",
    "detect_scene",
    "detect_scenes",
    "iter_detect",
    "GPKG_LAYER",
]

log = logging.getLogger(__name__)

#: A scene with more detections than this is finished before the next one starts: building
#: the outputs of 110,000 containers takes ~250 MB, which would add to the next scene's peak.
OVERLAP_MAX_DETECTIONS = 50_000
#: GDAL's block cache while detecting (its default, 5 % of RAM, holds up to ~1 GB of decoded
#: blocks of a large scene); 64 MB keeps the previous row of tiles for the overlaps.
GDAL_CACHE_BYTES = 64 * 2**20
#: Where stack heights (``tiers_est``) come from: "net", the network's tier head (the
#: default; what the reconciler's factors were fitted to), or "shadow", measured from the
#: scene's shadows (:mod:`detector.detect.shadows`; opt-in, ~3 s a scene).
HEIGHTS = ("net", "shadow")


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
    score_thresh: float | None = None  # None: the weights' calibrated one (ModelMeta.detect_thresh)
    num_threads: int | None = None
    tta: bool = False  # mirrored passes averaged (TorchPredictor); 4x the model work
    read_threads: int | None = None
    serial: bool = False  # one scene at a time (else: outputs written while the next runs)
    force: bool = False  # run scenes outside the model's GSD range (with a warning)
    band_mpx: float = 256.0  # a larger model frame runs in row bands (detect.bands)
    heights: str = "net"  # stack heights: "net" (the tier head) | "shadow" (measured, opt-in)
    sun_source: str = "auto"  # "shadow" heights' sun: "auto" (time, else shadows) | "shadows"

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
        if self.heights not in HEIGHTS:
            raise ConfigError(f"--heights {self.heights!r}: expected one of {', '.join(HEIGHTS)}")
        if self.sun_source not in ("auto", "shadows"):
            raise ConfigError(f"--sun {self.sun_source!r}: expected auto or shadows")
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
class SceneOutcome:
    """Result of one scene: ``ok`` with output paths and the counts dict, or ``error``."""

    scene_id: str
    path: Path
    ok: bool
    error: str | None = None
    detections_path: Path | None = None
    counts_path: Path | None = None
    counts: dict | None = None
    gpkg_path: Path | None = None


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


#: (tile, overlap) settings already reported as raised in this process: said once
_RAISED: set[tuple[int, int | None]] = set()
#: overlap of a model that states no context (a test's stand-in predictor)
FALLBACK_OVERLAP_PX = 64


def tiling_for(detector: Detector, config: DetectConfig) -> DetectConfig:
    """``config`` with the tiling the model needs (an int ``overlap_px``): an overlap of at
    least twice the model's context (the core of a tile lies half an overlap inside its
    window, so every output there sees all the input it depends on; ``overlap_px`` None:
    exactly that, or :data:`FALLBACK_OVERLAP_PX` for a model without a context) and a tile
    of at least that overlap plus one core of twice the context (at least one aligned
    stride, ``detector.align_px``). A raised ``--overlap``/``--tile`` is said once per
    process on stderr (a warning)."""
    from dataclasses import replace

    a, ctx = max(1, detector.align_px), max(0, detector.context_px)
    need = -(-2 * ctx // a) * a
    given = config.overlap_px
    overlap = (need if ctx else FALLBACK_OVERLAP_PX) if given is None else max(given, need)
    tile = config.tile_px
    if tile < overlap + max(a, 2 * ctx):
        tile = -(-(overlap + max(a, 2 * ctx)) // a) * a
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


def configure_process(config: DetectConfig) -> None:
    """Process-wide settings for detecting (see :func:`detector.model.runtime.configure_process`)."""
    runtime.configure_process(config.num_threads)


def load_detector(config: DetectConfig) -> Detector:
    """Load the model once (``config.model_path`` or the shipped one) on the chosen device."""
    from ..model.context import model_context_px
    from ..model.weights import file_sha256, load_model
    from ..paths import default_model_path
    from .predictor import TorchPredictor

    device = resolve_device(config.device)
    configure_process(config)
    path = Path(config.model_path) if config.model_path else default_model_path()
    module, meta = load_model(path, device=device)
    context_px = model_context_px(module, meta)
    thresh = meta.detect_thresh if config.score_thresh is None else float(config.score_thresh)
    predictor = TorchPredictor(module, device=device, score_thresh=thresh, tta=config.tta)
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
    )


def _plan(reader, scene, config: DetectConfig, align_px: int = 1, phase_px=(0, 0)):
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


def _infer(
    detector: Detector,
    path: Path,
    config: DetectConfig,
    progress: Callable[[int, str], Callable[[int], None] | None] | None,
    map_bands: BandRunner | None = None,
) -> InferredScene:
    """Open ``path``, plan its tiles and run them through the model (reading, GDAL); a model
    frame over ``config.band_mpx`` runs in row bands through ``map_bands`` (default: one
    after the other, here)."""
    import rasterio

    from ..imagery.raster import SceneReader, open_scene
    from ..imagery.scene import SceneNoCRSError
    from ..imagery.tiling import grid_phase

    t0 = time.perf_counter()
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES):
        try:
            scene = open_scene(path, bands=config.bands)
        except SceneNoCRSError:
            raise SceneNoCRSError(
                f"{path}: has no CRS (not georeferenced), so detections cannot be placed on the "
                "map; georeference it first, e.g. gdal_translate -a_srs EPSG:32652 -a_ullr "
                "ULX ULY LRX LRY"
            ) from None
        check = check_scene(
            scene, gsd_range_m=detector.gsd_range_m, force=config.force,
            model=f"the model ({Path(detector.model_path).name})",
        )  # fmt: skip
        settings = InferenceSettings(
            tile_px=config.tile_px, overlap_px=config.overlap_px, batch_size=config.batch_size
        )
        n_read = runtime.reader_threads(config.read_threads, detector.device)
        with contextlib.ExitStack() as readers:
            reader = readers.enter_context(SceneReader(scene, target_gsd_m=detector.gsd_m))
            grid = reader.grid
            if grid.crs is None:
                raise ConfigError(f"{path}: has no CRS, so detections cannot be placed on the map")
            a = detector.align_px
            phase_rc = grid_phase(grid.transform, a)
            plan = _plan(reader, scene, config, a, phase_rc)
            coverage = reader.coverage()
            n_read = max(1, min(n_read, -(-len(plan.tiles) // config.batch_size)))
            phase = phase_rc[0]
            per_band = band_rows(grid.height, grid.width, tile_px=config.tile_px,
                                 overlap_px=config.overlap_px, band_mpx=config.band_mpx,
                                 align_px=a, phase_px=phase)  # fmt: skip
            bands = split_bands(plan.tiles, height=grid.height, tile_px=config.tile_px,
                                overlap_px=config.overlap_px, per_band=per_band,
                                align_px=a, phase_px=phase)  # fmt: skip
            tick = progress(len(plan.tiles), scene.id) if progress else None
            if len(bands) > 1:
                readers.close()  # each band opens readers of its own
                jobs = [BandJob(scene, b, k, len(bands)) for k, b in enumerate(bands)]
                if map_bands is None:
                    parts = run_bands(detector, jobs, config, progress=tick)
                else:
                    parts = map_bands(jobs, config)
                result = merge_bands(parts, plan.tiles)
            else:
                more = [
                    readers.enter_context(SceneReader(scene, target_gsd_m=detector.gsd_m))
                    for _ in range(n_read - 1)
                ]
                result = infer_scene(
                    detector.predictor, [reader, *more], plan.tiles, settings, progress=tick
                )
    runtime.trim_freed_memory()  # the batches' and activations' heap, before the outputs
    return InferredScene(scene, grid, plan, result, n_read, t0, check, coverage,
                         show_progress=progress is not None, bands=max(1, len(bands)))  # fmt: skip


def _one_line(err: BaseException) -> str:
    msg = " ".join(str(err).split())
    return msg if isinstance(err, CountError) else f"{type(err).__name__}: {msg}"


def _guarded(path: Path, fn: Callable[[], Any]) -> Any:
    """``fn()``, or for any error but an interrupt or MemoryError a failed
    :class:`SceneOutcome` with the error on one line."""
    try:
        return fn()
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as e:
        if not isinstance(e, CountError):
            log.debug("unexpected error on %s", path, exc_info=True)
        msg = _one_line(e)
        if str(path) not in msg:
            msg = f"{path}: {msg}"
        return SceneOutcome(scene_id=path.stem, path=path, ok=False, error=msg)


def _finished(detector: Detector, inf: InferredScene, out_dir: Path, config) -> SceneOutcome:
    geojson, gpkg, counts_path, counts = finish_scene(detector, inf, out_dir, config)
    return SceneOutcome(
        scene_id=inf.scene.id, path=Path(inf.scene.path), ok=True, detections_path=geojson,
        counts_path=counts_path, counts=counts, gpkg_path=gpkg,
    )  # fmt: skip


def detect_scene(
    detector: Detector,
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: DetectConfig,
    *,
    progress: Callable[[int, str], Callable[[int], None] | None] | None = None,
    map_bands: BandRunner | None = None,
) -> SceneOutcome:
    """Detect, locate and count one scene and write its outputs; never raises for a bad scene.

    ``progress(n_tiles, scene_id)`` may return a callback taking tiles done. ``map_bands``
    runs the row bands of a large scene (:mod:`detector.detect.bands`; default: in this
    process, one after the other). Errors (a bad
    file, a failed read, anything unexpected) become ``SceneOutcome(ok=False, error=...)``;
    no output file of that scene is left behind.
    """
    path = Path(path)
    config = tiling_for(detector, config)
    inf = _guarded(path, lambda: _infer(detector, path, config, progress, map_bands))
    if isinstance(inf, SceneOutcome):
        return inf
    return _guarded(path, lambda: _finished(detector, inf, Path(out_dir), config))


def iter_detect(
    detector: Detector,
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    config: DetectConfig,
    *,
    progress: Callable[[int, str], Callable[[int], None] | None] | None = None,
) -> Iterator[SceneOutcome]:
    """:func:`detect_scene` over ``paths``, outcomes in order. Unless ``config.serial``, a
    scene's second half (hulls, counts, writing) runs in a worker thread while the next scene
    is read and run through the model: 6-9 % less time on a batch of four 36 Mpx scenes on 2
    CPU cores (measured), more where the model runs on a GPU and the second half is most of
    a scene's time; memory then holds two scenes' results at once (+50 MB there), so a scene
    with more than :data:`OVERLAP_MAX_DETECTIONS` is finished before the next one starts."""
    out = Path(out_dir)
    config = tiling_for(detector, config)
    with ThreadPoolExecutor(1, thread_name_prefix="ccount-finish") as pool:
        pending: Future | None = None
        for p in map(Path, paths):
            inf = _guarded(p, lambda p=p: _infer(detector, p, config, progress))
            if pending is not None:
                yield pending.result()
                pending = None
                runtime.trim_freed_memory()
            if isinstance(inf, SceneOutcome):
                yield inf
                continue
            finish = partial(_guarded, p, partial(_finished, detector, inf, out, config))
            if config.serial or len(inf.result.dets) > OVERLAP_MAX_DETECTIONS:
                yield finish()  # outputs of a large scene take memory: not beside the next
                runtime.trim_freed_memory()
            else:
                pending = pool.submit(finish)
        if pending is not None:
            yield pending.result()


def detect_scenes(
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    config: DetectConfig,
    *,
    progress: bool = True,
    detector: Detector | None = None,
) -> list[SceneOutcome]:
    """Run :func:`iter_detect` over ``paths`` with the model loaded once.

    Calls :func:`configure_process` (CPU threads).
    Raises :class:`ConfigError` before any work for bad settings or two scenes with the same
    file stem (their outputs would collide); model/device errors also raise.
    """

    config.check()
    paths = [Path(p) for p in paths]
    check_output_names(paths)
    configure_process(config)
    detector = detector or load_detector(config)
    bar = tqdm_progress(progress)
    try:
        return list(iter_detect(detector, paths, out_dir, config, progress=bar))
    finally:
        if bar is not None:
            bar.close()
