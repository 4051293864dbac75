"""Large scenes in row bands: each band a separate task, merged by the ownership rule.

A scene whose model frame holds more than ``band_mpx`` million pixels is split into *row
bands*: runs of whole tile rows of the scene's one tile plan (:func:`split_bands`). A band
reads the windows of its own tiles (which reach one overlap into the rows above and below,
as every tile's window does) and keeps the detections whose centre lies in its tiles'
cores; the cores of the bands' tiles partition the scene exactly as the unbanded plan's
do, so no detection is lost or counted twice and no extra overlap row is needed.

:func:`infer_band` runs one band (in this process, or as a Dask task on a worker) and
returns its :class:`~detector.detect.inference.SceneInference`: owned detections (not yet
cleared of second peaks, :func:`~detector.detections.drop_contained`, which looks across
band edges) and its hull/bridge map parts. :func:`merge_bands` joins them into what the
unbanded run gives: detections concatenated in plan order, then cleared of second peaks;
map parts rebuilt over the clusters of *all* run tiles (:func:`~detector.detect.inference.
tile_clusters`), so a ship lying across a band edge is one part and one hull. Memory while
a band runs: its batches, its detections and its map parts only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..detections import Detections, drop_contained
from .inference import InferenceSettings, MapPart, SceneInference, SceneMaps, tile_clusters

__all__ = [
    "BandJob",
    "BandRunner",
    "band_rows",
    "split_bands",
    "infer_band",
    "merge_bands",
    "run_bands",
]


@dataclass(frozen=True)
class BandJob:
    """One band of a scene: ``tiles`` (its run tiles, plan order) of ``scene`` (a
    :class:`~detector.imagery.raster.Scene`: a description, no open dataset), band
    ``index`` of ``count``."""

    scene: object
    tiles: tuple
    index: int
    count: int


def band_rows(
    height: int, width: int, *, tile_px: int, overlap_px: int, band_mpx: float, align_px: int = 1,
    phase_px: int = 0,
) -> int:  # fmt: skip
    """Tile rows per band: as many as keep a band's area (rows x row stride x ``width``)
    within ``band_mpx`` million model-frame pixels, at least 1; ``height`` x ``width`` at
    most ``band_mpx`` Mpx is one band (all rows)."""
    from ..imagery.tiling import axis_spans

    rows = len(axis_spans(height, tile_px, overlap_px, align_px, phase_px))
    if float(height) * float(width) <= band_mpx * 1e6:
        return rows
    stride = max(align_px, (tile_px - overlap_px) // align_px * align_px)
    return max(1, min(rows, math.floor(band_mpx * 1e6 / (float(width) * stride))))


def split_bands(
    tiles: Sequence, *, height: int, tile_px: int, overlap_px: int, per_band: int,
    align_px: int = 1, phase_px: int = 0,
) -> list[tuple]:  # fmt: skip
    """``tiles`` (run tiles of the plan of a ``height`` px high frame, plan order) grouped
    into bands of ``per_band`` consecutive tile rows of that plan (a row whose tiles were
    all skipped still counts as a row); bands without a run tile are left out."""
    from ..imagery.tiling import axis_spans

    spans = axis_spans(height, tile_px, overlap_px, align_px, phase_px)
    rank = {span[2]: k for k, span in enumerate(spans)}
    out: dict[int, list] = {}
    for t in tiles:
        out.setdefault(rank[t.core.row_off] // max(1, per_band), []).append(t)
    return [tuple(out[k]) for k in sorted(out)]


def infer_band(detector, job: BandJob, config, *, progress=None) -> SceneInference:
    """Run ``job``'s tiles through ``detector`` (a :class:`~detector.detect.pipeline.
    Detector`) with ``config`` (a ``DetectConfig``): readers of its own, GDAL's cache
    bounded; detections owned but not cleared of second peaks (:func:`merge_bands` does
    that over the whole scene)."""
    import contextlib

    import rasterio

    from ..imagery.raster import SceneReader
    from ..model import runtime
    from .inference import infer_scene
    from .pipeline import GDAL_CACHE_BYTES

    settings = InferenceSettings(
        tile_px=config.tile_px, overlap_px=config.overlap_px, batch_size=config.batch_size
    )
    n_read = runtime.reader_threads(config.read_threads, detector.device)
    n_read = max(1, min(n_read, len(job.tiles)))  # a batch's tiles read side by side
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES), contextlib.ExitStack() as stack:
        readers = [
            stack.enter_context(SceneReader(job.scene, target_gsd_m=detector.gsd_m))
            for _ in range(n_read)
        ]
        result = infer_scene(
            detector.predictor, readers, job.tiles, settings, progress=progress,
            drop_inside=False, verifier=getattr(detector, "verifier", None),
        )  # fmt: skip
    runtime.trim_freed_memory()
    return result


def run_bands(detector, jobs: Sequence[BandJob], config, *, progress=None) -> list[SceneInference]:
    """The in-process runner: bands one after the other (memory bounded by one band)."""
    return [infer_band(detector, job, config, progress=progress) for job in jobs]


#: ``map_bands(jobs, config) -> [SceneInference]``: how a scene's bands are run (in process
#: by default; on a Dask cluster, one task each: :mod:`detector.run.cluster`)
BandRunner = Callable[[Sequence[BandJob], object], list[SceneInference]]


def merge_bands(results: Sequence[SceneInference], tiles: Sequence) -> SceneInference:
    """The scene's :class:`SceneInference` from its bands' (in band order): detections
    concatenated (plan order) and cleared of second peaks across band edges; hull and bridge
    maps over the clusters of all ``tiles`` (the scene's run tiles), each band's parts
    pasted in (cells of a band's part that its tiles do not own are 0, and every cell is
    owned by one tile of one band, so the maximum is the unbanded value)."""
    if not results:
        raise ValueError("merge_bands needs at least one band")
    first = results[0].maps
    shape, s = first.shape, first.stride_px
    parts: list[MapPart] = []
    boxes = []
    for _, (i0, i1, j0, j1) in tile_clusters(tiles, s):
        i1, j1 = min(i1, shape[0]), min(j1, shape[1])
        size = (max(i1 - i0, 0), max(j1 - j0, 0))
        parts.append(MapPart(i0, j0, np.zeros(size, np.uint8), np.zeros(size, np.uint8)))
        boxes.append((i0, i0 + size[0], j0, j0 + size[1]))
    for res in results:
        for bp in res.maps.parts:
            h, w = bp.hull.shape
            for part, (i0, i1, j0, j1) in zip(parts, boxes, strict=True):
                r0, r1 = max(i0, bp.row0), min(i1, bp.row0 + h)
                c0, c1 = max(j0, bp.col0), min(j1, bp.col0 + w)
                if r1 <= r0 or c1 <= c0:
                    continue
                for name in ("hull", "bridge"):
                    dst = getattr(part, name)[r0 - i0 : r1 - i0, c0 - j0 : c1 - j0]
                    src = getattr(bp, name)[
                        r0 - bp.row0 : r1 - bp.row0, c0 - bp.col0 : c1 - bp.col0
                    ]
                    np.maximum(dst, src, out=dst)
    return SceneInference(
        dets=drop_contained(Detections.concat([r.dets for r in results])),
        maps=SceneMaps(parts=tuple(parts), shape=shape, stride_px=s),
        tiles_run=sum(r.tiles_run for r in results),
        read_s=sum(r.read_s for r in results),
        model_s=sum(r.model_s for r in results),
        total_s=sum(r.total_s for r in results),
        verify_s=sum(r.verify_s for r in results),
    )
