"""Shadows seen off nadir (detect.view): the product's viewing geometry from its tags, a
stack drawn as an off-nadir sensor sees it (top displaced from its base, the shadow cast
from the base) read back to its height only with the view, the sun from the shadows turned
back into the sun, and synthetic scenes carrying their view in their tags."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detector.detect.heights import anti_sun_unit, shadow_lengths_px, stack_heights
from detector.detect.view import seen_elevation_deg, sun_from_seen
from detector.detections import TIER_HEIGHT_M, Detections
from detector.imagery.meta import View, view_geometry

GSD = 0.3


def test_view_from_the_tags_products_use():
    maxar = view_geometry({}, "a.tif", {"IMAGE_1.meanSatEl": "71.5", "IMAGE_1.meanSatAz": "201.3",
                                        "IMAGE_1.meanOffNadirViewAngle": "16.9"})  # fmt: skip
    assert maxar.incidence_deg == pytest.approx(18.5) and maxar.azimuth_deg == pytest.approx(201.3)
    assert "meanSatEl" in maxar.source  # the satellite's elevation wins over off-nadir
    planet = view_geometry({"view_angle": "4.2", "satellite_azimuth": "-80"})
    assert (planet.incidence_deg, planet.azimuth_deg) == (pytest.approx(4.2), pytest.approx(280.0))
    airbus = view_geometry({"INCIDENCE_ANGLE": "12.0", "SATELLITE_AZIMUTH": "95.0"})
    assert airbus.incidence_deg == pytest.approx(12.0)
    assert view_geometry({"MEAN_SAT_EL": "80"}) is None  # no azimuth: nothing to lean along
    assert view_geometry({"OFF_NADIR": "75", "MEAN_SAT_AZ": "10"}, "b.tif") is None  # absurd
    assert view_geometry({"OFF_NADIR": "n/a", "MEAN_SAT_AZ": "10"}) is None


def test_seen_elevation_follows_where_the_satellite_is():
    elev, az = 45.0, 160.0
    t = 0.2  # tan(incidence)
    inc = math.degrees(math.atan(t))
    # on the sun's side the tops cover part of their shadows: seen shorter, steeper sun
    same = seen_elevation_deg(elev, az, View(inc, az, "t"))
    assert 1 / math.tan(math.radians(same)) == pytest.approx(1.0 - t)
    opposite = seen_elevation_deg(elev, az, View(inc, az + 180.0, "t"))
    assert 1 / math.tan(math.radians(opposite)) == pytest.approx(1.0 + t)
    assert seen_elevation_deg(elev, az, View(inc, az + 90.0, "t")) == pytest.approx(elev)
    assert seen_elevation_deg(elev, az, None) == elev
    assert seen_elevation_deg(80.0, az, View(30.0, az, "t")) == 90.0  # shadows hidden


@pytest.mark.parametrize("sun_az,sat_az,inc", [(150.0, 20.0, 12.0), (200.0, 300.0, 25.0)])
def test_the_sun_comes_back_from_shadows_seen_off_nadir(sun_az, sat_az, inc):
    elev = 40.0

    def unit(a):
        return np.array([math.sin(math.radians(a)), math.cos(math.radians(a))])

    s = unit(sun_az + 180) / math.tan(math.radians(elev))
    lean = math.tan(math.radians(inc)) * unit(sat_az + 180)
    seen = s - lean  # where a top's shadow ends, seen from the top, per metre of height
    seen_el = math.degrees(math.atan2(1.0, float(np.hypot(*seen))))
    seen_az = (math.degrees(math.atan2(seen[0], seen[1])) + 180.0) % 360.0
    el, az = sun_from_seen(seen_el, seen_az, View(inc, sat_az, "t"))
    assert el == pytest.approx(elev, abs=1e-6) and az == pytest.approx(sun_az, abs=1e-6)
    assert sun_from_seen(seen_el, seen_az, None) == (seen_el, seen_az)


def _draw_off_nadir(tiers, *, elev, az, view, shape=(200, 200)):
    """gray [H, W]: a 20 ft stack standing at the centre, its top seen displaced by
    ``h * tan(incidence)`` away from the satellite, its side walls between base and top in
    shade, its shadow cast from the base along the anti-sun direction (4 x 4 supersampled)."""
    import cv2

    h_m = tiers * TIER_HEIGHT_M
    k = 4
    cx, cy, ln, wd = 100.0, 100.0, 6.06 / GSD, 2.44 / GSD
    foot = np.array([[-ln / 2, -wd / 2], [ln / 2, -wd / 2], [ln / 2, wd / 2], [-ln / 2, wd / 2]])
    foot = foot + [cx, cy]
    ux, uy = anti_sun_unit(az)
    shadow = np.array([ux, uy]) * h_m / math.tan(math.radians(elev)) / GSD
    t = math.tan(math.radians(view.incidence_deg)) * h_m / GSD
    lx, ly = anti_sun_unit(view.azimuth_deg)  # away from the satellite, image frame
    top = foot + np.array([lx, ly]) * t

    def fill(img, pts, value):
        hull = cv2.convexHull((pts * k).astype(np.float32)).astype(np.int32)
        cv2.fillConvexPoly(img, hull, value)

    img = np.full((shape[0] * k, shape[1] * k), 0.55, np.float32)
    fill(img, np.vstack([foot, foot + shadow]), 0.22)  # the shadow on the ground
    fill(img, np.vstack([foot, top]), 0.25)  # the walls seen between base and top
    fill(img, top, 0.85)
    gray = cv2.GaussianBlur(img.reshape(shape[0], k, shape[1], k).mean(axis=(1, 3)), (0, 0), 0.6)
    c = top.mean(axis=0)
    dets = Detections(np.array([c[0]]), np.array([c[1]]), np.array([ln]), np.array([wd]),
                      np.zeros(1), np.zeros(1), np.ones(1), np.ones(1))  # fmt: skip
    return gray, np.ones(shape, bool), dets


@pytest.mark.parametrize("side", [0.0, 180.0])  # the satellite on the sun's side, or opposite
def test_an_off_nadir_stack_reads_its_height_only_with_the_view(side):
    elev, az, tiers = 35.0, 160.0, 3
    view = View(20.0, (az + side) % 360.0, "test")
    gray, valid, dets = _draw_off_nadir(tiers, elev=elev, az=az, view=view)
    runs = shadow_lengths_px(gray, valid, dets, azimuth_deg=az, max_px=80.0)
    assert runs.reason[0] == 0
    seen = seen_elevation_deg(elev, az, view)
    with_view = stack_heights(runs, n=1, gsd_m=GSD, elevation_deg=seen)
    at_nadir = stack_heights(runs, n=1, gsd_m=GSD, elevation_deg=elev)
    assert with_view.tiers_est[0] == tiers
    assert with_view.tiers_low[0] <= tiers <= with_view.tiers_high[0]
    # read as if at nadir the same shadow is a tier short (sun's side) or long (opposite)
    assert at_nadir.tiers_est[0] == (tiers - 1 if side == 0.0 else tiers + 1)


def test_synthetic_scenes_carry_their_view(tmp_path):
    from dataclasses import replace

    from detector.imagery.raster import open_scene
    from detector.synth.export import write_scene
    from detector.synth.scene import _view_azimuth, render_scene
    from detector.synth.world import random_scene_spec

    # tops lean along the image's +x (east): the satellite is west; along +y (south): north
    assert _view_azimuth(0.0) == pytest.approx(270.0)
    assert _view_azimuth(math.pi / 2) == pytest.approx(0.0)
    spec = replace(random_scene_spec("rajin", 81004), width=300, height=300, off_nadir_deg=11.0)
    rs = render_scene(spec)
    tif, geo = write_scene(rs, tmp_path)
    view = open_scene(tif).view
    assert view.incidence_deg == pytest.approx(11.0, abs=0.01)
    assert view.azimuth_deg == pytest.approx(rs.view_azimuth_deg, abs=0.01)


def test_the_view_is_read_from_gdals_imd_domain(tmp_path):
    """Maxar's IMD metadata, as GDAL exposes it (domain "IMD", keys "IMAGE_1.meanSatEl")."""
    import rasterio
    from rasterio.transform import from_origin

    from detector.imagery.raster import open_scene

    p = tmp_path / "maxar.tif"
    profile = dict(driver="GTiff", width=64, height=64, count=3, dtype="uint8",
                   crs="EPSG:32652", transform=from_origin(500000, 4700000, 0.5, 0.5))  # fmt: skip
    with rasterio.open(p, "w", **profile) as d:
        d.write(np.random.default_rng(0).integers(20, 200, (3, 64, 64), dtype=np.uint8))
        d.update_tags(ns="IMD", **{"IMAGE_1.meanSatEl": "70.0", "IMAGE_1.meanSatAz": "120.0"})
    view = open_scene(p).view
    assert view.incidence_deg == pytest.approx(20.0) and view.azimuth_deg == pytest.approx(120.0)
    assert view.source == "IMAGE_1.meanSatEl, IMAGE_1.meanSatAz"


