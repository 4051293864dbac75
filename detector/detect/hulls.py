"""Ship hulls from the model's hull and bridge maps, and which registry ship each one is.

Frames: hull probability maps are at stride ``s`` of the scene's model frame (cell (i, j)
covers pixels [j*s, (j+1)*s) x [i*s, (i+1)*s)); hull polygons are in model-frame pixels.

Ships: the hull map is thresholded and split into connected components; each one's
minimum-area rectangle gives length and beam (metres via the model GSD); the bow is the
narrower (tapered) end of the mask's width profile; the bridge position is the bridge map's
centroid inside the hull projected on the long axis, as a fraction of length from the bow.
The ship is the registry entry nearest in (length, beam, bridge) normalised by
:class:`ShipTolerance`, or ``"unknown"`` when none is within tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import shapely
from affine import Affine
from rasterio.features import shapes
from scipy import ndimage
from shapely.geometry import Polygon, shape
from shapely.ops import unary_union

from ..detections import Hull
from ..ships import ShipSpec
from .locate import PixelAOI, berth_of, land_union

__all__ = ["ShipTolerance", "ShipHulls", "hull_geometry", "identify_ship", "find_hulls"]


#: The shortest hull kept, metres. The smallest container feeders are ~90 m long, and a
#: hull may be found a little short. At 40 m the finder outlined 34 / 47 / 68 components
#: that were no ship (quay ends, yard blocks, crane rails; 40-60 m most of them) on
#: synthetic worlds seeds 1 / winter 11 / 21 besides their 60 / 58 / 63 ships, and sheds,
#: greenhouses and town blocks (42-66 m) on look-alike scenes. At 80 m: 6 / 16 / 18 left,
#: ships lost 0 / 1 / 1 (hulls found at 58 and 78 m), look-alike hulls none
#: (``scripts/eval_ships.py`` reports both).
MIN_HULL_LENGTH_M = 80.0

#: The narrower end is taken for the bow when it is at least this much narrower than the
#: other; below that both ends are tried and length and beam decide. Measured on synthetic
#: worlds (world 21 in every family; ``scripts/eval_ships.py``), ships named right / wrong
#: at 0.05 vs 0.25: classic worlds 1 and 21 91 / 8 vs 98 / 7, flat 10 / 3 vs 8 / 8, photo
#: 15 / 0 vs 16 / 2. The taper picks the right end of 70-85 % of hulls in every family,
#: while the hulls' length is read 8-14 m long in flat and photo: a wider rule names more
#: ships right where length is unbiased and more wrong where it is not. A wrong name gives
#: a load to the wrong ship; on imagery nobody here made the bias is unknown: 0.05.
BOW_TAPER_MIN = 0.05


@dataclass(frozen=True)
class ShipTolerance:
    """How far a measured hull may be from a registry ship and still be that ship.

    Each cue is divided by its tolerance; the ship is accepted when the root mean square of
    the available normalised differences is <= ``max_rms``.
    """

    length_m: float = 6.0
    beam_m: float = 2.0
    bridge_frac: float = 0.12
    max_rms: float = 1.0


@dataclass(frozen=True)
class ShipHulls:
    """Hulls found in a scene and the component label map they came from.

    ``labels`` int32 [Hm, Wm] at stride ``stride_px``: 0 = no hull, k = ``hulls[k - 1]``.
    ``berths[k]`` is the AOI berth the hull overlaps most (None if none).
    """

    hulls: tuple[Hull, ...]
    labels: np.ndarray
    stride_px: int
    berths: tuple[str | None, ...] = ()
    origin: tuple[int, int] = (0, 0)  # scene map cell (row, col) of labels[0, 0]
    more: tuple[tuple[int, int, np.ndarray], ...] = ()  # (row0, col0, labels) of other parts

    @staticmethod
    def empty(shape: tuple[int, int] = (0, 0), stride_px: int = 4) -> ShipHulls:
        return ShipHulls((), np.zeros(shape, np.int32), stride_px, ())

    def label_parts(self) -> tuple[tuple[int, int, np.ndarray], ...]:
        """``(row0, col0, labels)`` of every part: ``labels`` int32, 0 = no hull, k =
        ``hulls[k - 1]``, cell [0, 0] at the scene map's cell (row0, col0)."""
        return ((*self.origin, self.labels), *self.more)

    @staticmethod
    def merge(parts: Sequence[ShipHulls]) -> ShipHulls:
        """One :class:`ShipHulls` of several found on separate parts of a scene's maps
        (labels renumbered so k still means ``hulls[k - 1]``)."""
        if not parts:
            return ShipHulls.empty()
        hulls: list[Hull] = []
        berths: list[str | None] = []
        labs: list[tuple[int, int, np.ndarray]] = []
        for p in parts:
            lab = p.labels
            if hulls:
                lab = np.where(lab > 0, lab + len(hulls), 0).astype(np.int32)
            labs.append((*p.origin, lab))
            hulls.extend(p.hulls)
            berths.extend(p.berths)
        first = labs[0]
        return ShipHulls(tuple(hulls), first[2], parts[0].stride_px, tuple(berths),
                         (first[0], first[1]), tuple(labs[1:]))  # fmt: skip


