"""Training windows cut from label sets: GeoJSON truth/reviewed files or COCO json + scenes.

A label folder may hold:

- GeoJSON FeatureCollections of containers (and optionally ship hulls) in the project's
  schema (``detector.labels.io``): truth from ``ccount synth``, reviewed detections, etc. Each
  is paired with its scene, found by the collection's ``scene`` property (or the file name up
  to its first dot) as ``<scene>.tif``/``.tiff`` anywhere under the folder or in a
  ``scenes/`` folder beside it.
- COCO instances json (``detector.labels.io.read_coco``); image ``file_name`` relative to it.

Scenes are read through :class:`detector.imagery.raster.SceneReader` in the model frame; labels are
mapped into it (map coordinates -> model-frame pixels), so windows look exactly like what
inference sees. Windows are centred on labelled containers (jittered) with one in four at
random places; hidden containers (``visible`` false) get no target. Hull masks come from
ship features when a file has any, else hulls are "unlabelled" for its windows.

A *reviewed* label file (``ccount review labels``) also carries, in its collection
properties, ``reviewed``: the lon/lat rings of the areas reviewed exhaustively, and
``scene_path``: its scene file. Only those areas are labelled: each window gets a loss mask
(outside the areas the loss ignores the image, so unreviewed containers are never taught as
background), and the random windows are placed inside the areas.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..detections import Detections
from ..errors import LabelError, SceneFormatError
from .data import LabelSample

__all__ = ["boxes_from_corners", "find_label_files", "load_label_samples"]

_SCENE_SUFFIXES = (".tif", ".tiff", ".TIF", ".TIFF")


def scene_sun_elevation(scene) -> float | None:
    """Sun elevation over ``scene`` at its acquisition time (None when unknown)."""
    from ..imagery.sun import scene_sun

    sun = scene_sun(scene)
    return None if sun is None else sun[0]


def boxes_from_corners(corners: np.ndarray) -> tuple[np.ndarray, ...]:
    """Oriented boxes from corners float [N, 4, 2] (x, y) in order around the box.

    Returns ``(cx, cy, length, width, angle_rad)`` each [N]: centre = corner mean; length and
    width = mean lengths of the longer and shorter pair of opposite edges; angle of the long
    axis from +x towards +y folded into [0, pi).
    """
    c = np.asarray(corners, float).reshape(-1, 4, 2)
    e1 = c[:, 1] - c[:, 0]
    e2 = c[:, 2] - c[:, 1]
    l1 = 0.5 * (np.hypot(*e1.T) + np.hypot(*(c[:, 2] - c[:, 3]).T))
    l2 = 0.5 * (np.hypot(*e2.T) + np.hypot(*(c[:, 3] - c[:, 0]).T))
    long_edge = np.where((l1 >= l2)[:, None], e1, e2)
    angle = np.mod(np.arctan2(long_edge[:, 1], long_edge[:, 0]), np.pi)
    angle = np.where(angle >= np.pi, 0.0, angle)
    return c[:, :, 0].mean(1), c[:, :, 1].mean(1), np.maximum(l1, l2), np.minimum(l1, l2), angle


def find_label_files(root: Path) -> tuple[list[Path], list[Path]]:
    """(GeoJSON label files, COCO json files) under ``root``, sorted."""
    geo = sorted(p for p in root.rglob("*.geojson") if not p.name.startswith("."))
    coco = []
    for p in sorted(root.rglob("*.json")):
        if p.name.startswith("."):
            continue
        try:
            head = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(head, dict) and "images" in head and "annotations" in head:
            coco.append(p)
    return geo, coco


def _find_scene(label: Path, scene_id: str, root: Path) -> Path:
    for base in (root, label.parent, label.parent.parent / "scenes"):
        for suf in _SCENE_SUFFIXES:
            for cand in (base / f"{scene_id}{suf}", *base.rglob(f"{scene_id}{suf}")):
                if cand.is_file():
                    return cand
    raise LabelError(
        f"{label}: no scene file {scene_id}.tif found under {root} or in a scenes/ folder beside it"
    )


def _affine(t, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply the Affine ``t`` to coordinate arrays (elementwise)."""
    return t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f


