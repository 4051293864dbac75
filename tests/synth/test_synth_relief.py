"""The relief rendering family: registered, deterministic, the classic labels exactly, light
and view from the height field (shadow length h / tan(elevation), penumbra, walls facing the
satellite, roofs shifted by their height), its own sensor, snow, and whole scenes."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest

import detector.synth.families.relief as relief_mod
import detector.synth.training as training_mod
from detector.synth.families import FAMILIES, pick_family
from detector.synth.families.relief_draw import burn, light, sun_visibility, view
from detector.synth.families.relief_look import random_look
from detector.synth.families.relief_sensor import ReliefSensor, apply_relief_sensor
from detector.synth.record import Ground, box_part
from detector.synth.scene import render_scene
from detector.synth.training import training_sample
from detector.synth.world import random_scene_spec


def digest(ts) -> str:
    m = hashlib.sha256()
    for a in (ts.image, ts.hull_mask, ts.bridge_mask):
        m.update(a.tobytes())
    d = ts.containers
    for a in (d.cx, d.cy, d.length_px, d.width_px, d.angle_rad, d.kind, d.tiers):
        m.update(np.ascontiguousarray(a).tobytes())
    return m.hexdigest()[:16]


@pytest.fixture(scope="module")
def reliefs():
    return {s: training_sample(s, family="relief", layouts="v2") for s in range(8)}


def test_relief_registered_and_in_mixes():
    assert "relief" in FAMILIES
    mix = {"classic": 1.0, "relief": 1.0}
    picks = [pick_family(s, mix) for s in range(40)]
    assert set(picks) == {"classic", "relief"}
    s = picks.index("relief")
    assert digest(training_sample(s, size_px=64, families=mix)) == digest(
        training_sample(s, size_px=64, family="relief")
    )


def test_relief_samples_valid_deterministic_and_another_look(reliefs):
    for s, ts in reliefs.items():
        assert ts.image.shape == (3, 256, 256) and ts.image.dtype == np.float32
        assert ts.image.min() >= 0.0 and ts.image.max() <= 1.0 and ts.image.std() > 0.02
        d = ts.containers
        assert ((d.cx >= 0) & (d.cx < 256) & (d.cy >= 0) & (d.cy < 256)).all()
        assert 15.0 <= ts.sun_elevation_deg <= 75.0
        for other in ("classic", "flat", "photo"):
            o = training_sample(s, family=other, layouts="v2")
            assert ts.setting == o.setting and ts.native_gsd_m == o.native_gsd_m
            assert np.abs(ts.image - o.image).mean() > 0.03, other
    assert digest(training_sample(5, family="relief", layouts="v2")) == digest(reliefs[5])
    assert sum(len(ts.containers) for ts in reliefs.values()) > 150
    assert any(ts.hull_mask.any() for ts in reliefs.values())


def test_relief_labels_are_the_classic_labels(monkeypatch):
    """Seen from straight above, the truth is the classic one field for field (as in the
    photo family's test: the classic sample's lean is read where it draws its containers)."""
    leans: list = []
    draw = training_mod.draw_containers

    def spy(canvas, blocks, rng, *, lean_px_per_m):
        leans.append(tuple(lean_px_per_m))
        return draw(canvas, blocks, rng, lean_px_per_m=lean_px_per_m)

    look = relief_mod.random_look
    monkeypatch.setattr(training_mod, "draw_containers", spy)
    monkeypatch.setattr(
        relief_mod, "random_look", lambda *a: replace(look(*a), lean_px_per_m=(0.0, 0.0))
    )
    checked = 0
    for s in range(14):
        leans.clear()
        classic = training_sample(s)
        if leans != [(0.0, 0.0)]:
            continue
        r = training_sample(s, family="relief")
        a, b = classic.containers, r.containers
        if len(a) != len(b):  # cloud in the classic sample hides some boxes
            keep = np.isin(b.cx, a.cx) & np.isin(b.cy, a.cy)
            assert keep.sum() == len(a) < len(b)
            b = b.select(keep)
        for f in ("cx", "cy", "length_px", "width_px", "angle_rad", "kind", "tiers", "visible"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
        checked += len(a) > 0
    assert checked >= 3


def _tower(el=30.0, az=90.0, lean=(0.0, 0.0), penumbra=0.005, g=0.5, h_m=10.0):
    """A 10 x 10 m block ``h_m`` high in the middle of 200 x 200 px of concrete."""
    rng = np.random.default_rng(1)
    look = replace(random_look(rng, g), sun_elevation_deg=el, sun_azimuth_deg=az,
                   lean_px_per_m=lean, penumbra=penumbra, camber_m=0.0)  # fmt: skip
    notes = [Ground("concrete", np.ones((200, 200), bool)),
             box_part("shed:roof", 100, 100, 20, 20, 0.0, h_m)]  # fmt: skip
    maps = burn((200, 200), g, notes, [], look, np.random.default_rng(2))
    return maps, look


def test_relief_shadow_length_is_height_over_tan_elevation():
    """Sun in the east at 30 degrees: the 10 m block's shadow runs west from its wall at
    x = 90 for 10 / tan(30) / 0.5 = 34.6 px, and no further; nothing east is shaded."""
    maps, look = _tower()
    vis = sun_visibility(maps.height, 0.5, look)
    row = vis[100]
    shaded = np.flatnonzero(row[:90] < 0.5)
    assert shaded.min() == pytest.approx(90 - 34.6, abs=1.5) and shaded.max() == 89
    assert (row[111:] > 0.99).all() and (vis[40] > 0.99).all()
    # the penumbra widens with the distance from the caster
    soft = sun_visibility(maps.height, 0.5, replace(look, penumbra=0.06))
    part = lambda v: int(((v[100, :90] > 0.05) & (v[100, :90] < 0.95)).sum())  # noqa: E731
    assert part(soft) > part(vis) + 2
    # a higher sun, a shorter shadow
    hi = sun_visibility(maps.height, 0.5, replace(look, sun_elevation_deg=60.0))
    assert (hi[100, :90] < 0.5).sum() == pytest.approx(10 / np.tan(np.radians(60)) / 0.5, abs=1.5)


def test_relief_view_leans_roofs_and_shows_the_wall_facing_the_satellite():
    """Off nadir (1 px a metre to the east), the 10 m roof (footprint x 90-110) is seen 10 px
    east (x 100-120) and its west wall shows at x 90-100; the part codes move with what is
    seen; straight above, the view is the lit map itself."""
    maps, look = _tower(lean=(1.0, 0.0), el=60.0, az=180.0)
    top, vis = light(maps, 0.5, look)
    seen, code, _ = view(maps, top, vis, look)
    lum = seen.mean(axis=-1)
    roof = top[100, 100].mean()
    assert lum[100, 102:118].mean() == pytest.approx(roof, rel=0.05)
    assert code[100, 118] == 4 and code[100, 85] == 0 and code[100, 122] == 0
    wall = lum[100, 91:99]
    assert np.abs(wall - roof).min() > 0.02  # the wall is not the roof
    nadir, _, _ = view(maps, top, vis, replace(look, lean_px_per_m=(0.0, 0.0)))
    assert np.array_equal(nadir, top)


def test_relief_sensor_halos_linear_product_and_codecs():
    step = np.zeros((32, 64, 4), np.float32)
    step[:, 32:] = 0.5
    base = ReliefSensor(path=0.0, veil=0.0, matrix=np.float32([[0, 0, 1, 0], [0, 1, 0, 0],
                        [1, 0, 0, 0]]), blur_px=0.5, mtfc=0.0, mtfc_px=1.5, stripes=0.0,
                        photons=1e9, read=0.0, bits=16, dra="pct", gamma=1.0, codec="none",
                        quality=90)  # fmt: skip
    rng = np.random.default_rng(0)
    plain = apply_relief_sensor(step, base, rng, display=False)
    sharp = apply_relief_sensor(step, replace(base, mtfc=1.2), rng, display=False)
    assert plain.shape == (32, 64, 3)
    assert plain[:, :28].max() < 1e-3 and sharp[:, 28:32].max() < plain[:, 28:32].max()
    assert sharp[:, 32:36].max() > plain[:, 32:].max() + 0.02  # overshoot: a bright halo
    nir = apply_relief_sensor(step, base, rng, display=False, nir=True)
    assert nir.shape == (32, 64, 4)
    for codec, q in (("jp2", 150), ("webp", 30)):
        out = apply_relief_sensor(step, replace(base, bits=8, codec=codec, quality=q), rng)
        assert out.shape == (32, 64, 3) and out.min() >= 0 and out.max() <= 1
        assert out[:, :20].mean() < 0.2 and out[:, 44:].mean() > 0.8


def test_relief_snow_whitens_ground_keeps_water_and_labels():
    plain = training_sample(0, family="relief", layouts="v2", snow=0.0)  # a yard
    winter = training_sample(0, family="relief", layouts="v2", snow=1.0)
    for f in ("cx", "cy", "kind", "tiers"):
        np.testing.assert_array_equal(getattr(plain.containers, f), getattr(winter.containers, f))
    assert plain.setting == winter.setting and plain.sun_azimuth_deg == winter.sun_azimuth_deg
    assert not np.array_equal(plain.image, winter.image)
    g = 0.5
    rng = np.random.default_rng(3)
    look = replace(random_look(rng, g), lean_px_per_m=(0.0, 0.0))
    ground = np.zeros((120, 120), bool)
    ground[:, :60] = True
    notes = [Ground("water", ~ground), Ground("asphalt", ground)]
    maps = burn((120, 120), g, notes, [], look, np.random.default_rng(4))
    before = maps.refl.copy()
    relief_mod._snow(maps, g, 0.7, np.random.default_rng(5))
    assert np.array_equal(maps.refl[:, 60:], before[:, 60:])  # water takes no snow
    white = (maps.refl[:, :60, :3].mean(axis=-1) > 0.5).mean()
    assert 0.5 < white < 0.9


def test_relief_scene_same_truth_and_11bit_4band():
    s = replace(random_scene_spec("dunai", 2, size=(480, 480)), family="classic")
    classic = render_scene(s)
    rel = render_scene(replace(s, family="relief"))
    assert rel.image.shape == classic.image.shape and rel.image.dtype == np.uint8
    assert (rel.image[:, ~rel.valid] == 0).all() and (rel.image[:, rel.valid] > 0).all()
    assert np.abs(rel.image.astype(int) - classic.image.astype(int)).mean() > 10
    assert len(rel.truth) == len(classic.truth) > 100 and rel.ship == classic.ship
    for f in ("kind", "tiers", "visible", "length_px"):
        np.testing.assert_array_equal(getattr(classic.truth, f), getattr(rel.truth, f))
    s16 = replace(random_scene_spec("rajin", 5, size=(480, 480), bits=16, bands=4),
                  family="relief")  # fmt: skip
    rs = render_scene(s16)
    assert rs.image.shape == (4, 480, 480) and rs.image.dtype == np.uint16
    inside = rs.image[:, rs.valid]
    assert inside.min() >= 1 and inside.max() <= 2047 and inside.std(axis=1).min() > 20
