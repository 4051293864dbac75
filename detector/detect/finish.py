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
    check: Any = None  # detector.detect.checks.SceneCheck: band kind and warnings
    coverage: Any = None  # (bool mask, scale) of valid model-frame pixels (reader.coverage())
    show_progress: bool = False  # progress bars for phases that take over a second
    bands: int = 1  # row bands the scene was run in (detect.bands)


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


def _heights(inf: InferredScene, dets, sun: dict | None, config, region, blockers):
    """Stack heights from the scene's shadows (:mod:`detector.detect.shadows`); the config's
    ``sun_source`` "shadows" ignores the acquisition time's sun, ``view_source`` "nadir" the
    satellite's direction in the scene's tags; ``blockers`` the uncounted boxes under the
    detection threshold."""
    from .shadows import scene_heights

    meta = None if getattr(config, "sun_source", "auto") == "shadows" else sun
    view = (
        None
        if getattr(config, "view_source", "tags") == "nadir"
        else getattr(inf.scene, "view", None)
    )
    return scene_heights(
        inf.scene, inf.grid, dets, meta, region=region, blockers=blockers, view=view
    )


def _phase(items, desc: str, show: bool):
    """``items``, with a progress bar that appears when the phase takes over a second."""
    if not show:
        return items
    from tqdm import tqdm

    return tqdm(
        items, desc=desc, unit="part", delay=1.0, leave=False, dynamic_ncols=True, disable=None
    )


def _add_checks(counts: dict, inf: InferredScene, aoi_px) -> None:
    """Bands, coverage (scene and per AOI feature: ``covered`` share, ``observed``) and the
    warnings of :mod:`detector.detect.checks` into the counts document."""
    from .checks import OBSERVED_MIN, aoi_coverage, band_kind, gap_share, valid_share

    scene, check = inf.scene, inf.check
    counts["bands"] = {
        "count": scene.band_count,
        "kind": check.band_kind if check else band_kind(scene),
        "used": list(scene.bands),
    }
    counts["coverage"] = {
        "valid_share": round(valid_share(scene), 6),
        "gap_share": round(gap_share(scene), 3),
    }
    if inf.coverage is not None and aoi_px:
        covered = aoi_coverage(aoi_px, *inf.coverage)
        kinds = {f.name: f.kind for f in aoi_px}
        for name, share in covered.items():
            if name in counts["by_aoi"]:
                counts["by_aoi"][name]["kind"] = kinds[name]
                counts["by_aoi"][name]["covered"] = share
                counts["by_aoi"][name]["observed"] = share >= OBSERVED_MIN
        counts["coverage"]["not_observed"] = [n for n, c in covered.items() if c < OBSERVED_MIN]
    counts["warnings"] = list(check.warnings) if check else []


