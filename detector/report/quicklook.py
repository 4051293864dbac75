"""Quicklooks: a scene read decimated (through :class:`detector.imagery.raster.SceneReader`, the
only raster reader) with its detections drawn, as PNG bytes for the report.

Two panels: the whole scene (footprints filled, they are a few pixels there) and a zoom at
up to full resolution on the biggest ship hull (plus ``zoom_margin_m``); without a ship, on
Rajin's Pier 2 and its berths, or elsewhere on the densest cluster of detections. Detections come from ``<scene>.detections.geojson``
(lon/lat), projected to the reader's grid CRS and then to pixels.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

__all__ = ["scene_quicklook"]

log = logging.getLogger(__name__)


def _apply(aff, xy: np.ndarray) -> np.ndarray:
    """Affine ``aff`` applied to points ``xy`` float [K, 2] -> float [K, 2]."""
    x, y = xy[:, 0], xy[:, 1]
    return np.column_stack([aff.a * x + aff.b * y + aff.c, aff.d * x + aff.e * y + aff.f])


def _rings(features, crs) -> list[tuple[np.ndarray, str | None, str | None]]:
    """(map xy [K, 2] in ``crs``, region or None, ship name or None) per Polygon feature."""
    from pyproj import Transformer

    tr = Transformer.from_crs(4326, crs, always_xy=True)
    out = []
    for f in features:
        geom = f.get("geometry") or {}
        if geom.get("type") != "Polygon":
            continue
        ll = np.asarray(geom["coordinates"][0], float)
        xy = np.column_stack(tr.transform(ll[:, 0], ll[:, 1]))
        p = f.get("properties") or {}
        if p.get("type") == "ship":
            out.append((xy, None, str(p.get("name") or "ship")))
        else:
            out.append((xy, str(p.get("region") or "yard"), None))
    return out


def _panel(scene, box_px, grid0, rings, max_px: int, caption: str):
    """Read the native-pixel box (c0, r0, c1, r1) decimated to <= ``max_px`` a side."""
    from rasterio.windows import Window

    from ..imagery.raster import SceneReader

    c0, r0, c1, r1 = box_px
    factor = max(1.0, max(c1 - c0, r1 - r0) / max_px)
    with SceneReader(scene, target_gsd_m=grid0.gsd_m * factor) as reader:
        win = Window(int(c0 / factor), int(r0 / factor),
                     max(1, int((c1 - c0) / factor)), max(1, int((r1 - r0) / factor)))  # fmt: skip
        tile = reader.read(win)
        inv = ~reader.grid.transform
    image = (np.clip(tile.image.transpose(1, 2, 0), 0, 1) * 255).astype(np.uint8)
    off = np.array([win.col_off, win.row_off], float)
    polys = [_apply(inv, xy) - off for xy, reg, _ in rings if reg is not None]
    regions = [reg for _, reg, _ in rings if reg is not None]
    hulls = [(_apply(inv, xy) - off, name) for xy, reg, name in rings if reg is None]
    return image, polys, regions, hulls, f"{caption} ({factor * grid0.gsd_m:.2f} m/px)"


def _zoom_target(scene, grid0, rings, margin_m: float):
    """(native-pixel box, caption) to zoom on: the biggest ship hull; else, at Rajin, Pier 2
    and its berths (where loading happens); else the densest cluster of detections."""
    from ..errors import LabelError
    from ..imagery.aoi import load_port, project

    inv0 = ~grid0.transform
    hulls = [r for r in rings if r[1] is None]
    m = margin_m / grid0.gsd_m
    if hulls:
        big = max(hulls, key=lambda r: float(np.ptp(r[0], axis=0).max()))
        px, what = _apply(inv0, big[0]), f"zoom on {big[2]}"
    else:
        px = None
        if scene.port == "rajin" and grid0.crs is not None:
            try:
                aoi = load_port("rajin")
                polys = [
                    f.polygon for f in aoi.of_kind("pier", "berth") if f.name.startswith("Pier 2")
                ]
                pts = np.vstack([np.asarray(project(p, grid0.crs).exterior.coords) for p in polys])
                px, what, m = _apply(inv0, pts), "zoom on Pier 2", 10.0 / grid0.gsd_m
            except LabelError:
                px = None
        if px is None:
            if not rings:
                return None
            c = np.vstack([_apply(inv0, r[0]).mean(axis=0) for r in rings])
            cell = 60.0 / grid0.gsd_m
            keys, counts = np.unique(np.floor(c / cell).astype(int), axis=0, return_counts=True)
            centre = (keys[int(np.argmax(counts))] + 0.5) * cell
            px, what = centre[None] + np.array([[-cell, -cell], [cell, cell]]), "densest detections"
    (c0, r0), (c1, r1) = px.min(axis=0) - m, px.max(axis=0) + m
    side = max(c1 - c0, r1 - r0)
    cx, cy = (c0 + c1) / 2, (r0 + r1) / 2
    box = (max(0.0, cx - side / 2), max(0.0, cy - side / 2),
           min(float(grid0.width), cx + side / 2), min(float(grid0.height), cy + side / 2))  # fmt: skip
    if box[2] <= box[0] + 1 or box[3] <= box[1] + 1:
        return None
    return box, what


def scene_quicklook(
    scene_path: str | Path,
    detections_path: str | Path | None,
    title: str,
    *,
    max_px: int = 560,
    zoom_margin_m: float = 45.0,
) -> bytes | None:
    """PNG bytes of the scene's quicklook (see the module docstring); None when the scene
    cannot be read (logged)."""
    from ..errors import CountError
    from ..imagery.raster import SceneReader, open_scene
    from .plots import quicklook_png

    try:
        scene = open_scene(scene_path)
        feats: list = []
        if detections_path and Path(detections_path).is_file():
            from ..labels.io import read_geojson

            feats, _ = read_geojson(detections_path)
        with SceneReader(scene, target_gsd_m=scene.gsd_m) as native:
            grid0 = native.grid
        rings = _rings(feats, grid0.crs) if grid0.crs is not None else []
        full = (0.0, 0.0, float(grid0.width), float(grid0.height))
        panels = [_panel(scene, full, grid0, rings, max_px, "whole scene")]
        target = _zoom_target(scene, grid0, rings, zoom_margin_m)
        if target is not None:
            box, what = target
            panels.append(_panel(scene, box, grid0, rings, max_px, what))
    except CountError as e:
        log.warning("quicklook of %s skipped: %s", scene_path, e)
        return None
    regions = [r[1] for r in rings if r[1] is not None]
    counts = {r: regions.count(r) for r in set(regions)}
    return quicklook_png(panels, title, counts)
