"""open_scene / SceneReader / write_geotiff on real GeoTIFFs written to tmp_path."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np
import pytest
import rasterio
from conftest import RAJIN_UL, north_up, random_image
from pyproj import Transformer
from rasterio.crs import CRS

from detector.errors import SceneReadError
from detector.imagery.aoi import load_port, project
from detector.imagery.raster import (
    CANONICAL_GSD_M,
    Grid,
    SceneReader,
    open_scene,
    rasterize_aoi,
    write_geotiff,
)
from detector.imagery.tiling import Window, plan_tiles, select_tiles


def _ramp(height, width, bands=3, dtype="uint16"):
    """band 1 = column index, band 2 = row index, band 3 = constant-ish mix."""
    yy, xx = np.mgrid[0:height, 0:width]
    arr = np.stack([xx, yy, (xx + yy) // 2][:bands] + [xx] * max(0, bands - 3))
    return arr.astype(dtype)


def _unstretch(img, stretch, band):
    lo, hi = stretch.low[band], stretch.high[band]
    return img * (hi - lo) + lo


# -- open_scene ----------------------------------------------------------------------------


def test_tiled_rgb_scene_fields(make_geotiff):
    p = make_geotiff("rajin_20230902T0212Z.tif", shape=(3, 300, 400), gsd_m=0.5, blocksize=128)
    s = open_scene(p)
    assert (s.width, s.height, s.band_count, s.bands, s.dtype) == (400, 300, 3, (1, 2, 3), "uint8")
    assert s.id == "rajin_20230902T0212Z" and s.path == p.resolve()
    assert s.epsg == 32652 and s.gsd_m == pytest.approx(0.5)
    assert s.tiled and s.block_shape == (128, 128) and s.overviews == ()
    assert s.nodata is None and s.alpha_band is None and s.mask_kind == "none"
    assert s.acquired == datetime(2023, 9, 2, 2, 12, tzinfo=UTC)
    assert s.port == "rajin"
    lon0, lat0, lon1, lat1 = s.footprint.bounds
    assert 130.27 < lon0 < lon1 < 130.30 and 42.24 < lat0 < lat1 < 42.26
    # 400 px * 0.5 m = 200 m wide; 1 deg lon at 42.25 N is ~82.5 km
    assert (lon1 - lon0) * 82_500 == pytest.approx(200, rel=0.02)
    assert s.grid == Grid(400, 300, s.transform, s.crs)


def test_striped_equals_tiled(make_geotiff):
    arr = random_image((3, 301, 257), seed=3)
    tiled = open_scene(make_geotiff("t.tif", array=arr, gsd_m=0.4))
    striped = open_scene(make_geotiff("s.tif", array=arr, gsd_m=0.4, tiled=False))
    assert not striped.tiled and striped.block_shape[1] == 257 and striped.block_shape[0] < 301
    assert tiled.stretch == striped.stretch
    win = Window(-5, 100, 200, 200)
    with SceneReader(tiled) as a, SceneReader(striped) as b:
        ta, tb = a.read(win), b.read(win)
    np.testing.assert_array_equal(ta.image, tb.image)
    np.testing.assert_array_equal(ta.valid, tb.valid)


def test_bigtiff(make_geotiff):
    p = make_geotiff("big.tif", shape=(3, 200, 200), bigtiff=True)
    assert p.read_bytes()[:4] == b"II+\x00"  # BigTIFF magic
    s = open_scene(p)
    assert s.width == 200 and s.port == "rajin"
    with SceneReader(s) as r:
        assert r.read(Window(0, 0, 64, 64)).valid.all()


def test_cog_driver_file(make_geotiff, tmp_path):
    """A real COG (GDAL COG driver: overviews stored before the full-resolution tiles)."""
    src = make_geotiff("plain.tif", shape=(3, 700, 900), seed=11)
    cog = tmp_path / "real_cog.tif"
    with rasterio.open(src) as ds:
        profile = dict(ds.profile, driver="COG", blocksize=256, overview_resampling="average")
        for k in ("tiled", "blockxsize", "blockysize", "interleave"):
            profile.pop(k, None)
        with rasterio.open(cog, "w", **profile) as dst:
            dst.write(ds.read())
    s = open_scene(cog)
    assert s.tiled and s.block_shape == (256, 256) and s.overviews[0] == 2
    with SceneReader(s, target_gsd_m=1.0) as r:
        assert (r.grid.height, r.grid.width) == (350, 450)
        assert r.read(Window(300, 400, 64, 64)).valid.sum() == 50 * 50
    data = cog.read_bytes()
    cog.write_bytes(data[: len(data) - 20000])
    with pytest.raises(SceneReadError, match="truncated"):
        open_scene(cog)


def test_cog_like_overviews_feed_the_stretch(make_geotiff):
    """A 0/255 checkerboard averages to ~128 in the overviews: a stretch from an overview is
    narrow, one from full-res pixels would be 0..255."""
    yy, xx = np.mgrid[0:2048, 0:2048]
    arr = (((yy + xx) % 2) * 255).astype(np.uint8)[None]
    p = make_geotiff("cog.tif", array=arr, overviews=(2, 4, 8), blocksize=512)
    s = open_scene(p)
    assert s.overviews == (2, 4, 8) and s.block_shape == (512, 512)
    assert 120 <= s.stretch.low[0] < s.stretch.high[0] <= 136
    assert s.bands == (1,)


def test_uint16_four_band_stretch_not_divided_by_255(make_geotiff):
    p = make_geotiff("ms.tif", shape=(4, 400, 400), dtype="uint16", max_value=2047, gsd_m=0.4)
    s = open_scene(p)
    assert s.dtype == "uint16" and s.band_count == 4 and s.bands == (1, 2, 3)
    for lo, hi in zip(s.stretch.low, s.stretch.high, strict=True):
        assert 0 <= lo < 400 and 1600 < hi <= 2047
    with SceneReader(s) as r:
        img = r.read(Window(0, 0, 400, 400)).image
    assert img.dtype == np.float32 and img.min() >= 0 and img.max() <= 1
    assert 0.35 < float(np.median(img)) < 0.65
    assert (img == 1.0).mean() < 0.05  # /255 would saturate nearly everything
    raw = rasterio.open(p).read(1).astype(np.float64)
    inside = (img[0] > 0) & (img[0] < 1)
    np.testing.assert_allclose(_unstretch(img[0], s.stretch, 0)[inside], raw[inside], atol=0.05)


def test_stretch_is_per_scene_not_per_tile(make_geotiff):
    arr = np.zeros((3, 256, 512), np.uint8)
    arr[:, :, :256] = 20 + random_image((3, 256, 256), max_value=20, seed=1)
    arr[:, :, 256:] = 200 + random_image((3, 256, 256), max_value=20, seed=2)
    s = open_scene(make_geotiff("halves.tif", array=arr, gsd_m=0.4))
    with SceneReader(s) as r:
        dark = r.read(Window(0, 0, 256, 256)).image
        bright = r.read(Window(0, 256, 256, 256)).image
    assert dark.max() < 0.15 and bright.min() > 0.85


def test_nodata_border_and_coarse_mask(make_geotiff):
    arr = random_image((3, 600, 600), dtype="uint16", max_value=4000, seed=4)
    arr = np.maximum(arr, 1)
    arr[:, :, :200] = 0  # left third nodata
    s = open_scene(make_geotiff("border.tif", array=arr, nodata=0, gsd_m=0.4))
    assert s.mask_kind == "nodata" and s.nodata == 0
    assert s.stretch.low[0] > 0  # nodata excluded from the percentiles
    with SceneReader(s) as r:
        t = r.read(Window(100, 150, 100, 100))
        assert not t.valid[:, :50].any() and t.valid[:, 50:].all()
        assert (t.image[:, :, :50] == 0).all()
        mask, scale = r.coarse_valid()
        assert scale == pytest.approx(1.0)
        assert not mask[:, :195].any() and mask[:, 205:].all()
        tiles = plan_tiles(600, 600, tile_px=128, overlap_px=16)
        plan = select_tiles(tiles, valid=mask, aoi=None, scale=scale, height=600, width=600)
        assert plan.skipped_nodata > 0
        assert all(t.window.col_end > 190 for t in plan.tiles)
        assert len(plan.tiles) + plan.skipped_nodata == len(tiles)


def test_alpha_band(make_geotiff):
    arr = random_image((4, 200, 200), seed=5)
    arr[3] = 255
    arr[3, :, :60] = 0
    s = open_scene(make_geotiff("alpha.tif", array=arr, alpha=True, gsd_m=0.4))
    assert s.alpha_band == 4 and s.mask_kind == "alpha" and s.bands == (1, 2, 3)
    with SceneReader(s) as r:
        t = r.read(Window(0, 0, 200, 200))
    assert not t.valid[:, :60].any() and t.valid[:, 60:].all()


def test_per_dataset_mask(make_geotiff):
    mask = np.ones((200, 200), bool)
    mask[150:] = False
    s = open_scene(make_geotiff("mask.tif", shape=(3, 200, 200), mask=mask, gsd_m=0.4))
    assert s.mask_kind == "mask"
    with SceneReader(s) as r:
        t = r.read(Window(0, 0, 200, 200))
    np.testing.assert_array_equal(t.valid, mask)


def test_float_nan_is_invalid(make_geotiff):
    arr = random_image((3, 100, 100), dtype="float32", seed=6)
    arr[:, 10:20, 10:20] = np.nan
    s = open_scene(make_geotiff("f.tif", array=arr, gsd_m=0.4))
    with SceneReader(s) as r:
        t = r.read(Window(0, 0, 100, 100))
    assert not t.valid[12:18, 12:18].any() and t.valid[30:, 30:].all()
    assert np.isfinite(t.image).all()


def test_band_selection(make_geotiff):
    p = make_geotiff("four.tif", shape=(4, 128, 128), seed=7, gsd_m=0.4)
    win = Window(0, 0, 128, 128)
    with SceneReader(open_scene(p)) as r:
        rgb = r.read(win).image
    with SceneReader(open_scene(p, bands=[3, 2, 1])) as r:
        bgr = r.read(win).image
    with SceneReader(open_scene(p, bands=(2,))) as r:
        g = r.read(win).image
    np.testing.assert_array_equal(bgr, rgb[::-1])
    np.testing.assert_array_equal(g, np.repeat(rgb[1:2], 3, axis=0))
    assert open_scene(p, bands=(4, 4, 1)).bands == (4, 4, 1)


def test_one_band_scene_repeated(make_geotiff):
    s = open_scene(make_geotiff("pan.tif", shape=(1, 64, 64), gsd_m=0.4))
    assert s.bands == (1,)
    with SceneReader(s) as r:
        img = r.read(Window(0, 0, 64, 64)).image
    assert img.shape == (3, 64, 64)
    np.testing.assert_array_equal(img[0], img[2])


def test_colorinterp_bgr_order(make_geotiff):
    p = make_geotiff("bgrn.tif", shape=(4, 64, 64), colorinterp=("blue", "green", "red", "nir"))
    assert open_scene(p).bands == (3, 2, 1)


@pytest.mark.parametrize(
    ("name", "tags", "expected"),
    [
        ("a.tif", {"TIFFTAG_DATETIME": "2023:09:02 02:12:00"}, datetime(2023, 9, 2, 2, 12)),
        ("a.tif", {"ACQUISITION_TIME": "2024-01-05T03:04:05Z"}, datetime(2024, 1, 5, 3, 4, 5)),
        (
            "a.tif",
            {"ACQUISITION_DATETIME": "2024-01-05T12:04:05+09:00"},
            datetime(2024, 1, 5, 3, 4, 5),
        ),
        (
            "x_20230902T0212Z.tif",
            {"TIFFTAG_DATETIME": "2030:01:01 00:00:00"},
            datetime(2023, 9, 2, 2, 12),
        ),
        ("rajin_20230902T0212Z.tif", None, datetime(2023, 9, 2, 2, 12)),
        ("wv3_2023-09-02T02-12-30_ms.tif", None, datetime(2023, 9, 2, 2, 12, 30)),
        ("port_2023-11-30_01-05.tif", None, datetime(2023, 11, 30, 1, 5)),
        ("scene_20231399T9999.tif", None, None),
        ("plain.tif", None, None),
    ],
)
def test_acquisition_time(make_geotiff, name, tags, expected):
    s = open_scene(make_geotiff(name, shape=(3, 32, 32), tags=tags))
    assert s.acquired == (expected.replace(tzinfo=UTC) if expected else None)


def test_web_mercator_gsd_is_ground_distance(make_geotiff):
    """EPSG:3857 'metres' are 1/cos(lat) too short on the ground: GSD is measured instead."""
    from pyproj import Transformer as T

    x, y = T.from_crs(4326, 3857, always_xy=True).transform(130.2833, 42.2491)
    merc_px = 0.5 / np.cos(np.radians(42.2491))
    s = open_scene(make_geotiff("merc.tif", crs="EPSG:3857", transform=north_up(x, y, merc_px)))
    assert s.gsd_m == pytest.approx(0.5, rel=0.005) and s.port == "rajin"
    with SceneReader(s) as r:
        assert r.grid.width == round(256 * 0.5 / 0.4)


def test_utm_feet_crs(make_geotiff):
    # EPSG:2926 (NAD83(HARN) / Washington North, US survey feet): 1.5 ft pixels = 0.457 m
    s = open_scene(make_geotiff("ft.tif", crs="EPSG:2926",
                                transform=north_up(1_200_000.0, 250_000.0, 1.5)))  # fmt: skip
    assert s.gsd_m == pytest.approx(1.5 * 0.3048006, rel=1e-4)


def test_port_tag_and_outside_any_port(make_geotiff):
    assert open_scene(make_geotiff("t.tif", tags={"PORT": "dunai"})).port == "dunai"
    assert open_scene(make_geotiff("far.tif", origin=(400000.0, 4600000.0))).port is None


# -- SceneReader ---------------------------------------------------------------------------


def test_resampled_grid_and_float_windows(make_geotiff):
    """0.3 m scene read at 0.4 m: grid 0.75x; bilinear on a ramp stays exact inside."""
    arr = _ramp(1000, 800)
    s = open_scene(make_geotiff("ramp.tif", array=arr, gsd_m=0.3))
    with SceneReader(s) as r:
        g = r.grid
        assert (g.height, g.width) == (750, 600)
        assert g.transform.a == pytest.approx(0.4) and g.transform.e == pytest.approx(-0.4)
        assert g.gsd_m == pytest.approx(CANONICAL_GSD_M)
        assert (g.transform.c, g.transform.f) == (s.transform.c, s.transform.f)
        assert g.crs == s.crs
        t = r.read(Window(301, 201, 128, 96))
    cols = np.arange(201, 201 + 96)
    rows = np.arange(301, 301 + 128)
    s_ = 0.4 / 0.3
    want_x = (cols + 0.5) * s_ - 0.5  # native column at the model pixel centre
    want_y = (rows + 0.5) * s_ - 0.5
    got_x = _unstretch(t.image[0], s.stretch, 0)
    got_y = _unstretch(t.image[1], s.stretch, 1)
    np.testing.assert_allclose(got_x, np.broadcast_to(want_x, got_x.shape), atol=0.6)
    np.testing.assert_allclose(got_y, np.broadcast_to(want_y[:, None], got_y.shape), atol=0.6)
    assert t.valid.all()


def test_downsampling_uses_window_only(make_geotiff):
    s = open_scene(make_geotiff("fine.tif", shape=(3, 800, 800), gsd_m=0.1, overviews=(2, 4)))
    with SceneReader(s, target_gsd_m=0.4) as r:
        assert (r.grid.height, r.grid.width) == (200, 200)
        t = r.read(Window(0, 0, 200, 200))
    assert t.valid.all() and 0.3 < t.image.mean() < 0.7


def test_boundless_edge_reads(make_geotiff):
    s = open_scene(make_geotiff("edge.tif", shape=(3, 300, 250), gsd_m=0.4, seed=8))
    with SceneReader(s) as r:
        inner = r.read(Window(0, 0, 80, 70))
        tl = r.read(Window(-20, -30, 100, 100))
        assert not tl.valid[:20].any() and not tl.valid[:, :30].any()
        assert tl.valid[20:, 30:].all()
        assert (tl.image[:, :20] == 0).all()
        np.testing.assert_array_equal(tl.image[:, 20:, 30:], inner.image)
        br = r.read(Window(250, 200, 128, 128))  # 50 rows x 50 cols inside
        assert br.valid.sum() == 50 * 50 and br.valid[:50, :50].all()
        out = r.read(Window(1000, 1000, 64, 64))
        assert not out.valid.any() and not out.image.any()


def test_geographic_scene_warped_to_utm(make_geotiff):
    """EPSG:4326 scene: GSD from the centre; model frame in UTM 52N at 0.4 m; a bright
    square lands where its lon/lat says."""
    dlon, dlat = 4.0e-6, 3.0e-6  # ~0.33 m x 0.33 m at 42.25 N
    lon0, lat0 = 130.2800, 42.2500
    arr = np.full((3, 400, 500), 40, np.uint8)
    arr[:, 200:210, 300:310] = 250
    s = open_scene(make_geotiff("geo.tif", array=arr, crs="EPSG:4326",
                                transform=north_up(lon0, lat0, dlon, dlat)))  # fmt: skip
    assert s.epsg == 4326
    assert s.gsd_m == pytest.approx(np.sqrt(dlon * 82_540 * dlat * 111_080), rel=0.01)
    assert s.port == "rajin"
    with SceneReader(s) as r:
        assert r.grid.crs == CRS.from_epsg(32652)
        assert r.grid.gsd_m == pytest.approx(0.4)
        t = r.read(Window(0, 0, r.grid.height, r.grid.width))
    assert t.valid.mean() > 0.9
    bright = t.image[0] > 0.9
    rr, cc = np.nonzero(bright)
    x, y = r.grid.transform @ (cc.mean() + 0.5, rr.mean() + 0.5)
    lon, lat = Transformer.from_crs(32652, 4326, always_xy=True).transform(x, y)
    assert lon == pytest.approx(lon0 + 305 * dlon, abs=2 * dlon)
    assert lat == pytest.approx(lat0 - 205 * dlat, abs=2 * dlat)


def test_reader_never_reads_whole_scene(make_geotiff, monkeypatch):
    s_path = make_geotiff("large.tif", shape=(1, 3000, 3000), gsd_m=0.4, blocksize=256)
    calls = []
    for meth in ("read", "read_masks"):
        orig = getattr(rasterio.io.DatasetReader, meth)

        def wrapped(self, *a, _orig=orig, **kw):
            calls.append((kw.get("window"), kw.get("out_shape")))
            return _orig(self, *a, **kw)

        monkeypatch.setattr(rasterio.io.DatasetReader, meth, wrapped)
    scene = open_scene(s_path)
    with SceneReader(scene) as r:
        r.coarse_valid()
        for tile in plan_tiles(r.grid.height, r.grid.width, tile_px=512, overlap_px=64)[:6]:
            r.read(tile.window)
    assert len(calls) >= 6
    for window, out_shape in calls:
        if window is None or max(window.width, window.height) > 513:
            # whole extent, or the port AOI's window (its stretch): only decimated samples
            assert out_shape is not None and max(out_shape[-2:]) <= 1024


def test_prefetch_thread_reads_match_sequential(make_geotiff):
    s = open_scene(make_geotiff("thr.tif", shape=(3, 700, 700), gsd_m=0.3, seed=9))
    with SceneReader(s) as r:
        tiles = plan_tiles(r.grid.height, r.grid.width, tile_px=128, overlap_px=16)
        seq = [r.read(t.window).image for t in tiles]
        with ThreadPoolExecutor(max_workers=1) as pool:
            futs = [pool.submit(r.read, t.window) for t in tiles]
            main = [r.read(t.window).image for t in reversed(tiles)]
            bg = [f.result().image for f in futs]
    for a, b, c in zip(seq, bg, reversed(main), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_coarse_valid_on_large_scene_is_small(make_geotiff):
    arr = np.full((1, 2600, 1300), 100, np.uint8)
    arr[:, 1300:] = 0
    s = open_scene(make_geotiff("tall.tif", array=arr, nodata=0, gsd_m=0.4))
    with SceneReader(s) as r:
        mask, scale = r.coarse_valid()
    assert max(mask.shape) <= 1024 and scale == pytest.approx(2600 / mask.shape[0])
    assert mask[: int(1290 / scale)].all() and not mask[int(1320 / scale) :].any()


# -- write_geotiff / rasterize_aoi ---------------------------------------------------------


def test_write_geotiff_roundtrip(tmp_path):
    arr = random_image((2, 300, 520), dtype="uint16", max_value=2047)
    p = tmp_path / "out" / "w.tif"
    tags = {"TIFFTAG_DATETIME": "2023:09:02 02:12:00", "ACQUISITION_TIME": "2023-09-02T02:12:00Z"}
    write_geotiff(p, arr, transform=north_up(*RAJIN_UL, 0.5, 0.5), crs="EPSG:32652",
                  nodata=0, tags=tags, blocksize=512, overviews=(2, 4, 1024))  # fmt: skip
    assert sorted(x.name for x in p.parent.iterdir()) == ["w.tif"]  # no temp left
    with rasterio.open(p) as ds:
        np.testing.assert_array_equal(ds.read(), arr)
        assert ds.profile["tiled"] and ds.block_shapes[0] == (512, 512)
        assert ds.overviews(1) == [2, 4] and ds.nodata == 0 and ds.dtypes[0] == "uint16"
        assert ds.tags()["ACQUISITION_TIME"] == "2023-09-02T02:12:00Z"
        assert ds.compression.name == "deflate" and ds.crs.to_epsg() == 32652
    write_geotiff(p, arr[0], transform=north_up(0, 0, 1, 1), crs=None, tiled=False,
                  overviews=(), compress=None)  # fmt: skip
    with rasterio.open(p) as ds:
        assert ds.count == 1 and not ds.profile.get("tiled") and ds.crs is None


def test_rasterize_aoi_matches_polygon_area():
    grid = Grid(600, 400, north_up(604700.0, 4678900.0, 4.0, 4.0), CRS.from_epsg(32652))
    pier = load_port("rajin").feature("Pier 2").polygon
    mask = rasterize_aoi([pier], grid)
    assert mask.shape == (400, 600)
    area_px = project(pier, 32652).area / 16.0
    assert area_px * 0.9 < mask.sum() < area_px * 1.5
    coarse = rasterize_aoi([pier], grid, scale=4.0)
    assert coarse.shape == (100, 150) and coarse.any()
    assert rasterize_aoi([], grid).sum() == 0