def _to_pixels(xy: np.ndarray, src_crs, grid) -> np.ndarray:
    """Map coordinates [..., 2] in ``src_crs`` -> model-frame pixels of ``grid``."""
    from pyproj import CRS, Transformer

    flat = np.asarray(xy, float).reshape(-1, 2)
    if grid.crs is not None and src_crs is not None and CRS(src_crs) != CRS(grid.crs):
        tr = Transformer.from_crs(src_crs, grid.crs, always_xy=True)
        flat = np.stack(tr.transform(flat[:, 0], flat[:, 1]), axis=1)
    cols, rows = _affine(~grid.transform, flat[:, 0], flat[:, 1])
    return np.stack([cols, rows], axis=1).reshape(np.shape(xy))


def _windows(
    rng,
    dets: Detections,
    height: int,
    width: int,
    n: int,
    size: int,
    areas_px: list[np.ndarray] | None = None,
) -> list[tuple]:
    """``n`` window corners (row, col): three in four centred on a random container
    (jittered), the others (and all when there is none) at a random point of the scene, or
    of a random reviewed area when ``areas_px`` is given."""
    out = []
    for k in range(n):
        if len(dets) and k % 4 != 3:
            i = int(rng.integers(len(dets)))
            cx = dets.cx[i] + rng.uniform(-size / 3, size / 3)
            cy = dets.cy[i] + rng.uniform(-size / 3, size / 3)
        elif areas_px is None:
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        else:
            a = areas_px[int(rng.integers(len(areas_px)))]
            (x0, y0), (x1, y1) = a.min(axis=0), a.max(axis=0)
            cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        c0 = int(np.clip(round(cx - size / 2), 0, max(0, width - size)))
        r0 = int(np.clip(round(cy - size / 2), 0, max(0, height - size)))
        out.append((r0, c0))
    return out


def _area_mask(areas_px: list[np.ndarray], r0: int, c0: int, size: int) -> np.ndarray:
    """bool [size, size]: window pixels whose centre lies inside one of the areas."""
    import cv2

    m = np.zeros((size, size), np.uint8)
    for poly in areas_px:
        # pixel (r, c) covers [c, c+1): shift by half a pixel so centres decide
        pts = np.round((poly - [c0 + 0.5, r0 + 0.5]) * 16).astype(np.int32)
        cv2.fillPoly(m, [pts], 1, shift=4)
    return m.astype(bool)


def _cut(
    reader,
    dets: Detections,
    hulls_px,
    windows,
    size: int,
    sun_elevation_deg: float | None,
    areas_px: list[np.ndarray] | None = None,
) -> list[LabelSample]:
    import cv2

    from ..imagery.tiling import Window

    out = []
    for r0, c0 in windows:
        tile = reader.read(Window(r0, c0, size, size))
        hull = None
        if hulls_px is not None:
            hull = np.zeros((size, size), np.uint8)
            for poly in hulls_px:
                pts = np.round((poly - [c0, r0]) * 16).astype(np.int32)
                cv2.fillPoly(hull, [pts], 1, shift=4)
            hull = hull.astype(bool)
        # only the window's own containers: targets keep centres inside the window anyway
        inside = (dets.cx >= c0) & (dets.cx < c0 + size) & (dets.cy >= r0) & (dets.cy < r0 + size)
        win = dets.select(inside).shifted(-c0, -r0)
        loss = None if areas_px is None else _area_mask(areas_px, r0, c0, size)
        out.append(LabelSample(tile.image, win, hull, None, sun_elevation_deg, loss))
    return out


