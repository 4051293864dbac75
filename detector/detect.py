"""``ccount detect``'s library side: scenes in, detections and counts out, one scene at a time.

Per scene: open and validate (:func:`detector.raster.open_scene`), plan tiles in the model
frame and skip nodata (and, with ``aoi_only``, non-port) tiles, run the tiles through the
model with prefetching reads and merge by ownership (:mod:`detector.inference`), find and
identify ship hulls and assign regions (:mod:`detector.locate`), count
(:mod:`detector.count`) and write, all-or-nothing:

- ``<scene>.detections.geojson``: RFC 7946 lon/lat, one Polygon per container (``kind``,
  ``score``, ``region``, ``ship``, ``tiers_est``) plus one per ship hull;
- ``<scene>.detections.gpkg``: the same features, layer ``detections``, EPSG:4326;
- ``<scene>.counts.json``: see :func:`detector.count.scene_counts`.

A scene that fails is recorded in its :class:`SceneOutcome` (one-line error) and the batch
goes on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import _runtime
from ._io import atomic_path, atomic_write_text
from ._progress import tqdm_progress
from ._runtime import DEVICES, resolve_device
from .errors import ConfigError, CountError
from .inference import InferenceSettings, TilePredictor, infer_scene
from .model.tiers import TIERS_DIRECT, tiers_basis, tiers_from_output

__all__ = [
    "DEVICES",
    "DetectConfig",
    "Detector",
    "SceneOutcome",
    "output_paths",
    "resolve_device",
    "configure_process",
    "load_detector",
    "detect_scene",
    "detect_scenes",
]

log = logging.getLogger(__name__)

GPKG_LAYER = "detections"
#: GDAL's block cache while detecting (its default, 5 % of RAM, holds up to ~1 GB of decoded
#: blocks of a large scene); 64 MB keeps the previous row of tiles for the overlaps.
GDAL_CACHE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class DetectConfig:
    """Settings of a detect run. ``model_path`` None = the shipped model; ``bands`` 1-based
    (1 or 3) or None for the scene's RGB; ``num_threads`` None = all CPU cores;
    ``read_threads`` None = :func:`detector._runtime.reader_threads`'s choice."""

    model_path: Path | None = None
    device: str = "auto"
    tile_px: int = 512
    overlap_px: int = 64
    batch_size: int = 8
    bands: tuple[int, ...] | None = None
    aoi_only: bool = False
    score_thresh: float = 0.42  # == model.decode.DEFAULT_SCORE_THRESH (test_detect_cli checks)
    num_threads: int | None = None
    tta: bool = False  # mirrored passes averaged (TorchPredictor); 4x the model work
    read_threads: int | None = None

    def check(self) -> None:
        """Raise :class:`ConfigError` for values out of range."""
        if self.device not in DEVICES:
            raise ConfigError(f"--device {self.device!r}: expected one of {', '.join(DEVICES)}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size {self.batch_size} must be >= 1")
        if not 0.0 < self.score_thresh < 1.0:
            raise ConfigError(f"--score-thresh {self.score_thresh} must be between 0 and 1")
        for flag, n in (("--threads", self.num_threads), ("--read-threads", self.read_threads)):
            if n is not None and n < 1:
                raise ConfigError(f"{flag} {n} must be >= 1")
        if self.bands is not None and len(self.bands) not in (1, 3):
            raise ConfigError(f"--bands {self.bands}: select 1 or 3 bands, e.g. 1,2,3")
        from .tiling import plan_tiles

        plan_tiles(self.tile_px, self.tile_px, tile_px=self.tile_px, overlap_px=self.overlap_px)


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


def output_paths(out_dir: Path, scene_id: str) -> tuple[Path, Path, Path]:
    """``(detections.geojson, detections.gpkg, counts.json)`` paths of a scene in ``out_dir``."""
    out_dir = Path(out_dir)
    return (
        out_dir / f"{scene_id}.detections.geojson",
        out_dir / f"{scene_id}.detections.gpkg",
        out_dir / f"{scene_id}.counts.json",
    )


def configure_process(config: DetectConfig) -> None:
    """Process-wide settings for detecting (see :func:`detector._runtime.configure_process`)."""
    _runtime.configure_process(config.num_threads)


