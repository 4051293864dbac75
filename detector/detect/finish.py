"""The second half of detecting a scene: from the model's merged output to the files.

Hulls and ship identity, regions, tiers, counts, and the three outputs written all or
nothing (see :mod:`detector.detect.pipeline`). CPU work only (no raster reads), so a batch can run it
for one scene in a worker thread while the next scene is read and run through the model.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path, atomic_write_text, safe_name
from ..errors import ConfigError
from ..model.tiers import tiers_basis, tiers_from_output

__all__ = ["GPKG_LAYER", "InferredScene", "check_output_names", "finish_scene", "output_paths"]

GPKG_LAYER = "detections"


@dataclass(frozen=True)
class InferredScene:
    """What the first half left: the scene, its model-frame grid, the tile plan, the merged
    :class:`~detector.detect.inference.SceneInference`, reading threads used, start time."""

    scene: Any
    grid: Any
    plan: Any
    result: Any
    read_threads: int
    t0: float


def output_paths(out_dir: Path, scene_id: str) -> tuple[Path, Path, Path]:
    """``(detections.geojson, detections.gpkg, counts.json)`` paths of a scene in ``out_dir``,
    named by the scene id made safe (:func:`detector._io.safe_name`: ``a;b`` -> ``a_b``)."""
    out_dir, name = Path(out_dir), safe_name(scene_id)
    return (
        out_dir / f"{name}.detections.geojson",
        out_dir / f"{name}.detections.gpkg",
        out_dir / f"{name}.counts.json",
    )


def check_output_names(paths) -> None:
    """Raise :class:`ConfigError` naming both files when two scene files would write the same
    outputs (the same file stem, or stems equal once made safe, e.g. ``a;b`` and ``a b``)."""
    seen: dict[str, Path] = {}
    for p in map(Path, paths):
        name = safe_name(p.stem)
        if name in seen and p.stem == seen[name].stem:
            raise ConfigError(
                f"{p}: has the same scene name {p.stem!r} as {seen[name]}; outputs would "
                "collide, rename one"
            )
        if name in seen:
            raise ConfigError(
                f"{p}: scene name {p.stem!r} gives the same output file name {name!r} as "
                f"{seen[name]} ({seen[name].stem!r}); outputs would collide, rename one"
            )
        seen[name] = p


def _sun(scene) -> dict | None:
    from ..imagery.sun import scene_sun

    sun = scene_sun(scene)
    if sun is None:
        return None
    return {"elevation_deg": sun[0], "azimuth_deg": sun[1]}


def finish_scene(
    detector, inf: InferredScene, out_dir: Path, config
) -> tuple[Path, Path, Path, dict]:
    """Locate, count and write ``inf``'s scene; returns (geojson, gpkg, counts paths, counts)."""
    from ..imagery.aoi import load_port
    from ..labels.io import (
        container_features,
        container_rings,
        container_wkb,
        hull_features,
        polygon_wkb,
        write_geojson,
        write_gpkg,
    )
    from ..ships import load_registry
    from .count import scene_counts, tiers_clipped
    from .hulls import find_hulls
    from .locate import aoi_pixels, assign_regions

    scene, grid, plan, result = inf.scene, inf.grid, inf.plan, inf.result
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
            "read_threads": inf.read_threads,
        },
        timing_s={
            "total": time.perf_counter() - inf.t0,
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
    rings = container_rings(dets, grid=grid)
    features = container_features(
        dets, grid=grid, region=list(regions.region), ship=list(regions.ship), rings=rings
    )
    wkb = np.concatenate([
        container_wkb(dets, grid=grid, rings=rings),
        polygon_wkb([f["geometry"]["coordinates"] for f in ships]),
    ])  # fmt: skip
    features += ships
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
    counts["timing_s"]["total"] = round(time.perf_counter() - inf.t0, 3)
    # all three files appear together or not at all; counts.json (what `ccount run` checks
    # for) is moved into place last (ExitStack exits in reverse order)
    with contextlib.ExitStack() as stack:
        tmp_counts = stack.enter_context(atomic_path(counts_path))
        tmp_gpkg = stack.enter_context(atomic_path(gpkg_path))
        tmp_geo = stack.enter_context(atomic_path(geojson_path))
        write_geojson(tmp_geo, features, props)
        write_gpkg(tmp_gpkg, features, layer=GPKG_LAYER, wkb=wkb)
        atomic_write_text(tmp_counts, json.dumps(counts, indent=1) + "\n")
    return geojson_path, gpkg_path, counts_path, counts