def _axis_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre, long-axis unit vector and across unit vector of points [N, 2] (minAreaRect)."""
    rect = cv2.minAreaRect(points.astype(np.float32))
    box = cv2.boxPoints(rect).astype(np.float64)
    e1, e2 = box[1] - box[0], box[2] - box[1]
    long_edge = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
    n = np.hypot(*long_edge)
    u = long_edge / n if n > 0 else np.array([1.0, 0.0])
    return np.asarray(rect[0], np.float64), u, np.array([-u[1], u[0]])


def hull_geometry(
    cells: np.ndarray,
    bridge_cells: np.ndarray,
    *,
    stride_px: int,
    gsd_m: float,
) -> tuple[float, float, float, bool]:
    """Length, beam, bridge position and bow certainty of one hull component.

    ``cells`` int [N, 2] (row, col) map cells of the hull; ``bridge_cells`` int [M, 2] the
    bridge cells inside it (M may be 0). Returns ``(length_m, beam_m, bridge_from_bow,
    bow_known)``: bridge_from_bow is NaN without bridge cells; ``bow_known`` is False when
    the ends differ in width by less than :data:`BOW_TAPER_MIN` (the bow could be either end).
    """
    s = float(stride_px)
    pts = (cells[:, ::-1].astype(np.float64) + 0.5) * s  # (x, y) cell centres, pixels
    centre, u, _ = _axis_frame(pts)
    t = (pts - centre) @ u
    # cell centres fill the hull up to a fraction of a cell from its ends (a quarter cell
    # each side on average over headings)
    t_min, t_max = t.min() - s / 4, t.max() + s / 4
    length_px = t_max - t_min
    # width profile along the axis from areas (cells per slab x cell area / slab length),
    # unbiased at any heading, unlike the extent of cell centres across the axis
    nbins = max(int(round(length_px / s)), 1)
    idx = np.clip(((t - t_min) / length_px * nbins).astype(np.int64), 0, nbins - 1)
    width = np.bincount(idx, minlength=nbins) * (s * s) / (length_px / nbins)
    body = width[nbins // 4 : max(nbins - nbins // 4, nbins // 4 + 1)]
    beam_px = float(body.mean())
    end = max(int(round(nbins * 0.15)), 1)
    head, tail = width[:end].mean(), width[-end:].mean()
    bow_at_min = head <= tail
    bow_known = abs(head - tail) > BOW_TAPER_MIN * max(head, tail, 1e-9)
    frac = float("nan")
    if len(bridge_cells):
        bpts = (bridge_cells[:, ::-1].astype(np.float64) + 0.5) * s
        tb = float(((bpts - centre) @ u).mean())
        frac = (tb - t_min) / length_px if bow_at_min else (t_max - tb) / length_px
        frac = float(np.clip(frac, 0.0, 1.0))
    return float(length_px * gsd_m), float(beam_px * gsd_m), frac, bool(bow_known)


def identify_ship(
    length_m: float,
    beam_m: float,
    bridge_from_bow: float,
    registry: Sequence[ShipSpec],
    *,
    bow_known: bool = True,
    tolerance: ShipTolerance = ShipTolerance(),
) -> tuple[str, float]:
    """The registry ship nearest to the measured hull, or ``"unknown"``; and its RMS distance.

    A NaN ``bridge_from_bow`` leaves the bridge out; with ``bow_known`` False both
    orientations of the bridge are tried.
    """
    best, best_d = "unknown", float("inf")
    for spec in registry:
        terms = [
            (length_m - spec.loa_m) / tolerance.length_m,
            (beam_m - spec.beam_m) / tolerance.beam_m,
        ]
        if np.isfinite(bridge_from_bow):
            db = abs(bridge_from_bow - spec.bridge_from_bow)
            if not bow_known:
                db = min(db, abs(1.0 - bridge_from_bow - spec.bridge_from_bow))
            terms.append(db / tolerance.bridge_frac)
        d = float(np.sqrt(np.mean(np.square(terms))))
        if d < best_d:
            best, best_d = spec.name, d
    return (best if best_d <= tolerance.max_rms else "unknown"), best_d


def _land_frac(cells: np.ndarray, land, stride_px: int) -> float:
    """Share of map cells [N, 2] (row, col) whose centre lies on ``land`` (0 without land)."""
    if land is None:
        return 0.0
    x = (cells[:, 1] + 0.5) * stride_px
    y = (cells[:, 0] + 0.5) * stride_px
    return float(shapely.contains_xy(land, x, y).mean())


def _outline(mask: np.ndarray, row0: int, col0: int, stride_px: int) -> np.ndarray:
    """Polygon [K, 2] (x, y) pixels tracing the cell edges of a bool mask crop."""
    s = stride_px
    tr = Affine(s, 0, col0 * s, 0, s, row0 * s)
    geoms = [shape(g) for g, val in shapes(mask.astype(np.uint8), mask=mask, transform=tr) if val]
    poly = unary_union(geoms)
    if poly.geom_type != "Polygon":
        poly = max(poly.geoms, key=lambda g: g.area)
    poly = Polygon(poly.exterior).simplify(s * 0.5)
    return np.asarray(poly.exterior.coords, np.float64)


def find_hulls(
    hull_prob: np.ndarray,
    bridge_prob: np.ndarray,
    *,
    stride_px: int,
    gsd_m: float,
    registry: Sequence[ShipSpec],
    thresh: float = 0.3,
    geometry_thresh: float = 0.6,
    bridge_thresh: float = 0.3,
    min_length_m: float = MIN_HULL_LENGTH_M,
    max_length_m: float = 400.0,
    min_beam_m: float = 6.0,
    min_aspect: float = 3.0,
    max_land_frac: float = 0.5,
    bridgeless_min_score: float = 0.7,
    tolerance: ShipTolerance = ShipTolerance(),
    aoi: Sequence[PixelAOI] = (),
    origin: tuple[int, int] = (0, 0),
) -> ShipHulls:
    """Ship hulls from scene-level probability maps [Hm, Wm] at ``stride_px``: float 0..1, or
    uint8 p * 255 as :class:`detector.detect.inference.SceneMaps` stores them.

    Cells with p >= ``thresh``, closed over 2 cells, holes filled and opened over 1 cell,
    form the components (a deck of containers makes the map speckled); the bridge cells are
    those of a component with bridge p >= ``bridge_thresh``. Length, beam and taper are
    measured on the component's cells with p >= ``geometry_thresh``: the low threshold that
    holds a speckled deck together also reaches past the hull's edge (median beam +1.4 m,
    length +1.7 m on synthetic world seed 1; +0.6 / +0.4 m at 0.6, and ships named right
    39 -> 49 of 66 there, 42 -> 51 of 65 on world seed 11: ``scripts/eval_ships.py``).
    Components shorter than ``min_length_m`` (:data:`MIN_HULL_LENGTH_M`), longer than
    ``max_length_m`` (no ship; a confused map), narrower than ``min_beam_m`` or stubbier than ``min_aspect`` (length /
    beam; a block of containers, not a hull) are dropped, and so are components with more
    than ``max_land_frac`` of their cells on the port's land (``aoi`` features of
    :data:`LAND_KINDS`): a ship floats. Those are loaded piers or yard blocks the hull map
    took for a deck (on synthetic worlds seeds 1 and 11: 28 of the 31 hulls found where there
    was no ship, none of the 122 real ones, whose largest share on land was 0.35). A
    component without a bridge cell and a mean hull p under ``bridgeless_min_score`` is
    dropped too: a container ship has a superstructure, and those were clouds over the water
    and fields outside the port (chosen on worlds 1 and 11 with two four-family candidates:
    hulls where there was no ship 13 -> 6 and 16 -> 7, 1 real hull of 53-56 lost on each;
    held-out world 21: 16 -> 1, none lost; ``scripts/eval_ships.py``).
    Hull polygons are in model-frame pixels. The maps may be a part of the scene's maps whose
    cell [0, 0] is the scene's cell ``origin`` (row, col); the labels returned are the
    part's, with that origin.
    """
    r0, c0 = origin
    hull_prob, bridge_prob = np.asarray(hull_prob), np.asarray(bridge_prob)
    # uint8 maps hold p * 255 (see detector.detect.inference.SceneMaps): compare without a float copy
    scale = 255.0 if hull_prob.dtype == np.uint8 else 1.0
    # a deck full of containers gives a speckled hull map: close the gaps (2 cells), fill
    # holes, then drop specks
    mask = hull_prob >= thresh * scale
    mask = ndimage.binary_closing(mask, iterations=2)
    mask = ndimage.binary_fill_holes(mask)
    mask = ndimage.binary_opening(mask, iterations=1)
    labels, n = ndimage.label(mask)
    bridge = bridge_prob >= bridge_thresh * (255.0 if bridge_prob.dtype == np.uint8 else 1.0)
    land = land_union(aoi) if n else None
    hulls: list[Hull] = []
    out = np.zeros(labels.shape, np.int32)
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        comp = ndimage.binary_fill_holes(labels[sl] == k)
        rows, cols = np.nonzero(comp)
        cells = np.stack([rows + sl[0].start + r0, cols + sl[1].start + c0], axis=1)
        if len(cells) < 3 or _land_frac(cells, land, stride_px) > max_land_frac:
            continue
        b = bridge[sl] & comp
        score = float(hull_prob[sl][comp].mean()) / scale
        if not b.any() and score < bridgeless_min_score:
            continue
        br, bc = np.nonzero(b)
        bcells = np.stack([br + sl[0].start + r0, bc + sl[1].start + c0], axis=1)
        core = hull_prob[sl][comp] >= geometry_thresh * scale
        length_m, beam_m, frac, bow_known = hull_geometry(
            cells[core] if core.sum() >= 3 else cells, bcells, stride_px=stride_px, gsd_m=gsd_m
        )
        if (
            not (min_length_m <= length_m <= max_length_m)
            or beam_m < min_beam_m
            or length_m < min_aspect * beam_m
        ):
            continue
        name, _ = identify_ship(
            length_m, beam_m, frac, registry, bow_known=bow_known, tolerance=tolerance
        )
        polygon = _outline(comp, sl[0].start + r0, sl[1].start + c0, stride_px)
        hulls.append(Hull(polygon, length_m, beam_m, frac, name=name, score=score))
        out[sl][comp] = len(hulls)
    berths = tuple(berth_of(h.polygon, aoi) for h in hulls)
    return ShipHulls(tuple(hulls), out, stride_px, berths, (r0, c0))