def load_detector(config: DetectConfig) -> Detector:
    """Load the model once (``config.model_path`` or the shipped one) on the chosen device."""
    from ._predictor import TorchPredictor
    from .model.weights import file_sha256, load_model
    from .paths import default_model_path

    device = resolve_device(config.device)
    configure_process(config)
    path = Path(config.model_path) if config.model_path else default_model_path()
    module, meta = load_model(path, device=device)
    predictor = TorchPredictor(
        module, device=device, score_thresh=config.score_thresh, tta=config.tta
    )
    return Detector(
        predictor=predictor,
        device=device,
        gsd_m=float(meta.gsd_m),
        model_path=str(path),
        sha256=file_sha256(path),
        tiers_output=meta.tiers_output,
    )


def _sun(scene) -> dict | None:
    from .sun import scene_sun

    sun = scene_sun(scene)
    if sun is None:
        return None
    return {"elevation_deg": sun[0], "azimuth_deg": sun[1]}


def _plan(reader, scene, config: DetectConfig):
    from .aoi import load_port
    from .raster import rasterize_aoi
    from .tiling import plan_tiles, select_tiles

    grid = reader.grid
    tiles = plan_tiles(
        grid.height, grid.width, tile_px=config.tile_px, overlap_px=config.overlap_px
    )
    valid, scale = reader.coarse_valid()
    aoi = None
    if config.aoi_only:
        if not scene.port:
            raise ConfigError(
                f"{scene.path}: lies in no known port, so --aoi has no area to keep; drop --aoi"
            )
        aoi = rasterize_aoi([load_port(scene.port).area], grid, scale=scale)
    return select_tiles(
        tiles, valid=valid, aoi=aoi, scale=scale, height=grid.height, width=grid.width,
        tile_px=config.tile_px, overlap_px=config.overlap_px,
    )  # fmt: skip


