"""Tiled inference over one scene: batches, prefetching reads, merge by ownership.

Frames: tiles are planned in the scene's *model frame* (``SceneReader.grid``: the scene
resampled to the model's GSD). A predictor turns a batch of tile images into detections in
*tile pixels*; :func:`owned` keeps a detection only when its centre lies in its tile's core
(cores partition the scene, so every object is counted by exactly one tile and the result
does not depend on the tile size; no NMS across seams) and shifts it to *scene model-frame
pixels*. Detections centred on invalid (nodata) pixels are dropped, and so is a detection
centred inside a higher-scoring one's footprint, across seams too
(:func:`~detector.detections.drop_contained`: a second peak on one top). Hull and bridge
probabilities are pasted, core by core, into scene-level maps of stride ``map_stride_px``
(cell (i, j) covers scene pixels [j*s, (j+1)*s) x [i*s, (i+1)*s)), stored as uint8 (p * 255).

Reading: one or more readers (each its own dataset handle, used by one thread at a time) read
batches ahead in background threads, one thread per reader. Memory: at most
``max(prefetch + 1, readers) + 1`` batches of tiles, the detections and the two low-res maps
are held; the scene itself never is.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

import cv2
import numpy as np

from ..detections import Detections, drop_contained
from ..imagery.prefetch import Prefetcher
from .batches import batch_reader

__all__ = [
    "TileOutput",
    "TilePredictor",
    "InferenceSettings",
    "MapPart",
    "SceneMaps",
    "tile_clusters",
    "SceneInference",
    "owned",
    "paste_core",
    "core_cells",
    "infer_scene",
]

HULL_EDGE_MARGIN_PX = 12  # model pixels (~5 m)
PAD_MULTIPLE_PX = 32  # batch images are padded to a multiple of the network's total stride


@dataclass(frozen=True)
class TileOutput:
    """What a predictor returns for one tile.

    ``dets``: containers in tile pixels. ``hull_prob``/``bridge_prob``: float [h/t, w/t]
    probabilities 0..1 at the model's output stride t (cell (a, b) covers tile pixels
    [b*t, (b+1)*t) x [a*t, (a+1)*t)), or None when the model has no such head.
    """

    dets: Detections
    hull_prob: np.ndarray | None = None
    bridge_prob: np.ndarray | None = None


class TilePredictor(Protocol):
    """Callable: float32 [B, 3, H, W] tile images (0..1) -> B :class:`TileOutput`."""

    def __call__(self, images: np.ndarray) -> list[TileOutput]: ...


@dataclass(frozen=True)
class InferenceSettings:
    tile_px: int = 512
    overlap_px: int = 64
    batch_size: int = 8
    map_stride_px: int = 4
    prefetch_batches: int = 2


@dataclass(frozen=True)
class MapPart:
    """Scene-level maps over one cluster of run tiles: uint8 ``hull`` and ``bridge`` (p * 255)
    over cells ``[row0, row0 + h) x [col0, col0 + w)`` of the scene's map grid."""

    row0: int
    col0: int
    hull: np.ndarray
    bridge: np.ndarray


@dataclass(frozen=True)
class SceneMaps:
    """Scene-level uint8 probability maps (p * 255) on a grid of ``shape`` = [ceil(H/s),
    ceil(W/s)] cells, held as ``parts``: one :class:`MapPart` per cluster of run tiles
    (tiles whose cores touch, 8-connected), over the cluster's bounding box, so memory
    follows the tiles that hold data, not the scene's declared size. A cell whose centre
    lies outside the frame (last row/column when s does not divide H/W) or in no run tile
    stays 0."""

    parts: tuple[MapPart, ...]
    shape: tuple[int, int]
    stride_px: int

    def dense(self, name: str) -> np.ndarray:
        """The whole uint8 map ``hull`` or ``bridge`` [shape] (allocates it: small scenes and
        tests only)."""
        out = np.zeros(self.shape, np.uint8)
        for p in self.parts:
            a = getattr(p, name)
            view = out[p.row0 : p.row0 + a.shape[0], p.col0 : p.col0 + a.shape[1]]
            np.maximum(view, a, out=view)
        return out

    @property
    def hull(self) -> np.ndarray:
        return self.dense("hull")

    @property
    def bridge(self) -> np.ndarray:
        return self.dense("bridge")

    def prob(self, name: str) -> np.ndarray:
        """float32 probabilities 0..1 of ``hull`` or ``bridge`` (whole map)."""
        return self.dense(name).astype(np.float32) / 255.0


