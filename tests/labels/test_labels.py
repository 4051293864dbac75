"""labels: GeoJSON (RFC 7946) and GeoPackage writing, reading back, COCO import."""

from __future__ import annotations

import json

import numpy as np
import pytest
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS

from detector.detections import Detections, Hull
from detector.errors import LabelError
from detector.imagery.raster import Grid
from detector.labels.io import (
    container_features,
    container_wkb,
    hull_features,
    polygon_wkb,
    read_coco,
    read_containers,
    read_geojson,
    utm_epsg_for,
    write_geojson,
    write_gpkg,
)

X0, Y0, GSD = 605000.0, 4678600.0, 0.5


@pytest.fixture
def grid():
    return Grid(400, 300, Affine(GSD, 0, X0, 0, -GSD, Y0), CRS.from_epsg(32652))


@pytest.fixture
def dets():
    return Detections(
        cx=[10.0, 100.0, 200.5], cy=[20.0, 50.0, 150.0], length_px=[12.116, 24.384, 12.116],
        width_px=[4.876, 4.876, 4.876], angle_rad=[0.0, 1.0, 2.5], kind=[0, 1, 0],
        score=[0.9, 0.75, 1.0], tiers=[1.0, 3.0, 3.0], visible=[True, True, False],
    )  # fmt: skip


def _ring_area(ring):
    x, y = np.asarray(ring)[:-1].T
    return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)) / 2


def test_container_features_lonlat_and_props(grid, dets):
    feats = container_features(
        dets,
        grid=grid,
        region=["quay", "deck", "deck"],
        ship=[None, "Angara", "Angara"],
        truth=True,
    )
    assert len(feats) == 3
    to_utm = Transformer.from_crs(4326, 32652, always_xy=True)
    for f, cx, cy in zip(feats, dets.cx, dets.cy, strict=True):
        ring = f["geometry"]["coordinates"][0]
        assert len(ring) == 5 and ring[0] == ring[-1]
        assert _ring_area(ring) > 0  # counter-clockwise exterior (RFC 7946)
        lon, lat = np.asarray(ring)[:-1].T
        assert (lon > 129).all() and (lon < 131).all() and (lat > 42).all() and (lat < 43).all()
        x, y = to_utm.transform(lon.mean(), lat.mean())
        assert x == pytest.approx(X0 + cx * GSD, abs=0.01) and y == pytest.approx(
            Y0 - cy * GSD, abs=0.01
        )
    p = feats[1]["properties"]
    assert p == {
        "type": "container", "kind": "40ft", "score": 0.75, "region": "deck", "ship": "Angara",
        "tiers_est": 3.0, "tiers": 3, "visible": True,
    }  # fmt: skip
    assert feats[2]["properties"]["visible"] is False
    plain = container_features(dets, grid=grid, region=["yard"] * 3, ship=[None] * 3)
    assert "tiers" not in plain[0]["properties"] and "visible" not in plain[0]["properties"]


def test_roundtrip_geojson(tmp_path, grid, dets):
    feats = container_features(
        dets,
        grid=grid,
        region=["quay", "deck", "deck"],
        ship=[None, "Angara", "Angara"],
        truth=True,
    )
    hull = Hull(
        np.array([[50.0, 50], [250, 50], [260, 70], [250, 90], [50, 90]]),
        100.0,
        20.0,
        float("nan"),
        "Angara",
        0.8,
    )
    feats += hull_features([hull], grid=grid)
    path = tmp_path / "t.geojson"
    write_geojson(
        path, feats, {"scene": "rajin_x", "crs": "EPSG:32652", "gsd_m": GSD, "nan": float("nan")}
    )
    assert [p.name for p in tmp_path.iterdir()] == ["t.geojson"]  # no temporary left over
    raw = json.loads(path.read_text())
    assert raw["type"] == "FeatureCollection" and raw["properties"]["nan"] is None
    got, props = read_geojson(path)
    assert props["scene"] == "rajin_x" and len(got) == 4
    ship = got[3]["properties"]
    assert ship["type"] == "ship" and ship["bridge_from_bow"] is None and ship["length_m"] == 100.0
    t = read_containers(path)
    assert len(t) == 3 and t.crs == "EPSG:32652"
    np.testing.assert_allclose(t.x_m, X0 + dets.cx * GSD, atol=0.01)
    np.testing.assert_allclose(t.y_m, Y0 - dets.cy * GSD, atol=0.01)
    np.testing.assert_array_equal(t.kind, [0, 1, 0])
    np.testing.assert_array_equal(t.visible, [True, True, False])
    np.testing.assert_allclose(t.tiers, [1, 3, 3])
    assert list(t.region) == ["quay", "deck", "deck"] and list(t.ship) == [None, "Angara", "Angara"]
    side = np.hypot(*(t.corners_m[1, 0] - t.corners_m[1, 1]))
    assert {round(side, 2), round(np.hypot(*(t.corners_m[1, 1] - t.corners_m[1, 2])), 2)} == {
        12.19,
        2.44,
    }


