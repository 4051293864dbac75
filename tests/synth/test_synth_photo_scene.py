"""Whole port scenes in the photo family: the classic layout and truth with a photo-like look,
11-bit 4-band products, snow, and ``ccount synth scene --family photo``."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import rasterio

from detector.cli.main import main
from detector.synth.scene import render_scene
from detector.synth.world import random_scene_spec


def spec(port, seed, bits=8, bands=3, family="classic", snow=0.0):
    s = random_scene_spec(port, seed, size=(480, 480), bits=bits, bands=bands)
    return replace(s, family=family, snow=snow)


def test_photo_scene_same_layout_and_truth_other_look():
    classic = render_scene(spec("dunai", 2))
    photo = render_scene(spec("dunai", 2, family="photo"))
    assert photo.image.shape == classic.image.shape and photo.image.dtype == np.uint8
    assert np.array_equal(photo.valid, classic.valid)
    assert (photo.image[:, ~photo.valid] == 0).all() and (photo.image[:, photo.valid] > 0).all()
    assert np.abs(photo.image.astype(int) - classic.image.astype(int)).mean() > 10
    a, b = classic.truth, photo.truth
    assert len(a) == len(b) > 100
    assert photo.region == classic.region and photo.ship == classic.ship
    for f in ("kind", "tiers", "visible", "length_px", "width_px", "angle_rad"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    ground = np.array([r in ("yard", "quay") for r in classic.region])
    assert ground.sum() > 100  # stacks on the ground are seen where the classic ones are
    np.testing.assert_allclose(a.cx[ground], b.cx[ground])
    np.testing.assert_allclose(a.cy[ground], b.cy[ground])
    again = render_scene(spec("dunai", 2, family="photo"))
    assert np.array_equal(again.image, photo.image)


def test_photo_scene_11bit_4band_and_snow():
    rs = render_scene(spec("rajin", 5, bits=16, bands=4, family="photo"))
    assert rs.image.shape == (4, 480, 480) and rs.image.dtype == np.uint16
    inside = rs.image[:, rs.valid]
    assert inside.min() >= 1 and inside.max() <= 2047
    assert inside.std(axis=1).min() > 20  # every band, NIR included, has contrast
    winter = render_scene(spec("rajin", 5, bits=16, bands=4, family="photo", snow=0.8))
    assert winter.image[:3, winter.valid].mean() > inside[:3].mean() * 1.1
    assert len(winter.truth) == len(rs.truth)


def test_cli_family_photo(tmp_path, capsys):
    out = tmp_path / "photo"
    argv = ["synth", "scene", "--port", "vostochny", "--seed", "3", "--size", "300", "300"]
    assert main([*argv, "--out", str(out), "--family", "photo", "--snow", "0.4"]) == 0
    (tif,) = out.glob("*.tif")
    (geo,) = out.glob("*.geojson")
    with rasterio.open(tif) as ds:
        assert ds.tags()["SYNTH_FAMILY"] == "photo" and ds.count == 3
    props = json.loads(geo.read_text())["properties"]
    assert props["family"] == "photo" and props["containers_total"] > 0
    capsys.readouterr()
    bad = [*argv, "--out", str(tmp_path / "y"), "--family", "photo", "--cloud", "0.3"]
    assert main(bad) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--family photo draws no cloud" in err[0]
    assert not (tmp_path / "y").exists()