def _verify_settings(detector, result, rejected: int) -> dict:
    """counts.json ``settings.verify`` of a ``--verify`` run: the file, its rule and the boxes
    over the detection threshold it rejected (not counted); empty without ``--verify``."""
    v = getattr(detector, "verifier", None)
    if v is None:
        return {}
    return {"verify": {"verifier": v.path, "verifier_sha256": v.sha256,
                       "verify_thresh": detector.verify_thresh, "rejected": rejected,
                       "seconds": round(result.verify_s, 3)}}  # fmt: skip


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
    from .count import add_height_stats, scene_counts, tiers_clipped
    from .hulls import ShipHulls, find_hulls
    from .locate import aoi_pixels, assign_regions

    scene, grid, plan, result = inf.scene, inf.grid, inf.plan, inf.result
    dets, blockers = result.dets, None
    low = dets.score < detector.score_thresh
    verify_q = getattr(detector, "verify_thresh", None)
    rejected = (
        ~low & (dets.verify < verify_q) if verify_q is not None else np.zeros(len(dets), bool)
    )
    if getattr(detector, "floor_thresh", None) is not None:  # peaks under the threshold
        # and boxes the verifier rejects still end a neighbour's shadow, uncounted
        dets, blockers = dets.select(~low & ~rejected), dets.select(low | rejected)
    else:
        dets = dets.select(~rejected)
    sun = _sun(scene)
    tiers = tiers_from_output(
        dets.tiers, detector.tiers_output, sun["elevation_deg"] if sun else None
    )
    dets = replace(dets, tiers=tiers)
    tiers_net = tiers_clipped(dets).astype(np.float32)  # the network's tier head
    aoi_px = aoi_pixels(load_port(scene.port), grid) if scene.port else ()
    maps, registry = result.maps, load_registry()
    t_hulls = time.perf_counter()
    hulls = ShipHulls.merge([
        find_hulls(part.hull, part.bridge, stride_px=maps.stride_px, gsd_m=grid.gsd_m,
                   registry=registry, aoi=aoi_px, origin=(part.row0, part.col0))
        for part in _phase(maps.parts, f"{scene.id} ship hulls", inf.show_progress)
    ])  # fmt: skip
    t_hulls = time.perf_counter() - t_hulls
    regions = assign_regions(dets, hulls, aoi_px)
    heights = getattr(config, "heights", "net")
    measured, timing = None, {}
    if heights == "shadow":  # opt-in: stack heights from the scene's shadows
        t_heights = time.perf_counter()
        measured = _heights(inf, dets, sun, config, regions.region, blockers)
        timing["heights"] = time.perf_counter() - t_heights
        dets = replace(dets, tiers=measured.heights.tiers_est)
    else:  # the network's tier head (what the reconciler's factors were fitted to)
        dets = replace(dets, tiers=tiers_net)
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
            "score_thresh": detector.score_thresh,
            "bands": list(scene.bands),
            "aoi_only": config.aoi_only,
            "tta": config.tta,
            # mirrored passes only where the plain pass scores this somewhere (TTA_FLOOR)
            **({"tta_floor": config.tta_floor} if config.tta else {}),
            "read_threads": inf.read_threads,
            "heights": heights,
            **_verify_settings(detector, result, int(rejected.sum())),
        },
        timing_s={
            "total": time.perf_counter() - inf.t0,
            "read": result.read_s,
            "model": result.model_s,
            "hulls": t_hulls,
            **timing,
        },
        sun=sun,
        model_gsd_m=grid.gsd_m,
    )
    if measured is None:
        counts["tiers_basis"] = tiers_basis(detector.tiers_output, sun)
    else:
        counts["sun"] = measured.sun
        counts["tiers_basis"] = (
            "shadows measured in the image, else a stowage prior (height_source)"
        )
        counts["tiers_basis_net"] = tiers_basis(detector.tiers_output, sun)
        counts["heights"] = measured.heights.shares()
        add_height_stats(counts, measured.heights, regions)  # what the reconciler reads
    _add_checks(counts, inf, aoi_px)
    counts["tiles"] = {
        "run": len(plan.tiles),
        "skipped_nodata": plan.skipped_nodata,
        "skipped_aoi": plan.skipped_aoi,
        "row_bands": inf.bands,
    }
    ships = hull_features(hulls.hulls, grid=grid)
    rings = container_rings(dets, grid=grid)
    extra = None
    if measured is not None:
        h = measured.heights
        extra = {"tiers_low": h.tiers_low, "tiers_high": h.tiers_high, "height_source": h.source,
                 "height_note": h.reason, "height_basis": h.basis, "shadow_m": h.shadow_m,
                 "tiers_net": tiers_net}  # fmt: skip
    if verify_q is not None:  # the verifier's probability of each counted box
        extra = {**(extra or {}), "verify": dets.verify}
    features = container_features(
        dets, grid=grid, region=list(regions.region), ship=list(regions.ship), rings=rings,
        extra=extra,
    )  # fmt: skip
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
