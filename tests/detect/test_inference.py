"""Tiled inference: merge by ownership, prefetching, probability maps (fake model)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import ndimage

from detector.detect.inference import (
    InferenceSettings,
    TileOutput,
    core_cells,
    infer_scene,
    owned,
    paste_core,
)
from detector.detections import Detections
from detector.imagery.prefetch import Prefetcher
from detector.imagery.tiling import Tile, Window, plan_tiles


@dataclass(frozen=True)
class _Grid:
    width: int
    height: int


@dataclass(frozen=True)
class _TileImage:
    image: np.ndarray
    valid: np.ndarray


class ArrayReader:
    """In-memory stand-in for SceneReader: boundless reads of a [3, H, W] array."""

    def __init__(self, image: np.ndarray, valid: np.ndarray | None = None) -> None:
        self.image = image
        self.valid = np.ones(image.shape[1:], bool) if valid is None else valid
        self.grid = _Grid(width=image.shape[2], height=image.shape[1])
        self.reads: list[Window] = []
        self.threads: set[str] = set()

    def read(self, w: Window) -> _TileImage:
        self.reads.append(w)
        self.threads.add(threading.current_thread().name)
        img = np.zeros((3, w.height, w.width), np.float32)
        val = np.zeros((w.height, w.width), bool)
        r0, c0 = max(w.row_off, 0), max(w.col_off, 0)
        r1 = min(w.row_off + w.height, self.grid.height)
        c1 = min(w.col_off + w.width, self.grid.width)
        img[:, r0 - w.row_off : r1 - w.row_off, c0 - w.col_off : c1 - w.col_off] = self.image[
            :, r0:r1, c0:c1
        ]
        val[r0 - w.row_off : r1 - w.row_off, c0 - w.col_off : c1 - w.col_off] = self.valid[
            r0:r1, c0:c1
        ]
        return _TileImage(img, val)


def blob_predictor(images: np.ndarray) -> list[TileOutput]:
    """A 'model' that finds 3x3 blobs: peaks of channel 0 above 0.5 are containers (centre
    at the peak pixel's centre, kind from channel 1, tiers 2); channel 2 is the hull
    probability, given at stride 2 (2x2 means) like the real network."""
    outs = []
    for img in images:
        c0 = img[0]
        peak = (c0 == ndimage.maximum_filter(c0, size=3, mode="constant")) & (c0 > 0.5)
        r, c = np.nonzero(peak)
        n = len(r)
        dets = Detections(
            cx=c + 0.5,
            cy=r + 0.5,
            length_px=np.full(n, 3.0),  # the blob's own footprint: blobs do not overlap
            width_px=np.full(n, 3.0),
            angle_rad=np.zeros(n),
            kind=(img[1][r, c] > 0.5).astype(np.int8),
            score=c0[r, c],
            tiers=np.full(n, 2.0),
        )
        h, w = c0.shape
        hull = img[2].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        outs.append(TileOutput(dets, hull, hull * 0.5))
    return outs


def blob_scene(h: int, w: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """[3, H, W] image with n non-touching 3x3 blobs (peak 1.0, ring 0.7) and their (x, y)
    centres; channel 2 holds a hull pattern constant over aligned 4x4 blocks."""
    rng = np.random.default_rng(seed)
    img = np.zeros((3, h, w), np.float32)
    taken = np.zeros((h, w), bool)
    centres = []
    while len(centres) < n:
        r, c = int(rng.integers(2, h - 2)), int(rng.integers(2, w - 2))
        if taken[r - 2 : r + 3, c - 2 : c + 3].any():
            continue
        taken[r - 2 : r + 3, c - 2 : c + 3] = True
        img[0, r - 1 : r + 2, c - 1 : c + 2] = 0.7
        img[0, r, c] = 1.0
        img[1, r, c] = float(rng.random() < 0.3)
        centres.append((c + 0.5, r + 0.5))
    blocks = rng.random((int(np.ceil(h / 4)), int(np.ceil(w / 4)))).astype(np.float32)
    img[2] = np.kron(blocks, np.ones((4, 4), np.float32))[:h, :w]
    return img, np.array(centres)


def _key(d: Detections) -> set[tuple[float, float, int]]:
    return {(round(x, 3), round(y, 3), int(k)) for x, y, k in zip(d.cx, d.cy, d.kind, strict=True)}


def _run(reader, tile_px, overlap_px, batch_size=3, **kw):
    tiles = plan_tiles(
        reader.grid.height, reader.grid.width, tile_px=tile_px, overlap_px=overlap_px
    )
    settings = InferenceSettings(
        tile_px=tile_px, overlap_px=overlap_px, batch_size=batch_size, **kw
    )
    return infer_scene(blob_predictor, reader, tiles, settings)


@pytest.fixture(scope="module")
def scene():
    img, centres = blob_scene(700, 1100, 1500, seed=3)
    return img, centres


@pytest.mark.parametrize(
    ("tile_px", "overlap_px"), [(64, 8), (128, 16), (256, 32), (256, 64), (320, 40), (1024, 64)]
)
def test_tiled_equals_untiled_and_truth(scene, tile_px, overlap_px):
    img, centres = scene
    reader = ArrayReader(img)
    whole = _run(reader, 2048, 0)  # one tile holds the whole scene
    assert whole.tiles_run == 1
    truth = {(round(x, 3), round(y, 3)) for x, y in centres}
    assert {(x, y) for x, y, _ in _key(whole.dets)} == truth
    tiled = _run(ArrayReader(img), tile_px, overlap_px)
    assert tiled.tiles_run > 1 or tile_px >= 1024
    assert len(tiled.dets) == len(centres)  # no duplicates at seams, nothing lost
    assert _key(tiled.dets) == _key(whole.dets)
    # probability maps do not depend on the tiling either
    np.testing.assert_array_equal(tiled.maps.hull, whole.maps.hull)
    np.testing.assert_array_equal(tiled.maps.bridge, whole.maps.bridge)


def test_tile_256_vs_1024_same_counts_and_tiers(scene):
    img, _ = scene
    a, b = _run(ArrayReader(img), 256, 64), _run(ArrayReader(img), 1024, 64)
    assert len(a.dets) == len(b.dets) == 1500
    assert a.dets.teu() == b.dets.teu()
    assert float(a.dets.tiers.sum()) == float(b.dets.tiers.sum()) == 3000.0


def test_second_peak_inside_a_footprint_is_dropped_across_seams(scene):
    img, centres = scene

    def doubled(images):  # every blob also gives a weaker peak 1 px off, inside its footprint
        out = []
        for o in blob_predictor(images):
            d = o.dets
            echo = Detections(
                d.cx + 1.0, d.cy, d.length_px, d.width_px, d.angle_rad, d.kind, d.score * 0.9,
                d.tiers,
            )  # fmt: skip
            out.append(TileOutput(Detections.concat([d, echo]), o.hull_prob, o.bridge_prob))
        return out

    tiles = plan_tiles(700, 1100, tile_px=128, overlap_px=16)
    res = infer_scene(doubled, ArrayReader(img), tiles, InferenceSettings(128, 16, 3))
    # echoes whose blob's own peak lies in the next tile's core are dropped too
    assert {(x, y) for x, y, _ in _key(res.dets)} == {
        (round(x, 3), round(y, 3)) for x, y in centres
    }


def test_hull_map_values_and_shape():
    img, _ = blob_scene(130, 250, 5, seed=1)
    res = _run(ArrayReader(img), 64, 16, map_stride_px=4)
    assert res.maps.hull.shape == (33, 63)  # ceil(130/4), ceil(250/4)
    expect = np.rint(img[2, 2::4, 2::4] * 255).astype(np.uint8)  # value at cell centres
    np.testing.assert_array_equal(res.maps.hull[: expect.shape[0], : expect.shape[1]], expect)
    np.testing.assert_allclose(res.maps.prob("hull"), res.maps.hull / 255.0, atol=1e-7)


def test_nodata_pixels_drop_detections(scene):
    img, centres = scene
    valid = np.ones(img.shape[1:], bool)
    valid[:, :300] = False
    res = _run(ArrayReader(img, valid), 256, 32)
    expect = int((centres[:, 0] >= 300).sum())
    assert len(res.dets) == expect
    assert res.dets.cx.min() >= 300


def test_skipped_tiles_contribute_nothing(scene):
    img, centres = scene
    reader = ArrayReader(img)
    tiles = plan_tiles(700, 1100, tile_px=256, overlap_px=32)
    keep = tiles[1:]
    res = infer_scene(blob_predictor, reader, keep, InferenceSettings(batch_size=4))
    c = tiles[0].core
    inside = (
        (centres[:, 0] >= c.col_off)
        & (centres[:, 0] < c.col_end)
        & (centres[:, 1] >= c.row_off)
        & (centres[:, 1] < c.row_end)
    )
    assert len(res.dets) == len(centres) - int(inside.sum())
    assert res.tiles_run == len(tiles) - 1
    assert {w for w in reader.reads} == {t.window for t in keep}


def test_reads_happen_in_the_prefetch_thread_and_progress_counts(scene):
    img, _ = scene
    reader = ArrayReader(img)
    tiles = plan_tiles(700, 1100, tile_px=256, overlap_px=32)
    done = []
    res = infer_scene(
        blob_predictor, reader, tiles, InferenceSettings(batch_size=5), progress=done.append
    )
    assert {t.split("_")[0] for t in reader.threads} == {"ccount-prefetch"}
    assert sum(done) == len(tiles) == res.tiles_run
    assert done[0] == 5
    assert res.read_s > 0 and res.model_s > 0 and res.total_s >= res.model_s


def test_small_scene_padded_to_model_multiple():
    img, centres = blob_scene(50, 70, 4, seed=5)
    seen = []

    def pred(images):
        seen.append(images.shape)
        return blob_predictor(images)

    tiles = plan_tiles(50, 70, tile_px=512, overlap_px=64)
    res = infer_scene(pred, ArrayReader(img), tiles, InferenceSettings())
    assert seen == [(1, 3, 64, 96)]
    assert len(res.dets) == 4


def test_owned_half_open_core_and_shift():
    tile = Tile(0, window=Window(100, 200, 64, 64), core=Window(110, 210, 40, 40))
    d = Detections(
        cx=[10.0, 9.99, 49.99, 50.0, 30.0],
        cy=[10.0, 30.0, 30.0, 30.0, 49.99],
        length_px=[1] * 5,
        width_px=[1] * 5,
        angle_rad=[0] * 5,
        kind=[0] * 5,
        score=[1] * 5,
        tiers=[1] * 5,
    )
    out = owned(d, tile)
    assert out.cx.tolist() == [210.0, 249.99, 230.0]
    assert out.cy.tolist() == [110.0, 130.0, 149.99]
    valid = np.ones((64, 64), bool)
    valid[49, 30] = False
    assert len(owned(d, tile, valid)) == 2


@pytest.mark.parametrize("stride", [1, 2, 3, 4, 8])
def test_core_cells_partition(stride):
    # consecutive cores [0, 37), [37, 90), [90, 101) give consecutive cell ranges
    bounds = [0, 37, 90, 101]
    ranges = [core_cells(a, b - a, stride) for a, b in zip(bounds, bounds[1:], strict=False)]
    assert ranges[0][0] == 0
    for (_, e), (s, _) in zip(ranges, ranges[1:], strict=False):
        assert e == s
    for (i0, i1), a, b in zip(ranges, bounds, bounds[1:], strict=False):
        centres = (np.arange(i0, i1) + 0.5) * stride
        assert np.all((centres >= a) & (centres < b))


def test_paste_core_area_average():
    scene = np.zeros((4, 4), np.uint8)
    tile = Tile(0, window=Window(0, 0, 16, 16), core=Window(0, 0, 8, 16))
    tile_map = np.arange(64, dtype=np.float32).reshape(8, 8) / 63.0
    paste_core(scene, tile_map, tile, scene_stride_px=4, tile_stride_px=2)
    mean = tile_map.reshape(4, 2, 4, 2).mean(axis=(1, 3))  # 2 x 2 tile cells per scene cell
    np.testing.assert_array_equal(scene[:2], np.rint(mean[:2] * 255).astype(np.uint8))
    assert not scene[2:].any()
    # same stride: a copy of the core's cells, shifted by the window offset
    scene1 = np.zeros((8, 8), np.uint8)
    tile1 = Tile(0, window=Window(2, 0, 6, 8), core=Window(3, 0, 4, 8))
    paste_core(scene1, tile_map[:6], tile1, scene_stride_px=1, tile_stride_px=1)
    np.testing.assert_array_equal(scene1[3:7], np.rint(tile_map[1:5] * 255).astype(np.uint8))


def test_predictor_error_propagates_and_reader_stops(scene):
    img, _ = scene
    reader = ArrayReader(img)
    tiles = plan_tiles(700, 1100, tile_px=128, overlap_px=16)

    def broken(images):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        infer_scene(broken, reader, tiles, InferenceSettings(batch_size=2, prefetch_batches=1))
    # the worker stopped early: at most the first batch, one queued, one being read
    assert len(reader.reads) <= 3 * 2
    assert not any(t.name.startswith("ccount-prefetch") for t in threading.enumerate())


def test_prefetcher_reraises_reader_error_and_orders_batches():
    def read(k):
        if k == 3:
            raise OSError("bad block 3")
        return k * 10

    got = []
    with pytest.raises(OSError, match="bad block 3"), Prefetcher(range(6), read, depth=2) as it:
        for b in it:
            got.append(b)
    assert got == [0, 10, 20]
    with Prefetcher(range(5), lambda k: k, depth=1) as it:
        assert list(it) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="depth"):
        Prefetcher([], lambda k: k, depth=0)


def test_prefetcher_workers_read_concurrently_in_order_and_bounded():
    active, peak, calls = [0], [0], []
    lock = threading.Lock()

    def read(k):
        with lock:
            calls.append(k)
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02 * (3 - k % 3))  # later chunks finish first
        with lock:
            active[0] -= 1
        return k

    with Prefetcher(range(12), read, depth=1, workers=3) as it:
        first = next(it)
        time.sleep(0.2)
        assert len(calls) == 1 + 3  # the batch in hand, max(depth + 1, workers) ahead
        rest = list(it)
    assert [first, *rest] == list(range(12))
    assert peak[0] == 3
    with pytest.raises(ValueError, match="workers"):
        Prefetcher([], lambda k: k, workers=0)


class _ExclusiveReader(ArrayReader):
    """Fails if two threads read through it at once (a rasterio handle is not thread-safe)."""

    def __init__(self, *a, **k) -> None:
        super().__init__(*a, **k)
        self._busy = threading.Lock()

    def read(self, w):
        assert self._busy.acquire(blocking=False), "reader used by two threads at once"
        try:
            time.sleep(0.001)
            return super().read(w)
        finally:
            self._busy.release()


@pytest.mark.parametrize("batch", [2, 100])
def test_several_readers_give_the_single_reader_result(scene, batch):
    """Also when one batch holds every tile (a GPU's large batches): its tiles are read by
    all the readers side by side."""
    img, _ = scene
    tiles = plan_tiles(700, 1100, tile_px=128, overlap_px=16)
    assert len(tiles) < 100
    one = infer_scene(blob_predictor, ArrayReader(img), tiles, InferenceSettings(batch_size=2))
    readers = [_ExclusiveReader(img) for _ in range(3)]
    many = infer_scene(blob_predictor, readers, tiles, InferenceSettings(batch_size=batch))
    assert len(many.dets) == len(one.dets) > 0
    np.testing.assert_array_equal(many.dets.cx, one.dets.cx)
    np.testing.assert_array_equal(many.dets.cy, one.dets.cy)
    np.testing.assert_array_equal(many.maps.hull, one.maps.hull)
    reads = [w for r in readers for w in r.reads]
    assert len(reads) == len(tiles) and set(reads) == {t.window for t in tiles}
    assert sum(bool(r.reads) for r in readers) >= 2


def test_maps_are_held_per_cluster_of_run_tiles():
    """Tiles far apart get maps of their own (memory follows the data, not the frame); the
    cells they own hold what a run over every tile gives there."""
    img, _ = blob_scene(700, 1100, 40, seed=2)
    tiles = plan_tiles(700, 1100, tile_px=128, overlap_px=16)
    settings = InferenceSettings(128, 16, 3)
    full = infer_scene(blob_predictor, ArrayReader(img), tiles, settings)
    corner = [t for t in tiles if t.core.row_off < 200 and t.core.col_off < 200]
    far = [t for t in tiles if t.core.row_off > 450 and t.core.col_off > 800]
    some = infer_scene(blob_predictor, ArrayReader(img), corner + far, settings)
    parts = some.maps.parts
    assert len(parts) == 2
    assert sum(p.hull.size for p in parts) < full.maps.hull.size / 4
    assert some.maps.hull.shape == full.maps.hull.shape == (175, 275)
    owned_cells = some.maps.hull > 0
    assert owned_cells.any()
    np.testing.assert_array_equal(some.maps.hull[owned_cells], full.maps.hull[owned_cells])
    for p in parts:  # each part's cells are the same as the full map's there
        h, w = p.hull.shape
        np.testing.assert_array_equal(
            p.hull,
            np.where(p.hull > 0, full.maps.hull[p.row0 : p.row0 + h, p.col0 : p.col0 + w], 0),
        )