def tile_clusters(
    tiles: Sequence, stride_px: int
) -> list[tuple[list[int], tuple[int, int, int, int]]]:
    """Clusters of ``tiles`` whose cores touch (8-connected on the tile grid), each as (tile
    indices into ``tiles``, cell box ``(i0, i1, j0, j1)`` of the map cells their cores own)."""
    from scipy import ndimage

    if not tiles:
        return []

    def index(starts_ends: list[tuple[int, int]]) -> dict[int, int]:
        # grid index of each core start; a run of missing rows (columns) between two starts
        # leaves an empty index between them, so they are not neighbours
        ends: dict[int, int] = {}
        for a, b in starts_ends:
            ends[a] = max(ends.get(a, a), b)
        out, k, prev_end = {}, 0, None
        for a in sorted(ends):
            k += 0 if prev_end is None else (1 if prev_end == a else 2)
            out[a], prev_end = k, ends[a]
        return out

    ri = index([(t.core.row_off, t.core.row_off + t.core.height) for t in tiles])
    ci = index([(t.core.col_off, t.core.col_off + t.core.width) for t in tiles])
    rows, cols = max(ri.values()) + 1, max(ci.values()) + 1
    grid = np.zeros((rows, cols), bool)
    pos = [(ri[t.core.row_off], ci[t.core.col_off]) for t in tiles]
    for r, c in pos:
        grid[r, c] = True
    lab, _ = ndimage.label(grid, structure=np.ones((3, 3), bool))
    groups: dict[int, list[int]] = {}
    for k, (r, c) in enumerate(pos):
        groups.setdefault(int(lab[r, c]), []).append(k)
    out = []
    for _, idx in sorted(groups.items()):
        boxes = [
            (*core_cells(tiles[k].core.row_off, tiles[k].core.height, stride_px),
             *core_cells(tiles[k].core.col_off, tiles[k].core.width, stride_px))
            for k in idx
        ]  # fmt: skip
        i0, i1 = min(b[0] for b in boxes), max(b[1] for b in boxes)
        j0, j1 = min(b[2] for b in boxes), max(b[3] for b in boxes)
        out.append((idx, (i0, i1, j0, j1)))
    return out


@dataclass(frozen=True)
class SceneInference:
    """Merged result: ``dets`` in scene model-frame pixels, maps, tiles run, seconds spent
    (``verify_s``: the crop verifier's share, crops included)."""

    dets: Detections
    maps: SceneMaps
    tiles_run: int
    read_s: float
    model_s: float
    total_s: float
    verify_s: float = 0.0


def owned(dets: Detections, tile, valid: np.ndarray | None = None) -> Detections:
    """Detections of one tile that the tile owns, shifted to scene pixels.

    ``dets`` in tile pixels (origin at ``tile.window``'s top-left); kept when the centre,
    in scene pixels, lies in ``tile.core`` (half-open: col_off <= cx < col_off + width) and,
    if ``valid`` (bool [h, w], tile pixels) is given, on a valid pixel.
    """
    if not len(dets):
        return Detections.empty()
    w, c = tile.window, tile.core
    cx, cy = dets.cx + w.col_off, dets.cy + w.row_off
    keep = (
        (cx >= c.col_off)
        & (cx < c.col_off + c.width)
        & (cy >= c.row_off)
        & (cy < c.row_off + c.height)
    )
    if valid is not None:
        h, wd = valid.shape
        r = np.clip(np.floor(dets.cy).astype(np.int64), 0, h - 1)
        q = np.clip(np.floor(dets.cx).astype(np.int64), 0, wd - 1)
        keep &= valid[r, q]
    return dets.select(keep).shifted(w.col_off, w.row_off)