def test_a_view_across_the_shadow_widens_the_measured_interval():
    # 3 tiers at a 60-degree sun: 4.5 m of shadow, read sharply. Seen 18 degrees off nadir
    # with the satellite across the sun, a top stands ~2.5 m beside its shadow and some
    # profiles miss it: the interval widens. Along the shadow (or at nadir) it does not.
    from detector.detect.heights import ShadowRuns
    from detector.detect.view import lean_across

    gsd = 0.4
    px = 3 * TIER_HEIGHT_M / math.tan(math.radians(60.0)) / gsd
    runs = ShadowRuns(length_px=np.array([px]), sd_px=np.array([0.3]),
                      reason=np.zeros(1, np.int8), profiles=np.array([5]))  # fmt: skip

    def read(view):
        h = stack_heights(runs, n=1, gsd_m=gsd, elevation_deg=60.0,
                          lean_across=lean_across(view, 150.0))  # fmt: skip
        return float(h.tiers_est[0]), float(h.tiers_low[0]), float(h.tiers_high[0])

    across = View(incidence_deg=18.0, azimuth_deg=240.0, source="test")
    along = View(incidence_deg=18.0, azimuth_deg=330.0, source="test")
    assert lean_across(None, 150.0) == 0.0
    assert lean_across(along, 150.0) == pytest.approx(0.0, abs=1e-9)
    assert lean_across(across, 150.0) == pytest.approx(math.tan(math.radians(18.0)))
    assert read(None) == read(along) == (3.0, 2.0, 4.0)
    assert read(across) == (3.0, 1.0, 4.0)
