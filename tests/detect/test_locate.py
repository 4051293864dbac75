"""Regions, hull geometry and ship identity from hull masks."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.transform import from_origin
from scipy import ndimage
from shapely.geometry import Polygon

from detector.detect.hulls import ShipHulls, find_hulls, hull_geometry, identify_ship
from detector.detect.locate import aoi_pixels, assign_regions, berth_of
from detector.detections import Detections
from detector.imagery.aoi import load_port
from detector.imagery.raster import Grid
from detector.ships import load_registry

GSD = 0.4
# model frame over Rajin Pier 2: x 605700..606000, y 4677900..4678700 (UTM 52N)
GRID = Grid(width=750, height=2000, transform=from_origin(605700, 4678700, GSD, GSD),
            crs=CRS.from_epsg(32652))  # fmt: skip


def px(x_m: float, y_m: float) -> tuple[float, float]:
    col, row = ~GRID.transform @ (x_m, y_m)
    return col, row


def dets_at(points) -> Detections:
    pts = np.asarray(points, float)
    n = len(pts)
    return Detections(pts[:, 0], pts[:, 1], np.full(n, 15.0), np.full(n, 6.0), np.zeros(n),
                      np.zeros(n), np.ones(n), np.full(n, 2.0))  # fmt: skip


def rect_hull_map(x0_m, x1_m, y0_m, y1_m, stride=4) -> np.ndarray:
    """Hull probability map [ceil(H/s), ceil(W/s)] with 1 over a map-aligned rectangle."""
    m = np.zeros((GRID.height // stride, int(np.ceil(GRID.width / stride))), np.float32)
    c0, r0 = px(x0_m, y1_m)
    c1, r1 = px(x1_m, y0_m)
    m[int(r0 // stride) : int(r1 // stride), int(c0 // stride) : int(c1 // stride)] = 1.0
    return m


@pytest.fixture(scope="module")
def aoi():
    return aoi_pixels(load_port("rajin"), GRID)


def test_aoi_pixels_projects_into_the_frame(aoi):
    rail = next(f for f in aoi if f.name == "Pier 2 rail")
    x0, y0, x1, y1 = rail.polygon.bounds  # pixels: x = col, y = row (north at row 0)
    assert x0 == pytest.approx((605812 - 605700) / GSD, abs=3)
    assert x1 == pytest.approx((605824 - 605700) / GSD, abs=3)
    assert y0 == pytest.approx((4678700 - 4678631) / GSD, abs=3)


def test_regions_by_precedence_and_aoi_membership(aoi):
    hull_map = rect_hull_map(605775.2, 605794.4, 4677950, 4678080)
    hulls = find_hulls(hull_map, np.zeros_like(hull_map), stride_px=4, gsd_m=GSD,
                       registry=load_registry(), aoi=aoi)  # fmt: skip
    assert len(hulls.hulls) == 1
    assert hulls.berths == ("Pier 2 west berth",)
    points = [
        px(605784, 4678000),  # on the hull -> deck
        px(605818, 4678100),  # rail across the pier -> rail (beats quay)
        px(605850, 4678100),  # pier, off the rail -> quay
        px(605750, 4678360),  # main quay -> quay
        px(605900, 4678500),  # container yard -> yard
        px(605740, 4678000),  # nowhere in particular -> yard
    ]
    reg = assign_regions(dets_at(points), hulls, aoi)
    assert reg.region.tolist() == ["deck", "rail", "quay", "quay", "yard", "yard"]
    assert reg.ship_index.tolist() == [0, -1, -1, -1, -1, -1]
    assert reg.ship == (hulls.hulls[0].name, None, None, None, None, None)
    assert reg.in_aoi["Pier 2 rail"].tolist() == [False, True, False, False, False, False]
    assert reg.in_aoi["Pier 2"].tolist() == [False, True, True, False, False, False]
    assert reg.in_aoi["Rajin yard"].tolist() == [False, False, False, False, True, False]
    assert reg.in_aoi["Pier 2 west berth"][0]
    assert reg.in_aoi["Rajin port"].all()


def test_regions_without_aoi_or_hulls():
    reg = assign_regions(dets_at([[10, 10], [20, 20]]), ShipHulls.empty((10, 10)), ())
    assert reg.region.tolist() == ["yard", "yard"] and reg.in_aoi == {}
    empty = assign_regions(Detections.empty(), ShipHulls.empty(), ())
    assert len(empty.region) == 0


def test_rectangle_hull_geometry_and_identity():
    # 132 m x 19.2 m rectangle, no bridge seen -> Angara by size alone
    hull_map = rect_hull_map(605775.2, 605794.4, 4677948, 4678080)
    hulls = find_hulls(hull_map, np.zeros_like(hull_map), stride_px=4, gsd_m=GSD,
                       registry=load_registry())  # fmt: skip
    h = hulls.hulls[0]
    assert h.length_m == pytest.approx(132.0, abs=1.7)
    assert h.beam_m == pytest.approx(19.2, abs=1.7)
    assert np.isnan(h.bridge_from_bow)
    assert h.name == "Angara"
    assert h.score == pytest.approx(1.0)
    assert berth_of(h.polygon, ()) is None
    # its outline covers the rectangle, in model-frame pixels
    xs, ys = h.polygon[:, 0], h.polygon[:, 1]
    assert xs.min() == pytest.approx((605775.2 - 605700) / GSD, abs=4)
    assert ys.max() == pytest.approx((4678700 - 4677948) / GSD, abs=4)


def test_soft_hull_edge_does_not_widen_the_measured_hull():
    # the model's map fades out over a cell past the hull: p 0.45 there, as it often does
    hull_map = rect_hull_map(605775.2, 605794.4, 4677948, 4678080)
    halo = ndimage.binary_dilation(hull_map > 0.5, iterations=1) & (hull_map < 0.5)
    hull_map[halo] = 0.45
    found = find_hulls(hull_map, np.zeros_like(hull_map), stride_px=4, gsd_m=GSD,
                       registry=load_registry())  # fmt: skip
    (h,) = found.hulls
    assert h.beam_m == pytest.approx(19.2, abs=1.7) and h.length_m == pytest.approx(132, abs=1.7)
    # the outline (which decides what stands on deck) still takes the halo in
    assert Polygon(h.polygon).area * (GSD**2) > 134 * 21
    loose = find_hulls(hull_map, np.zeros_like(hull_map), stride_px=4, gsd_m=GSD,
                       registry=load_registry(), geometry_thresh=0.3)  # fmt: skip
    assert loose.hulls[0].beam_m > 19.2 + 2.5  # measured on the halo, a cell wider each side


def test_small_blobs_are_not_ships():
    m = np.zeros((100, 100), np.float32)
    m[10:14, 10:30] = 1.0  # 32 m x 6.4 m: a barge, not a ship we count
    assert find_hulls(m, m * 0, stride_px=4, gsd_m=GSD, registry=load_registry()).hulls == ()


@pytest.mark.parametrize(
    ("length", "beam", "bridge", "expect"),
    [
        (132, 19, 0.12, "Angara"),
        (116, 17.5, 0.86, "Maria"),
        (138, 21.5, 0.85, "Maia-1"),
        (120, 21, 0.13, "Lady R"),
        (128, 20.5, 0.12, "Angara"),  # a few metres off still identifies
        (180, 28, 0.5, "unknown"),  # far too big
        (125, 19, 0.5, "unknown"),  # bridge amidships: none of the four
        (152, 21.5, 0.85, "unknown"),  # Maia-1's beam and bridge, 14 m too long
    ],
)
def test_identify_ship(length, beam, bridge, expect):
    assert identify_ship(length, beam, bridge, load_registry())[0] == expect


def test_identify_ship_with_unknown_bow_tries_both_ends():
    assert identify_ship(128, 19.5, 0.88, load_registry())[0] == "unknown"
    assert identify_ship(128, 19.5, 0.88, load_registry(), bow_known=False)[0] == "Angara"


def test_hull_geometry_tapered_end_is_bow():
    # 40 x 10 cells, the right end tapers to a point; bridge near the left (stern) end
    rows, cols = np.mgrid[0:10, 0:40]
    half = np.where(cols < 32, 5.0, 5.0 * (40 - cols) / 8.0)
    mask = np.abs(rows + 0.5 - 5.0) <= half
    cells = np.argwhere(mask)
    bridge = np.argwhere(mask & (cols >= 2) & (cols < 6))
    length_m, beam_m, frac, bow_known = hull_geometry(cells, bridge, stride_px=4, gsd_m=0.4)
    assert length_m == pytest.approx(40 * 1.6, abs=1.6)
    assert beam_m == pytest.approx(10 * 1.6, abs=1.6)
    assert bow_known
    assert frac == pytest.approx(1 - 4.5 / 40, abs=0.03)  # bridge near the stern
    # the same hull mirrored: bridge now measured from the other side, same fraction
    m2 = mask[:, ::-1]
    b2 = np.argwhere(m2 & (cols >= 34) & (cols < 38))
    _, _, frac2, _ = hull_geometry(np.argwhere(m2), b2, stride_px=4, gsd_m=0.4)
    assert frac2 == pytest.approx(frac, abs=0.03)


def test_hull_geometry_slight_taper_leaves_the_bow_open():
    # 40 x 20 cells; the last 2 columns lose one row: the right end zone (6 columns) is ~2 %
    # narrower, less than BOW_TAPER_MIN: no bow from that
    rows, cols = np.mgrid[0:20, 0:40]
    mask = ~((cols >= 38) & (rows == 0))
    *_, bow_known = hull_geometry(np.argwhere(mask), np.zeros((0, 2), int), stride_px=4, gsd_m=0.4)
    assert not bow_known
    mask2 = ~((cols >= 34) & ((rows <= 2) | (rows >= 17)))  # ~30 % narrower: a bow
    *_, bow_known2 = hull_geometry(
        np.argwhere(mask2), np.zeros((0, 2), int), stride_px=4, gsd_m=0.4
    )
    assert bow_known2


def _synth_ship_maps(spec, seed: int, size=(140, 140)):
    """Hull and bridge probability maps (stride 4) of a registry ship drawn by the synthetic
    generator at 0.4 m, at a random heading: the fraction of each 4 x 4 cell covered, which
    is what a well-trained hull head approximates."""
    from detector.synth.render import polygon_mask
    from detector.synth.ships import ship_layout

    rng = np.random.default_rng(seed)
    h, w = size[0] * 4, size[1] * 4
    lay = ship_layout(
        rng, cx=w / 2 + 0.3, cy=h / 2 - 0.2, heading_rad=rng.uniform(0, 2 * np.pi),
        gsd_m=GSD, length_m=spec.loa_m, beam_m=spec.beam_m,
        bridge_from_bow=spec.bridge_from_bow, deck_rows=spec.deck_rows,
        deck_bays=spec.deck_bays, cranes=spec.cranes, name=spec.name,
    )  # fmt: skip

    def cells(poly):
        m = polygon_mask((h, w), [poly]).astype(np.float32)
        return m.reshape(size[0], 4, size[1], 4).mean(axis=(1, 3))

    return cells(lay.hull_xy), cells(lay.bridge_xy)


@pytest.mark.parametrize("name", ["Angara", "Maria", "Maia-1", "Lady R"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_registry_ships_identified_from_synthetic_hull_masks(name, seed):
    reg = load_registry()
    spec = next(s for s in reg if s.name == name)
    hull, bridge = _synth_ship_maps(spec, seed)
    found = find_hulls(hull, bridge, stride_px=4, gsd_m=GSD, registry=reg)
    assert len(found.hulls) == 1
    h = found.hulls[0]
    assert h.name == name
    assert h.length_m == pytest.approx(spec.loa_m, abs=4.0)
    assert h.beam_m == pytest.approx(spec.beam_m, abs=2.5)
    assert h.bridge_from_bow == pytest.approx(spec.bridge_from_bow, abs=0.08)


def test_odd_ship_is_unknown():
    from detector.ships import ShipSpec

    odd = ShipSpec("Odd", loa_m=175.0, beam_m=27.0, bridge_from_bow=0.5, deck_rows=10,
                   deck_bays=16, cranes=0)  # fmt: skip
    hull, bridge = _synth_ship_maps(odd, 4, size=(160, 160))
    found = find_hulls(hull, bridge, stride_px=4, gsd_m=GSD, registry=load_registry())
    assert [h.name for h in found.hulls] == ["unknown"]


def test_stubby_blob_is_not_a_ship():
    m = np.zeros((100, 100), np.float32)
    m[10:24, 10:40] = 1.0  # 48 m x 22.4 m: a block of containers, not a hull
    assert find_hulls(m, m * 0, stride_px=4, gsd_m=GSD, registry=load_registry()).hulls == ()
    m[10:24, 10:70] = 1.0  # 96 m x 22.4 m: long enough to be one
    assert len(find_hulls(m, m * 0, stride_px=4, gsd_m=GSD, registry=load_registry()).hulls) == 1


def test_a_faint_hull_without_a_bridge_is_dropped():
    """A hull-shaped blob the map is unsure of and with no superstructure (a cloud over the
    water) is no ship; the same blob with a bridge, or as sure as real hulls are, stays."""
    reg = load_registry()
    m = np.zeros((100, 100), np.float32)
    m[10:24, 10:70] = 0.6  # 96 m x 22.4 m, mean p 0.6
    bridge = np.zeros_like(m)
    assert find_hulls(m, bridge, stride_px=4, gsd_m=GSD, registry=reg, thresh=0.3).hulls == ()
    bridge[12:22, 14:18] = 0.9
    assert len(find_hulls(m, bridge, stride_px=4, gsd_m=GSD, registry=reg).hulls) == 1
    m[10:24, 10:70] = 0.75
    assert len(find_hulls(m, m * 0, stride_px=4, gsd_m=GSD, registry=reg).hulls) == 1
    assert find_hulls(m, m * 0, stride_px=4, gsd_m=GSD, registry=reg,
                      bridgeless_min_score=0.8).hulls == ()  # fmt: skip


def test_hull_on_land_is_dropped_and_one_at_the_berth_kept():
    reg, aoi = load_registry(), aoi_pixels(load_port("rajin"), GRID)
    # an Angara-sized blob lying on Pier 2 itself (x 300-348 px; the pier spans 259-559 px):
    # a loaded pier the hull map took for a deck
    on_pier = rect_hull_map(605820.0, 605839.2, 4677948, 4678080)
    assert len(find_hulls(on_pier, on_pier * 0, stride_px=4, gsd_m=GSD, registry=reg).hulls) == 1
    assert (
        find_hulls(on_pier, on_pier * 0, stride_px=4, gsd_m=GSD, registry=reg, aoi=aoi).hulls == ()
    )
    # the same blob moored at the west berth, alongside the pier, stays
    berthed = rect_hull_map(605775.2, 605794.4, 4677948, 4678080)
    found = find_hulls(berthed, berthed * 0, stride_px=4, gsd_m=GSD, registry=reg, aoi=aoi)
    assert [h.name for h in found.hulls] == ["Angara"]
    assert found.berths == ("Pier 2 west berth",)


def test_hulls_found_on_map_parts_match_the_whole_map(aoi):
    """A hull found on a part of the map (cell [0, 0] at ``origin``) lies where the whole
    map puts it, keeps its berth and ship, and regions look it up in the right part."""
    hull_map = rect_hull_map(605775.2, 605794.4, 4677950, 4678080)
    reg = load_registry()
    whole = find_hulls(hull_map, hull_map * 0, stride_px=4, gsd_m=GSD, registry=reg, aoi=aoi)
    rows, cols = np.nonzero(hull_map)
    r0, c0 = int(rows.min()) - 5, int(cols.min()) - 5
    crop = hull_map[r0:, c0:]
    empty = np.zeros((8, 8), hull_map.dtype)
    parts = [
        find_hulls(empty, empty, stride_px=4, gsd_m=GSD, registry=reg, aoi=aoi, origin=(0, 0)),
        find_hulls(crop, crop * 0, stride_px=4, gsd_m=GSD, registry=reg, aoi=aoi, origin=(r0, c0)),
    ]
    merged = ShipHulls.merge(parts)
    assert len(merged.hulls) == len(whole.hulls) == 1
    np.testing.assert_allclose(merged.hulls[0].polygon, whole.hulls[0].polygon)
    assert merged.hulls[0].length_m == whole.hulls[0].length_m
    assert merged.berths == whole.berths == ("Pier 2 west berth",)
    points = [px(605784, 4678000), px(605740, 4678000)]
    assert assign_regions(dets_at(points), merged, aoi).ship_index.tolist() == [0, -1]


def test_hulls_shorter_than_a_container_feeder_are_not_ships():
    from detector.detect.hulls import MIN_HULL_LENGTH_M

    hull = np.zeros((80, 160), np.float32)
    hull[10:18, 10:48] = 0.9  # 38 x 8 cells at 1.6 m: ~60 x 13 m, a shed or a quay end
    hull[40:48, 10:67] = 0.9  # ~90 x 13 m
    got = find_hulls(hull, np.zeros_like(hull), stride_px=4, gsd_m=0.4, registry=load_registry())
    assert MIN_HULL_LENGTH_M == 80.0
    assert [round(h.length_m) for h in got.hulls] == [90]
    kept = find_hulls(hull, np.zeros_like(hull), stride_px=4, gsd_m=0.4, registry=load_registry(),
                      min_length_m=40.0)  # fmt: skip
    assert sorted(round(h.length_m) for h in kept.hulls) == [60, 90]