def _process(
    detector: Detector,
    path: Path,
    out_dir: Path,
    config: DetectConfig,
    progress: Callable[[int, str], Callable[[int], None] | None] | None,
) -> SceneOutcome:
    from .aoi import load_port
    from .count import scene_counts, tiers_clipped
    from .labels import (
        container_features,
        container_wkb,
        hull_features,
        polygon_wkb,
        write_geojson,
        write_gpkg,
    )
    from .locate import aoi_pixels, assign_regions, find_hulls
    from .raster import SceneReader, open_scene
    from .ships import load_registry

    t0 = time.perf_counter()
    scene = open_scene(path, bands=config.bands)
    settings = InferenceSettings(
        tile_px=config.tile_px, overlap_px=config.overlap_px, batch_size=config.batch_size
    )
    n_read = _runtime.reader_threads(config.read_threads, detector.device)
    with contextlib.ExitStack() as readers:
        reader = readers.enter_context(SceneReader(scene, target_gsd_m=detector.gsd_m))
        grid = reader.grid
        if grid.crs is None:
            raise ConfigError(f"{path}: has no CRS, so detections cannot be placed on the map")
        plan = _plan(reader, scene, config)
        more = [
            readers.enter_context(SceneReader(scene, target_gsd_m=detector.gsd_m))
            for _ in range(min(n_read, -(-len(plan.tiles) // config.batch_size)) - 1)
        ]  # fmt: skip
        tick = progress(len(plan.tiles), scene.id) if progress else None
        result = infer_scene(
            detector.predictor, [reader, *more], plan.tiles, settings, progress=tick
        )
    _runtime.trim_freed_memory()  # the batches' and activations' heap, before the outputs
    sun = _sun(scene)
    tiers = tiers_from_output(
        result.dets.tiers, detector.tiers_output, sun["elevation_deg"] if sun else None
    )
    dets = replace(result.dets, tiers=tiers)
    dets = replace(dets, tiers=tiers_clipped(dets).astype(np.float32))
    aoi_px = aoi_pixels(load_port(scene.port), grid) if scene.port else ()
    hulls = find_hulls(
        result.maps.hull, result.maps.bridge, stride_px=result.maps.stride_px,
        gsd_m=grid.gsd_m, registry=load_registry(), aoi=aoi_px,
    )  # fmt: skip
    regions = assign_regions(dets, hulls, aoi_px)
    counts = scene_counts(
        scene=scene,
        dets=dets,
        regions=regions,
        hulls=hulls,
        model={"path": detector.model_path, "sha256": detector.sha256},
        device=detector.device,
        settings={
            "tile": config.tile_px,
            "overlap": config.overlap_px,
            "batch_size": config.batch_size,
            "score_thresh": config.score_thresh,
            "bands": list(scene.bands),
            "aoi_only": config.aoi_only,
            "tta": config.tta,
            "read_threads": 1 + len(more),
        },
        timing_s={
            "total": time.perf_counter() - t0,
            "read": result.read_s,
            "model": result.model_s,
        },
        sun=sun,
        model_gsd_m=grid.gsd_m,
    )
    counts["tiers_basis"] = tiers_basis(detector.tiers_output, sun)
    counts["tiles"] = {
        "run": len(plan.tiles),
        "skipped_nodata": plan.skipped_nodata,
        "skipped_aoi": plan.skipped_aoi,
    }
    ships = hull_features(hulls.hulls, grid=grid)
    features = (
        container_features(dets, grid=grid, region=list(regions.region), ship=list(regions.ship))
        + ships
    )
    wkb = np.concatenate(
        [container_wkb(dets, grid=grid), polygon_wkb([f["geometry"]["coordinates"] for f in ships])]
    )
    props = {
        "scene": scene.id,
        "port": scene.port,
        "acquired": counts["acquired"],
        "gsd_m": scene.gsd_m,
        "crs": grid.crs.to_string(),
        "width": grid.width,
        "height": grid.height,
        "model_sha256": detector.sha256,
        "device": detector.device,
    }
    geojson_path, gpkg_path, counts_path = output_paths(out_dir, scene.id)
    counts["timing_s"]["total"] = round(time.perf_counter() - t0, 3)
    # all three files appear together or not at all; counts.json (what `ccount run` checks
    # for) is moved into place last (ExitStack exits in reverse order)
    with contextlib.ExitStack() as stack:
        tmp_counts = stack.enter_context(atomic_path(counts_path))
        tmp_gpkg = stack.enter_context(atomic_path(gpkg_path))
        tmp_geo = stack.enter_context(atomic_path(geojson_path))
        write_geojson(tmp_geo, features, props)
        write_gpkg(tmp_gpkg, features, layer=GPKG_LAYER, wkb=wkb)
        atomic_write_text(tmp_counts, json.dumps(counts, indent=1) + "\n")
    return SceneOutcome(
        scene_id=scene.id,
        path=Path(path),
        ok=True,
        detections_path=geojson_path,
        counts_path=counts_path,
        counts=counts,
        gpkg_path=gpkg_path,
    )


def _one_line(err: BaseException) -> str:
    msg = " ".join(str(err).split())
    return msg if isinstance(err, CountError) else f"{type(err).__name__}: {msg}"


def detect_scene(
    detector: Detector,
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: DetectConfig,
    *,
    progress: Callable[[int, str], Callable[[int], None] | None] | None = None,
) -> SceneOutcome:
    """Detect, locate and count one scene and write its outputs; never raises for a bad scene.

    ``progress(n_tiles, scene_id)`` may return a callback taking tiles done. Errors (a bad
    file, a failed read, anything unexpected) become ``SceneOutcome(ok=False, error=...)``;
    no output file of that scene is left behind.
    """
    import rasterio

    path = Path(path)
    try:
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES):
            return _process(detector, path, Path(out_dir), config, progress)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as e:
        if not isinstance(e, CountError):
            log.debug("unexpected error on %s", path, exc_info=True)
        msg = _one_line(e)
        if str(path) not in msg:
            msg = f"{path}: {msg}"
        return SceneOutcome(scene_id=path.stem, path=path, ok=False, error=msg)


def detect_scenes(
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    config: DetectConfig,
    *,
    progress: bool = True,
    detector: Detector | None = None,
) -> list[SceneOutcome]:
    """Run :func:`detect_scene` over ``paths`` with the model loaded once.

    Calls :func:`configure_process` (CPU threads); returns freed memory to the OS after each
    scene.
    Raises :class:`ConfigError` before any work for bad settings or two scenes with the same
    file stem (their outputs would collide); model/device errors also raise.
    """

    config.check()
    paths = [Path(p) for p in paths]
    seen: dict[str, Path] = {}
    for p in paths:
        if p.stem in seen:
            raise ConfigError(
                f"{p}: has the same scene name {p.stem!r} as {seen[p.stem]}; outputs would collide"
            )
        seen[p.stem] = p
    configure_process(config)
    detector = detector or load_detector(config)
    bar = tqdm_progress(progress)
    outcomes = []
    try:
        for p in paths:
            outcomes.append(detect_scene(detector, p, out_dir, config, progress=bar))
            _runtime.trim_freed_memory()
    finally:
        if bar is not None:
            bar.close()
    return outcomes
