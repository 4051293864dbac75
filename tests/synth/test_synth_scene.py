"""render_scene / write_scene / ``ccount synth scene``: truth, regions, GeoTIFF, CLI."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from conftest import pier2_spec
from pyproj import Transformer

from detector.cli.main import main
from detector.errors import ConfigError
from detector.imagery.aoi import load_port, project
from detector.imagery.raster import open_scene
from detector.labels.io import read_containers, read_geojson
from detector.synth.export import write_scene
from detector.synth.portmap import apply_affine
from detector.synth.scene import ShipVisit, StockSpec, deck_tiers, render_scene

WHEN = dt.datetime(2023, 9, 2, 2, 12, tzinfo=dt.UTC)  # pier2_spec's acquisition time


@pytest.fixture(scope="module")
def scene():
    return render_scene(pier2_spec())


def test_deterministic(scene):
    again = render_scene(pier2_spec())
    np.testing.assert_array_equal(scene.image, again.image)
    np.testing.assert_array_equal(scene.truth.cx, again.truth.cx)
    other = render_scene(pier2_spec(seed=6))
    assert not np.array_equal(scene.image, other.image)


def test_counts_hidden_tiers_and_regions(scene):
    t = scene.truth
    vis = t.select(t.visible)
    assert scene.containers_total == len(t) == int(vis.tiers.sum())
    # every hidden record shares the footprint of a visible top of the same stack height
    key = {(round(x, 6), round(y, 6)): n for x, y, n in zip(vis.cx, vis.cy, vis.tiers, strict=True)}
    hid = t.select(~t.visible)
    assert all(
        key[(round(x, 6), round(y, 6))] == n
        for x, y, n in zip(hid.cx, hid.cy, hid.tiers, strict=True)
    )
    region, ship = np.array(scene.region), np.array(scene.ship, dtype=object)
    assert (region == "deck").sum() == 150 and set(ship[region == "deck"]) == {"Angara"}
    assert set(ship[region != "deck"]) <= {None}
    assert [h.name for h in scene.hulls] == ["Angara"] and scene.hulls[0].length_m == 132.0
    # regions agree with the AOI polygons (checked in map coordinates, by the stack's base)
    aoi = load_port("rajin")
    polys = {f.name: (f.kind, project(f.polygon, aoi.utm_epsg)) for f in aoi.features}
    lean_free = render_scene(pier2_spec(off_nadir_deg=0.0))
    tt, rr = lean_free.truth, np.array(lean_free.region)
    x, y = apply_affine(lean_free.transform, tt.cx, tt.cy)
    in_pier2 = shapely.contains_xy(polys["Pier 2"][1], x, y) & ~shapely.contains_xy(
        polys["Pier 2 rail"][1], x, y
    )
    assert (rr[in_pier2 & (rr != "deck")] == "quay").all()
    assert int((in_pier2 & (rr == "quay")).sum()) == 40  # the stock, exactly
    in_rail = np.zeros(len(tt), bool)
    in_quay = np.zeros(len(tt), bool)
    for kind, poly in polys.values():
        if kind == "rail":
            in_rail |= shapely.contains_xy(poly, x, y)
        if kind in ("pier", "quay"):
            in_quay |= shapely.contains_xy(poly, x, y)
    deck = rr == "deck"
    assert (rr[~deck & in_rail] == "rail").all()
    assert (rr[~deck & ~in_rail & in_quay] == "quay").all()
    assert (rr[~deck & ~in_rail & ~in_quay] == "yard").all()
    hull = shapely.Polygon(
        np.stack(apply_affine(lean_free.transform, *lean_free.hulls[0].polygon.T), axis=1)
    )
    assert shapely.contains_xy(hull, x[deck], y[deck]).all()


def _inner_std(img: np.ndarray, dets, shift_widths: float) -> float:
    import cv2

    c, s = np.cos(dets.angle_rad), np.sin(dets.angle_rad)
    off = dets.width_px * shift_widths
    moved = replace(dets, cx=dets.cx - s * off, cy=dets.cy + c * off)
    out = []
    h, w = img.shape[:2]
    for q in moved.corners():
        m = np.zeros((h, w), np.uint8)
        centre = q.mean(axis=0)
        cv2.fillConvexPoly(
            m, np.round((centre + (q - centre) * 0.7) * 16).astype(np.int32), 1, shift=4
        )
        if m.sum() >= 4:
            out.append(img[m.astype(bool)].std(axis=0).mean())
    return float(np.median(out))


def test_truth_lies_on_rendered_containers(scene):
    img = scene.image.transpose(1, 2, 0).astype(np.float32)
    vis = scene.truth.select(scene.truth.visible)
    assert len(vis) > 50
    on, off = _inner_std(img, vis, 0.0), _inner_std(img, vis, 0.5)
    assert on < 0.7 * off, (on, off)


def test_valid_footprint_and_nodata(scene):
    assert scene.image.dtype == np.uint8 and scene.image.shape == (3, 1000, 520)
    assert (scene.image[:, ~scene.valid] == 0).all() and (scene.image[:, scene.valid] >= 1).all()
    assert 0.7 < scene.valid.mean() < 1.0
    vis = scene.truth
    assert scene.valid[vis.cy.astype(int), vis.cx.astype(int)].all()


def test_geotiff_and_truth_files(tmp_path, scene):
    tif, geo = write_scene(scene, tmp_path)
    assert tif.name == "rajin_20230902T0212Z.tif" and geo.name == "rajin_20230902T0212Z.geojson"
    with rasterio.open(tif) as ds:
        assert ds.crs.to_epsg() == 32652 and ds.res == (0.5, 0.5) and ds.count == 3
        assert ds.nodata == 0 and ds.profile["tiled"] and ds.overviews(1) == [2, 4, 8]
        assert ds.tags()["ACQUISITION_TIME"] == "2023-09-02T02:12:00Z"
        assert ds.tags()["TIFFTAG_DATETIME"] == "2023:09:02 02:12:00"
        np.testing.assert_array_equal(ds.read(), scene.image)
    sc = open_scene(tif)
    assert sc.port == "rajin" and sc.epsg == 32652 and sc.gsd_m == pytest.approx(0.5)
    assert sc.acquired == WHEN
    feats, props = read_geojson(geo)
    assert (
        props["crs"] == "EPSG:32652"
        and props["scene"] == scene.scene_id
        and props["acquired"] == "2023-09-02T02:12:00Z"
    )
    assert props["containers_total"] == scene.containers_total and props["width"] == 520
    t = read_containers(geo)
    assert len(t) == scene.containers_total and int(t.visible.sum()) == scene.containers_visible
    x, y = apply_affine(scene.transform, scene.truth.cx, scene.truth.cy)
    np.testing.assert_allclose(t.x_m, x, atol=0.02)
    np.testing.assert_allclose(t.y_m, y, atol=0.02)
    ships = [f for f in feats if f["properties"]["type"] == "ship"]
    assert [f["properties"]["name"] for f in ships] == ["Angara"]


def test_16bit_4band(tmp_path):
    rs = render_scene(
        pier2_spec(
            bits=16, bands=4, width=300, height=300, ships=(), stock=(StockSpec("Pier 2", 10),)
        )
    )
    assert rs.image.dtype == np.uint16 and rs.image.shape == (4, 300, 300)
    assert rs.image.max() <= 2047 and rs.image[:, rs.valid].min() >= 1
    tif, _ = write_scene(rs, tmp_path)
    with rasterio.open(tif) as ds:
        assert ds.count == 4 and ds.dtypes[0] == "uint16"
        assert [c.name for c in ds.colorinterp][:3] == ["red", "green", "blue"]
    sc = open_scene(tif)
    assert sc.bands == (1, 2, 3) and sc.acquired == WHEN


def test_bad_specs():
    with pytest.raises(ConfigError):
        render_scene(pier2_spec(bits=8, bands=4))
    with pytest.raises(ConfigError, match="registry"):
        render_scene(pier2_spec(ships=(ShipVisit("Titanic", "Pier 2 east berth", 10),)))
    with pytest.raises(ConfigError, match="exceed"):
        render_scene(pier2_spec(ships=(ShipVisit("Angara", "Pier 2 east berth", 10_000),)))
    with pytest.raises(ConfigError, match="Pier 9"):
        render_scene(pier2_spec(stock=(StockSpec("Pier 9", 10),)))


@pytest.mark.parametrize("slots,n", [(105, 0), (105, 60), (105, 105), (105, 247), (112, 448)])
def test_deck_tiers(slots, n):
    t = deck_tiers(np.random.default_rng(0), slots, n)
    assert t.sum() == n and t.min() >= 0 and t.max() <= 4 and len(t) == slots


def test_cli_scene(tmp_path, capsys):
    out = tmp_path / "o"
    rc = main(
        [
            "synth",
            "scene",
            "--port",
            "dunai",
            "--seed",
            "2",
            "--out",
            str(out),
            "--size",
            "400",
            "300",
            "--gsd",
            "0.5",
        ]
    )
    assert rc == 0
    tifs = sorted(out.glob("*.tif"))
    assert (
        len(tifs) == 1
        and tifs[0].stem.startswith("dunai_")
        and (out / f"{tifs[0].stem}.geojson").is_file()
    )
    with rasterio.open(tifs[0]) as ds:
        assert (ds.width, ds.height) == (400, 300) and ds.crs.to_epsg() == 32653
    assert (
        main(
            [
                "synth",
                "scene",
                "--port",
                "dunai",
                "--seed",
                "2",
                "--out",
                str(out),
                "--bits",
                "8",
                "--bands",
                "4",
            ]
        )
        == 2
    )
    assert "--bands 4" in capsys.readouterr().err


def test_cli_scene_subprocess(tmp_path):
    exe = Path(sys.executable).with_name("ccount")
    args = [
        str(exe),
        "synth",
        "scene",
        "--port",
        "vostochny",
        "--seed",
        "1",
        "--out",
        str(tmp_path),
    ]
    r = subprocess.run(
        [*args, "--size", "256", "256", "--bits", "16", "--bands", "4"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    (tif,) = tmp_path.glob("vostochny_*.tif")
    with rasterio.open(tif) as ds:
        assert ds.count == 4 and ds.dtypes[0] == "uint16"
    props = json.loads(tif.with_suffix(".geojson").read_text())["properties"]
    assert props["port"] == "vostochny" and props["crs"] == "EPSG:32653"
    r = subprocess.run([*args, "--gsd", "9"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--gsd" in r.stderr


def test_lonlat_of_scene_centre(scene):
    lon, lat = Transformer.from_crs(32652, 4326, always_xy=True).transform(
        *apply_affine(scene.transform, 260, 500)
    )
    assert 130.2 < lon < 130.4 and 42.2 < lat < 42.3


@pytest.mark.parametrize("name", ["Angara", "Maria", "Maia-1", "Lady R"])
def test_registry_ships_fit_their_deck_slots(name):
    """Every 20-ft slot lies on the hull and clear of bridge, wings and funnel; the bridge
    sits at the registry's fraction of the length from the bow."""
    from detector.detections import box_corners
    from detector.ships import load_registry
    from detector.synth.ships import ship_layout

    s = next(r for r in load_registry() if r.name == name)
    for seed in range(15):
        lay = ship_layout(
            np.random.default_rng(seed), cx=0.0, cy=0.0, heading_rad=0.3, gsd_m=0.5, length_m=s.loa_m,
            beam_m=s.beam_m, bridge_from_bow=s.bridge_from_bow, deck_rows=s.deck_rows,
            deck_bays=s.deck_bays, cranes=s.cranes, name=s.name,
        )  # fmt: skip
        n = len(lay.slots_xy)
        assert n == s.deck_slots
        boxes = box_corners(
            lay.slots_xy[:, 0],
            lay.slots_xy[:, 1],
            np.full(n, 12.116),
            np.full(n, 4.876),
            np.full(n, 0.3),
        )
        hull = shapely.Polygon(lay.hull_xy)
        blocked = shapely.union_all(
            [shapely.Polygon(p) for p in (lay.bridge_xy, lay.wings_xy, lay.funnel_xy)]
        )
        polys = shapely.polygons(boxes)
        assert shapely.contains(hull, polys).all() and not shapely.intersects(blocked, polys).any()
        bow = lay.hull_xy[np.argmax(lay.hull_xy @ np.array([np.cos(0.3), np.sin(0.3)]))]
        frac = np.hypot(*(lay.bridge_xy.mean(axis=0) - bow)) * 0.5 / s.loa_m
        assert frac == pytest.approx(s.bridge_from_bow, abs=0.01)
