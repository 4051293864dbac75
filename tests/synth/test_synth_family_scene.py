"""Whole port scenes in a rendering family: classic scenes unchanged bit for bit, a flat
scene has the classic layout and truth with another look, and ``ccount synth scene
--family``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import numpy as np
import rasterio

from detector.cli.main import main
from detector.synth.scene import render_scene
from detector.synth.world import random_scene_spec

#: sha256[:16] of image, truth, regions and ships of classic 480 x 480 scenes
#: ``random_scene_spec(port, seed, size=(480, 480), bits=, bands=)``, recorded on main at
#: 2aadba1 before the families existed.
CLASSIC = {
    ("vostochny", 3, 8, 3): "c512b90a4facb650",
    ("rajin", 5, 16, 4): "3f7504915c045c94",
    ("dunai", 2, 8, 3): "685d2385ce02858b",
}


def digest(rs) -> str:
    m = hashlib.sha256()
    m.update(rs.image.tobytes())
    d = rs.truth
    for a in (d.cx, d.cy, d.length_px, d.tiers, d.visible):
        m.update(np.ascontiguousarray(a).tobytes())
    m.update(repr((rs.region, rs.ship)).encode())
    return m.hexdigest()[:16]


def spec(port, seed, bits=8, bands=3, family="classic"):
    s = random_scene_spec(port, seed, size=(480, 480), bits=bits, bands=bands)
    return replace(s, family=family)


def test_classic_scenes_byte_identical_to_before():
    for (port, seed, bits, bands), want in CLASSIC.items():
        assert digest(render_scene(spec(port, seed, bits, bands))) == want, port


def test_flat_scene_same_layout_and_truth_other_look():
    classic = render_scene(spec("dunai", 2))
    flat = render_scene(spec("dunai", 2, family="flat"))
    assert flat.image.shape == classic.image.shape and flat.image.dtype == np.uint8
    assert np.array_equal(flat.valid, classic.valid)
    assert (flat.image[:, ~flat.valid] == 0).all() and (flat.image[:, flat.valid] > 0).all()
    assert np.abs(flat.image.astype(int) - classic.image.astype(int)).mean() > 10
    a, b = classic.truth, flat.truth
    assert len(a) == len(b) > 100
    assert flat.region == classic.region and flat.ship == classic.ship
    for f in ("kind", "tiers", "visible", "length_px", "width_px", "angle_rad"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    # stacks on the ground are seen at the same place; the flat family leans tops on a deck
    # or a wagon by their full height above the ground, the classic one by the stack only
    ground = np.array([r in ("yard", "quay") for r in classic.region])
    assert ground.sum() > 100
    np.testing.assert_allclose(a.cx[ground], b.cx[ground])
    np.testing.assert_allclose(a.cy[ground], b.cy[ground])
    assert digest(render_scene(spec("dunai", 2, family="flat"))) == digest(flat)


def test_flat_scene_11bit_4band():
    rs = render_scene(spec("rajin", 5, bits=16, bands=4, family="flat"))
    assert rs.image.shape == (4, 480, 480) and rs.image.dtype == np.uint16
    inside = rs.image[:, rs.valid]
    assert inside.min() >= 1 and inside.max() <= 2047
    assert inside.std(axis=1).min() > 20  # every band, NIR included, has contrast


def test_flat_scene_in_winter_same_truth():
    plain = render_scene(spec("vostochny", 3, family="flat"))
    winter = render_scene(replace(spec("vostochny", 3, family="flat"), snow=0.8))
    for f in ("cx", "cy", "kind", "tiers"):
        np.testing.assert_array_equal(getattr(plain.truth, f), getattr(winter.truth, f))
    v = winter.valid  # this port's ground is brown: snow brightens the scene
    assert winter.image[:, v].mean() > 1.1 * plain.image[:, v].mean()
    again = render_scene(replace(spec("vostochny", 3, family="flat"), snow=0.0))
    assert digest(again) == digest(plain)


def test_cli_family(tmp_path, capsys):
    out = tmp_path / "flat"
    argv = ["synth", "scene", "--port", "vostochny", "--seed", "3", "--size", "300", "300"]
    assert main([*argv, "--out", str(out), "--family", "flat"]) == 0
    (tif,) = out.glob("*.tif")
    (geo,) = out.glob("*.geojson")
    with rasterio.open(tif) as ds:
        assert ds.tags()["SYNTH_FAMILY"] == "flat"
    props = json.loads(geo.read_text())["properties"]
    assert props["family"] == "flat" and props["containers_total"] > 0
    assert main([*argv, "--out", str(tmp_path / "c")]) == 0
    (geo_c,) = (tmp_path / "c").glob("*.geojson")
    props_c = json.loads(geo_c.read_text())["properties"]
    assert "family" not in props_c and props_c["containers_total"] == props["containers_total"]
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "x"), "--family", "sketch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--family sketch" in err[0] and "classic, flat, photo" in err[0]
    assert main([*argv, "--out", str(tmp_path / "y"), "--family", "flat", "--cloud", "0.5"]) == 2
    assert "--family flat draws no cloud" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "w"), "--family", "flat", "--snow", "0.5"]) == 0
    (geo_w,) = (tmp_path / "w").glob("*.geojson")
    assert (
        json.loads(geo_w.read_text())["properties"]["containers_total"] == props["containers_total"]
    )
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