def test_gpkg(tmp_path, grid, dets):
    import pyogrio

    feats = container_features(
        dets,
        grid=grid,
        region=["quay", "deck", "deck"],
        ship=[None, "Angara", "Angara"],
        truth=True,
    )
    feats += hull_features(
        [Hull(np.array([[0.0, 0], [40, 0], [40, 10], [0, 10]]), 20.0, 5.0, 0.1)], grid=grid
    )
    out = tmp_path / "d.gpkg"
    write_gpkg(out, feats, layer="detections")
    info = pyogrio.read_info(out, layer="detections")
    assert (
        info["features"] == 4 and info["crs"] == "EPSG:4326" and info["geometry_type"] == "Polygon"
    )
    meta, _, geom, cols = pyogrio.raw.read(out, layer="detections")
    names = list(meta["fields"])
    assert list(cols[names.index("kind")]) == ["20ft", "40ft", "20ft", None]
    assert list(cols[names.index("visible")][:3]) == [1, 1, 0]
    # geometries given as WKB, containers straight from the arrays: the same file content
    wkb = np.concatenate(
        [container_wkb(dets, grid=grid), polygon_wkb([feats[-1]["geometry"]["coordinates"]])]
    )
    fast = tmp_path / "fast.gpkg"
    write_gpkg(fast, feats, layer="detections", wkb=wkb)
    meta2, _, geom2, cols2 = pyogrio.raw.read(fast, layer="detections")
    assert list(meta2["fields"]) == names and list(geom2) == list(geom)
    for a, b in zip(cols, cols2, strict=True):
        assert a.dtype == b.dtype
        assert np.array_equal(a, b, equal_nan=True) if a.dtype.kind == "f" else list(a) == list(b)
    with pytest.raises(LabelError, match="3 geometries for 4 features"):
        write_gpkg(fast, feats, layer="detections", wkb=wkb[:3])
    write_gpkg(out, feats[:1], layer="detections")  # replaced, not appended
    assert pyogrio.read_info(out, layer="detections")["features"] == 1


def test_read_errors(tmp_path):
    with pytest.raises(LabelError, match="not found"):
        read_geojson(tmp_path / "missing.geojson")
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(LabelError, match="bad.geojson"):
        read_geojson(bad)
    bad.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"geometry": {"type": "Point", "coordinates": [0, 0]}}],
            }
        )
    )
    with pytest.raises(LabelError, match="feature 0"):
        read_containers(bad)
    ok = tmp_path / "k.geojson"
    ring = [[130.0, 42.0], [130.0001, 42.0], [130.0001, 42.00003], [130.0, 42.00003], [130.0, 42.0]]
    ok.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"kind": "30ft"},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        )
    )
    with pytest.raises(LabelError, match="30ft"):
        read_containers(ok)


def test_read_containers_defaults_utm(tmp_path):
    ring = [[130.0, 42.0], [130.0001, 42.0], [130.0001, 42.00003], [130.0, 42.00003], [130.0, 42.0]]
    p = tmp_path / "d.geojson"
    write_geojson(
        p,
        [
            {
                "type": "Feature",
                "properties": {"kind": "20ft", "score": 0.5},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
        {},
    )
    t = read_containers(p)
    assert t.crs == f"EPSG:{utm_epsg_for(130.0, 42.0)}" == "EPSG:32652"
    assert np.isnan(t.tiers[0]) and t.tiers_est[0] == 1.0 and t.visible[0] and t.score[0] == 0.5


def test_read_coco(tmp_path):
    coco = {
        "images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}, {"id": 2, "file_name": "b.png", "width": 10, "height": 10}],
        "categories": [{"id": 7, "name": "container-40ft"}, {"id": 8, "name": "shipping container"}, {"id": 9, "name": "car"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [0, 0, 30, 6], "segmentation": [[10, 10, 40, 10, 40, 16, 10, 16]]},
            {"id": 2, "image_id": 1, "category_id": 8, "bbox": [5, 20, 6, 15]},
            {"id": 3, "image_id": 1, "category_id": 9, "bbox": [0, 0, 5, 5]},
        ],
    }  # fmt: skip
    p = tmp_path / "c.json"
    p.write_text(json.dumps(coco))
    imgs = read_coco(p)
    assert [i.file_name for i in imgs] == ["a.png", "b.png"] and len(imgs[1].containers) == 0
    d = imgs[0].containers
    assert len(d) == 2
    np.testing.assert_allclose(
        [d.cx[0], d.cy[0], d.length_px[0], d.width_px[0]], [25, 13, 30, 6], atol=1e-3
    )
    assert d.kind[0] == 1 and d.kind[1] == 0  # category name; aspect 15/6 < 3.5 -> 20 ft
    assert d.angle_rad[1] == pytest.approx(np.pi / 2)
    with pytest.raises(LabelError):
        read_coco(tmp_path / "none.json")
