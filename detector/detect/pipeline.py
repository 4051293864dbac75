"""``ccount detect``'s library side: scenes in, detections and counts out, one scene at a time.

Per scene: open and validate (:func:`detector.imagery.raster.open_scene`), plan tiles in the
model frame (:mod:`detector.detect.plan`) and skip nodata (and, with ``aoi_only``, non-port)
tiles, run the tiles through the model with prefetching reads and merge by ownership
(:mod:`detector.detect.inference`), find and identify ship hulls and assign regions
(:mod:`detector.detect.locate`), count (:mod:`detector.detect.count`) and write,
all-or-nothing:

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

from ..errors import ConfigError, CountError
from ..model import runtime
from ..model.runtime import DEVICES, resolve_device
from .bands import BandJob, BandRunner, band_rows, merge_bands, run_bands, split_bands
from .checks import check_scene
from .finish import GPKG_LAYER, InferredScene, check_output_names, finish_scene, output_paths
from .inference import InferenceSettings, infer_scene
from .plan import (
    HEIGHTS,
    DetectConfig,
    Detector,
    configure_process,
    load_detector,
    plan_scene,
    tiling_for,
)
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
            plan = plan_scene(reader, scene, config, a, phase_rc)
            coverage = reader.coverage()
            n_read = max(1, min(n_read, len(plan.tiles)))  # a batch's tiles read side by side
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
                    detector.predictor,
                    [reader, *more],
                    plan.tiles,
                    settings,
                    progress=tick,
                    verifier=getattr(detector, "verifier", None),
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