def core_cells(offset_px: int, size_px: int, stride_px: int) -> tuple[int, int]:
    """Map cells [i0, i1) whose centres ((i + 0.5) * s) lie in [offset, offset + size)."""
    s = stride_px

    def first(edge: int) -> int:  # smallest i with (i + 0.5) * s >= edge
        return -((s - 2 * edge) // (2 * s))

    return first(offset_px), first(offset_px + size_px)


def paste_core(
    scene_map: np.ndarray,
    tile_map: np.ndarray,
    tile,
    *,
    scene_stride_px: int,
    tile_stride_px: float,
    origin: tuple[int, int] = (0, 0),
) -> None:
    """Write ``tile_map`` over ``tile.core`` into ``scene_map`` (in place, uint8 p * 255).

    ``scene_map`` may be a part of the scene's map whose cell [0, 0] is the scene's cell
    ``origin`` (row, col).

    ``scene_map`` uint8 [ceil(H/s), ceil(W/s)] at stride s = ``scene_stride_px`` scene
    pixels; ``tile_map`` float [h/t, w/t] probabilities at stride t = ``tile_stride_px``
    tile pixels. Each scene cell whose centre lies in the core takes the mean of the
    k x k tile cells (k = round(s / t), at least 1) starting at the one holding the cell's
    top-left pixel: an area average, so a speckled map does not alias.
    """
    w, c, s = tile.window, tile.core, scene_stride_px
    i0, i1 = core_cells(c.row_off, c.height, s)
    j0, j1 = core_cells(c.col_off, c.width, s)
    r0, c0 = origin
    i1, j1 = min(i1, scene_map.shape[0] + r0), min(j1, scene_map.shape[1] + c0)
    i0, j0 = max(i0, r0), max(j0, c0)
    if i1 <= i0 or j1 <= j0:
        return
    k = max(1, round(s / tile_stride_px))
    ys = np.arange(i0, i1) * s - w.row_off
    xs = np.arange(j0, j1) * s - w.col_off
    a = np.floor(ys / tile_stride_px).astype(np.int64)
    b = np.floor(xs / tile_stride_px).astype(np.int64)
    hm, wm = tile_map.shape
    acc = np.zeros((len(a), len(b)), np.float32)
    for da in range(k):
        rows = np.clip(a + da, 0, hm - 1)
        for db in range(k):
            acc += tile_map[np.ix_(rows, np.clip(b + db, 0, wm - 1))]
    scene_map[i0 - r0 : i1 - r0, j0 - c0 : j1 - c0] = np.clip(
        np.rint(acc * (255.0 / (k * k))), 0, 255
    ).astype(np.uint8)


def _inner_valid(
    valid: np.ndarray, tile, shape: tuple[int, ...], frame: tuple[int, int] | None = None
) -> np.ndarray:
    """float32 [h, w] at a probability map's ``shape``: 1 where every tile pixel within
    ``HULL_EDGE_MARGIN_PX`` is valid. ``valid`` bool [H, W] in (padded) tile pixels;
    ``frame`` (height, width) of the model frame: the part of a window past its end (an
    aligned last tile's) is left out, as the frame's edge is no nodata border.

    Nodata borders next to water look like a hull edge to the model; hull and bridge
    probabilities there are dropped so no phantom ship follows a scene's footprint. Only
    the tile's own window is eroded (edges replicated), so the result does not depend on
    the tiling or on batch padding.
    """
    m = HULL_EDGE_MARGIN_PX
    th, tw = tile.window.height, tile.window.width
    if frame is not None:
        th = max(1, min(th, frame[0] - tile.window.row_off))
        tw = max(1, min(tw, frame[1] - tile.window.col_off))
    out = np.zeros(valid.shape, np.uint8)
    out[:th, :tw] = cv2.erode(
        valid[:th, :tw].astype(np.uint8),
        np.ones((2 * m + 1, 2 * m + 1), np.uint8),
        borderType=cv2.BORDER_REPLICATE,
    )
    return cv2.resize(out, (shape[-1], shape[-2]), interpolation=cv2.INTER_NEAREST).astype(
        np.float32
    )


def infer_scene(
    predictor: TilePredictor,
    reader,
    tiles: Sequence,
    settings: InferenceSettings,
    *,
    progress: Callable[[int], None] | None = None,
    drop_inside: bool = True,
    verifier: Callable[[np.ndarray, list[tuple[int, Detections]]], list[np.ndarray]] | None = None,
) -> SceneInference:
    """Run ``predictor`` over ``tiles`` of ``reader``'s model frame and merge by ownership.

    ``reader``: object with ``grid`` (width, height of the model frame) and
    ``read(window) -> TileImage`` (float32 [3, h, w] 0..1, bool valid [h, w]); or a sequence
    of such readers of the same scene, read from in parallel, one thread each.
    ``tiles``: the tiles to run (cores of all planned tiles partition the frame; skipped
    tiles simply contribute nothing). ``progress(n)`` is called with tiles done per batch.
    ``drop_inside``: clear the detections of second peaks
    (:func:`~detector.detections.drop_contained`); a row band of a scene leaves that to the
    merge of all bands (:func:`detector.detect.bands.merge_bands`). ``verifier(images,
    parts)``: the crop verifier (:class:`detector.detect.verify.CropVerifier`), given each
    tile's owned detections in tile pixels, returns their probabilities (``Detections.verify``).
    """
    t_start = time.perf_counter()
    readers = list(reader) if isinstance(reader, Sequence) else [reader]
    height, width = readers[0].grid.height, readers[0].grid.width
    s = settings.map_stride_px
    shape = (math.ceil(height / s), math.ceil(width / s))
    # maps only over clusters of run tiles: a mostly empty scene costs what its data costs
    parts: list[MapPart] = []
    part_of: dict[tuple[int, int], int] = {}  # tile core's (row, col) offset -> its part
    for idx, (i0, i1, j0, j1) in tile_clusters(tiles, s):
        i1, j1 = min(i1, shape[0]), min(j1, shape[1])
        size = (max(i1 - i0, 0), max(j1 - j0, 0))
        parts.append(MapPart(i0, j0, np.zeros(size, np.uint8), np.zeros(size, np.uint8)))
        for k in idx:
            part_of[tiles[k].core.row_off, tiles[k].core.col_off] = len(parts) - 1
    found: list[Detections] = []
    model_s = verify_s = 0.0
    bs = max(1, settings.batch_size)
    chunks = [tuple(tiles[i : i + bs]) for i in range(0, len(tiles), bs)]
    depth = max(1, settings.prefetch_batches)
    with contextlib.ExitStack() as stack:
        pool = None
        if len(readers) > 1:
            pool = stack.enter_context(ThreadPoolExecutor(len(readers), "ccount-read"))
        read = batch_reader(readers, pool, PAD_MULTIPLE_PX)
        prefetch = Prefetcher(chunks, read, depth=depth, workers=1 if pool is None else 2)
        batches = stack.enter_context(prefetch)
        for batch in batches:
            t0 = time.perf_counter()
            outputs = predictor(batch.images)
            model_s += time.perf_counter() - t0
            if len(outputs) != len(batch.tiles):
                raise RuntimeError(
                    f"predictor returned {len(outputs)} outputs for {len(batch.tiles)} tiles"
                )
            bh = batch.images.shape[2]
            mine = [owned(out.dets, t, batch.valid[k])
                    for k, (t, out) in enumerate(zip(batch.tiles, outputs, strict=True))]  # fmt: skip
            if verifier is not None:
                t0 = time.perf_counter()
                local = [(k, d.shifted(-t.window.col_off, -t.window.row_off))
                         for k, (t, d) in enumerate(zip(batch.tiles, mine, strict=True))]  # fmt: skip
                probs = verifier(batch.images, local)
                mine = [replace(d, verify=p) for d, p in zip(mine, probs, strict=True)]
                verify_s += time.perf_counter() - t0
            found.extend(mine)
            for k, (tile, out) in enumerate(zip(batch.tiles, outputs, strict=True)):
                part = parts[part_of[tile.core.row_off, tile.core.col_off]]
                for prob, target in ((out.hull_prob, part.hull), (out.bridge_prob, part.bridge)):
                    if prob is not None:
                        paste_core(
                            target,
                            np.asarray(prob, np.float32)
                            * _inner_valid(batch.valid[k], tile, prob.shape, (height, width)),
                            tile,
                            scene_stride_px=s,
                            tile_stride_px=bh / prob.shape[0],
                            origin=(part.row0, part.col0),
                        )
            if progress is not None:
                progress(len(batch.tiles))
    return SceneInference(
        dets=drop_contained(Detections.concat(found)) if drop_inside else Detections.concat(found),
        maps=SceneMaps(parts=tuple(parts), shape=shape, stride_px=s),
        tiles_run=len(tiles),
        read_s=prefetch.read_s,
        model_s=model_s,
        total_s=time.perf_counter() - t_start,
        verify_s=verify_s,
    )