def _geojson_samples(
    path: Path, root: Path, *, size: int, rng, per_scene: int
) -> list[LabelSample]:
    from ..imagery.raster import SceneReader, open_scene
    from ..labels.io import read_containers, read_geojson
    from .weights import canonical_gsd_m

    feats, props = read_geojson(path)
    table = read_containers(path)
    scene_id = str(props.get("scene") or path.name.split(".")[0])
    scene_path = props.get("scene_path")
    if scene_path and (path.parent / str(scene_path)).is_file():
        scene = open_scene(path.parent / str(scene_path))
    else:
        scene = open_scene(_find_scene(path, scene_id, root))
    with SceneReader(scene, target_gsd_m=canonical_gsd_m()) as reader:
        grid = reader.grid
        corners = _to_pixels(table.corners_m, table.crs, grid)
        cx, cy, length, width, angle = boxes_from_corners(corners)
        tiers = np.where(np.isnan(table.tiers), table.tiers_est, table.tiers)
        dets = Detections(
            cx, cy, length, width, angle, table.kind, np.ones(len(cx)), tiers, table.visible
        )
        ships = [f for f in feats if (f.get("properties") or {}).get("type") == "ship"]
        hulls = None
        if ships:
            hulls = [
                _to_pixels(
                    np.asarray(f["geometry"]["coordinates"][0], float)[:, :2], "EPSG:4326", grid
                )
                for f in ships
            ]
        reviewed = props.get("reviewed")
        if reviewed is None:
            wins = _windows(
                rng, dets.select(dets.visible), grid.height, grid.width, per_scene, size
            )
            return _cut(reader, dets, hulls, wins, size, scene_sun_elevation(scene))
        if not isinstance(reviewed, list) or not reviewed:
            raise LabelError(f"{path}: 'reviewed' must list the reviewed areas as lon/lat rings")
        try:
            areas = [_to_pixels(np.asarray(r, float)[:, :2], "EPSG:4326", grid) for r in reviewed]
        except (TypeError, ValueError, IndexError) as e:
            raise LabelError(f"{path}: 'reviewed' holds a bad ring ({e})") from None
        visible = dets.select(dets.visible)
        wins = _windows(rng, visible, grid.height, grid.width, per_scene, size, areas)
        return _cut(reader, dets, hulls, wins, size, scene_sun_elevation(scene), areas)


def _coco_samples(path: Path, *, size: int, rng, per_scene: int) -> list[LabelSample]:
    from ..imagery.raster import SceneReader, open_scene
    from ..labels.io import read_coco
    from .weights import canonical_gsd_m

    out: list[LabelSample] = []
    gsd = canonical_gsd_m()
    for im in read_coco(path):
        file = path.parent / im.file_name
        try:
            scene = open_scene(file)
        except SceneFormatError:  # no CRS: take its pixels as the canonical GSD
            scene = open_scene(file, gsd_m=gsd)
        with SceneReader(scene, target_gsd_m=gsd) as reader:
            grid = reader.grid
            native = im.containers.corners()  # native image pixels
            xs, ys = _affine(scene.transform, native[..., 0], native[..., 1])
            corners = _to_pixels(np.stack([xs, ys], axis=-1), scene.crs, grid)
            cx, cy, length, width, angle = boxes_from_corners(corners)
            d = im.containers
            dets = Detections(cx, cy, length, width, angle, d.kind, d.score, d.tiers)
            wins = _windows(rng, dets, grid.height, grid.width, per_scene, size)
            out += _cut(reader, dets, None, wins, size, scene_sun_elevation(scene))
    return out


def load_label_samples(
    root: str | os.PathLike,
    *,
    size_px: int,
    rng: np.random.Generator,
    windows_per_scene: int = 48,
    log: Callable[[str], None] | None = None,
) -> list[LabelSample]:
    """Cut ``windows_per_scene`` model-frame windows of ``size_px`` from every labelled scene
    under ``root``. Raises :class:`LabelError` when there is nothing to train on."""
    root = Path(root)
    geo, coco = find_label_files(root)
    samples: list[LabelSample] = []
    for p in geo:
        samples += _geojson_samples(p, root, size=size_px, rng=rng, per_scene=windows_per_scene)
    for p in coco:
        samples += _coco_samples(p, size=size_px, rng=rng, per_scene=windows_per_scene)
    if not samples:
        raise LabelError(f"{root}: no GeoJSON label files or COCO json with images found")
    n = sum(int(s.containers.visible.sum()) for s in samples)
    if log:
        log(
            f"label sets: {len(geo)} GeoJSON + {len(coco)} COCO files -> {len(samples)} windows, {n} containers"
        )
    return samples
