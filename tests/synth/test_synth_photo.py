"""The photo rendering family: registered, deterministic, the classic labels exactly, a look
that differs from classic and flat where it is meant to (corrugated roofs, soft shadows whose
penumbra grows with the caster's height, sky-light occlusion, pansharpening fringes), any
part kind drawn, and snow."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest

import detector.synth.families.photo as photo_mod
import detector.synth.training as training_mod
from detector.synth.containers import draw_containers, make_block
from detector.synth.families import FAMILIES, pick_family
from detector.synth.families.flat_draw import _shadows, random_style
from detector.synth.families.photo_light import sky_visibility, sun_visibility
from detector.synth.families.photo_look import material_of, random_look
from detector.synth.families.photo_sensor import PhotoSensor, apply_photo_sensor
from detector.synth.record import Ground, Part, box_part
from detector.synth.render import Canvas, apply_shadows, polygon_mask, shadow_mask
from detector.synth.training import training_sample


def digest(ts) -> str:
    m = hashlib.sha256()
    for a in (ts.image, ts.hull_mask, ts.bridge_mask):
        m.update(a.tobytes())
    d = ts.containers
    for a in (d.cx, d.cy, d.length_px, d.width_px, d.angle_rad, d.kind, d.tiers):
        m.update(np.ascontiguousarray(a).tobytes())
    return m.hexdigest()[:16]


@pytest.fixture(scope="module")
def photos():
    return {s: training_sample(s, family="photo") for s in range(8)}


def test_photo_registered_and_in_mixes():
    assert "photo" in FAMILIES
    mix = {"classic": 1.0, "flat": 1.0, "photo": 1.0}
    picks = [pick_family(s, mix) for s in range(60)]
    assert set(picks) == {"classic", "flat", "photo"}
    s = picks.index("photo")
    assert digest(training_sample(s, size_px=64, families=mix)) == digest(
        training_sample(s, size_px=64, family="photo")
    )


def test_photo_samples_valid_and_deterministic(photos):
    for s, ts in photos.items():
        assert ts.image.shape == (3, 256, 256) and ts.image.dtype == np.float32
        assert ts.image.min() >= 0.0 and ts.image.max() <= 1.0 and ts.image.std() > 0.02
        assert ts.hull_mask.shape == (256, 256) and ts.hull_mask.dtype == bool
        d = ts.containers
        assert ((d.cx >= 0) & (d.cx < 256) & (d.cy >= 0) & (d.cy < 256)).all()
        assert 15.0 <= ts.sun_elevation_deg <= 75.0
        classic = training_sample(s)
        assert ts.setting == classic.setting and ts.native_gsd_m == classic.native_gsd_m
        assert np.abs(ts.image - classic.image).mean() > 0.03
        assert np.abs(ts.image - training_sample(s, family="flat").image).mean() > 0.03
    assert digest(training_sample(3, family="photo")) == digest(photos[3])
    assert sum(len(ts.containers) for ts in photos.values()) > 300
    assert any(ts.hull_mask.any() for ts in photos.values())


def test_photo_labels_are_the_classic_labels(monkeypatch):
    """Seen from straight above in both families, the truth is the classic one, field for
    field (the classic sample's lean is read where it draws its containers). A classic
    sample under cloud (7 in 100) drops the boxes the cloud hides; photo draws no cloud."""
    leans: list = []
    draw = training_mod.draw_containers

    def spy(canvas, blocks, rng, *, lean_px_per_m):
        leans.append(tuple(lean_px_per_m))
        return draw(canvas, blocks, rng, lean_px_per_m=lean_px_per_m)

    look = photo_mod.random_look
    monkeypatch.setattr(training_mod, "draw_containers", spy)
    monkeypatch.setattr(
        photo_mod, "random_look", lambda *a: replace(look(*a), lean_px_per_m=(0.0, 0.0))
    )
    checked = 0
    for s in range(14):
        leans.clear()
        classic = training_sample(s)
        if leans != [(0.0, 0.0)]:
            continue
        p = training_sample(s, family="photo")
        a, b = classic.containers, p.containers
        if len(a) != len(b):  # cloud: the classic boxes are some of the photo ones
            keep = np.isin(b.cx, a.cx) & np.isin(b.cy, a.cy)
            assert keep.sum() == len(a) < len(b)
            b = b.select(keep)
        for f in ("cx", "cy", "length_px", "width_px", "angle_rad", "kind", "tiers", "visible"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
        checked += len(a) > 0
    assert checked >= 3


def _yard(lean=(0.0, 0.0), el=25.0, az=90.0, g=0.25, seed=3, blocks=True):
    """One 5 x 3 block of 20-ft stacks (long axis along x) on concrete, rendered photo-like
    without masts: (render, block, look)."""
    rng = np.random.default_rng(seed)
    h = 240
    block = make_block(rng, cx=120.0, cy=120.0, angle_rad=0.0, bays=5, rows=3, gsd_m=g)
    look = replace(
        random_look(rng, g), lean_px_per_m=lean, sun_elevation_deg=el, sun_azimuth_deg=az
    )
    notes = [Ground("concrete", np.ones((h, h), bool))]
    r = photo_mod.render_photo(
        (h, h), g, notes, [block] if blocks else [], [], look, np.random.default_rng(9), masts=False
    )
    return r, block, look


def _roof_interiors(tops, shape) -> np.ndarray:
    inner = replace(tops, length_px=tops.length_px * 0.7, width_px=tops.width_px * 0.5)
    out = np.zeros(shape, bool)
    for c in inner.corners():
        out |= polygon_mask(shape, [c]).astype(bool)
    return out


def _grad(lum: np.ndarray, m: np.ndarray) -> tuple[float, float]:
    """Mean |brightness step| inside mask ``m`` along x and along y."""
    dx = np.abs(np.diff(lum, axis=1))[m[:, 1:] & m[:, :-1]]
    dy = np.abs(np.diff(lum, axis=0))[m[1:, :] & m[:-1, :]]
    return float(dx.mean()), float(dy.mean())


def test_photo_container_roofs_are_corrugated_along_their_length():
    """Ridges run along the short axis, so the roof's brightness varies along the long axis
    (x here) far more than across it; a low sun along the boxes shows the relief. The
    classic renderer's roofs, same block and sun, vary less and about as much both ways;
    flat roofs are one colour (test_synth_families)."""
    r, block, _ = _yard(el=20.0, az=90.0)
    px, py = _grad(r.radiance.mean(axis=-1), _roof_interiors(r.tops, r.radiance.shape[:2]))
    canvas = Canvas.blank(240, 240, 0.25)
    canvas.rgb[:] = 0.5
    tops = draw_containers(canvas, [block], np.random.default_rng(3), lean_px_per_m=(0.0, 0.0))
    apply_shadows(canvas, 20.0, 90.0)
    cx, cy = _grad(canvas.rgb.mean(axis=-1), _roof_interiors(tops, (240, 240)))
    assert px > 5 * py and cx < 3 * cy  # directional ridges vs isotropic-ish texture
    assert px > 0.04 and px > 1.5 * cx  # texture energy along the box


def test_photo_stacks_lean_off_nadir_and_show_side_walls():
    lean = (0.9, -0.5)
    r, block, _ = _yard(lean=lean)
    top_m = block.base_m + block.tops.tiers * 2.591
    np.testing.assert_allclose(r.tops.cx - block.tops.cx, top_m * lean[0], rtol=1e-3)
    np.testing.assert_allclose(r.tops.cy - block.tops.cy, top_m * lean[1], rtol=1e-3)
    r0, _, _ = _yard()
    ground = _yard(blocks=False)[0].albedo  # the same ground, nothing on it
    painted = np.abs(r.albedo - ground).max(axis=-1) > 1e-6
    painted0 = np.abs(r0.albedo - ground).max(axis=-1) > 1e-6
    assert painted.sum() > 1.1 * painted0.sum()  # walls beside the roofs


def _edge_width(vis_row: np.ndarray) -> int:
    return int(((vis_row > 0.1) & (vis_row < 0.9)).sum())


def test_photo_shadow_penumbra_grows_with_the_casters_height():
    """Sun in the east at 30 deg: the far (west) end of the shadow of a 30 m mast-like wall
    is soft over several pixels, that of a 2.6 m box stays within ~1 px; flat shadows are
    hard and classic ones have one fixed blur, whatever the height."""
    g, el, spread = 0.3, 30.0, np.radians(1.5)
    none_lo = np.full((200, 400), np.inf, np.float32)
    none_hi = np.full((200, 400), -np.inf, np.float32)
    widths = {}
    for top in (2.6, 30.0):
        hmap = np.zeros((200, 400), np.float32)
        hmap[80:120, 360:366] = top
        vis = sun_visibility(hmap, none_lo, none_hi, g, el, 90.0, spread)
        row = vis[100, :360]
        widths[top] = _edge_width(row)
        length_px = top / np.tan(np.radians(el)) / g
        shade = np.flatnonzero(row < 0.5)
        assert shade.min() == pytest.approx(360 - length_px, abs=2)  # its far end
        if top == 30.0:
            classic = shadow_mask(hmap, g, el, 90.0)[100, :360]
            widths["classic"] = _edge_width(1 - classic)
    assert widths[2.6] <= 1 and widths[30.0] >= 4 and widths["classic"] <= 2
    tall = box_part("boxcar:roof", 100, 100, 20, 20, 0.0, 30.0)
    style = replace(random_style(np.random.default_rng(0), g), lean_px_per_m=(0.0, 0.0),
                    sun_elevation_deg=el, sun_azimuth_deg=90.0)  # fmt: skip
    hard = _shadows([tall], np.zeros((200, 400), np.float32), g, style)
    assert hard.dtype == bool  # the flat family: in or out, no penumbra


def test_photo_hanging_beams_cast_detached_shadows():
    """A crane beam 16-18 m up: the ground below it is lit, its shadow lies 16/tan(el) to
    18/tan(el) metres away (sun in the east at 45 deg, 1 m pixels)."""
    lo = np.full((60, 200), np.inf, np.float32)
    hi = np.full((60, 200), -np.inf, np.float32)
    lo[20:40, 150:152], hi[20:40, 150:152] = 16.0, 18.0
    vis = sun_visibility(np.zeros((60, 200), np.float32), lo, hi, 1.0, 45.0, 90.0, 0.01)
    row = vis[30]
    assert row[150:152].min() > 0.9 and row[140:150].min() > 0.9
    shade = np.flatnonzero(row < 0.5)
    assert shade.min() >= 150 - 18 - 1 and shade.max() <= 152 - 16 + 1 and len(shade) >= 2


def test_photo_sky_light_is_occluded_at_stack_bases():
    hmap = np.zeros((120, 120), np.float32)
    hmap[40:80, 40:80] = 7.8  # a block three high
    sky = sky_visibility(hmap, 0.3, 0.5)
    assert sky[60, 38] < 0.85 and sky[60, 5] == pytest.approx(1.0)
    assert sky[60, 60] == pytest.approx(1.0)  # the roof sees the whole sky


def test_photo_sensor_fringes_clips_and_compresses():
    """An achromatic step: pansharpened with misregistered colour bands it gets colour
    fringes at the edge only; a gain above 1 with a fixed range saturates; JPEG changes the
    pixels; the same random state gives the same result."""
    img = np.full((64, 64, 3), 0.2, np.float32)
    img[:, 32:] = 0.7
    base = PhotoSensor(0.0, (0.7, 0.75, 0.85), "gauss", 0.5, "cs", (1.5, 0.0), (0.0, 0.0), 16,
                       1.0, 0.0, "fixed", 99.0, 0)  # fmt: skip
    out = apply_photo_sensor(img, base, np.random.default_rng(0))
    chroma = out.max(axis=-1) - out.min(axis=-1)
    assert chroma[:, 28:36].max() > 0.02 and chroma[:, :20].max() < 0.005
    none = apply_photo_sensor(img, replace(base, pansharp="none"), np.random.default_rng(0))
    assert (none.max(axis=-1) - none.min(axis=-1)).max() < 0.005
    hot = apply_photo_sensor(
        img, replace(base, gain=1.6, pansharp="none"), np.random.default_rng(0)
    )
    assert (hot[:, 40:] == 1.0).all() and hot[:, :20].max() < 0.4
    noisy = replace(base, noise=(0.4, 2.0), jpeg_quality=25, bits=8, stretch="pct")
    a = apply_photo_sensor(img, noisy, np.random.default_rng(1))
    b = apply_photo_sensor(img, noisy, np.random.default_rng(1))
    assert np.array_equal(a, b) and a.min() >= 0.0 and a.max() <= 1.0
    assert np.abs(a - out).mean() > 0.005
    airy = apply_photo_sensor(
        img, replace(base, psf="airy", pansharp="none"), np.random.default_rng(0)
    )
    assert 0.2 < airy[:, 31].mean() < 0.7  # the edge is blurred, levels kept
    assert airy[:, 5].mean() == pytest.approx(0.2, abs=0.01)


def test_photo_draws_part_kinds_it_has_never_seen():
    """New look-alike kinds are drawn by height and a material guessed from their name."""
    assert material_of("bus:body") == "paint" and material_of("greenhouse:roof") == "glass"
    assert material_of("solar:panel") == "solar" and material_of("zeppelin:gondola") == "membrane"
    assert material_of("boxcar:roof") == "metal_roof" and material_of("bus:hvac") == "steel"
    assert material_of("bulkcarrier:hatch") == "hatch" and material_of("ship:bridge") == "white"
    g, h = 0.3, 160
    notes = [
        Ground("asphalt", np.ones((h, h), bool)),
        box_part("bus:body", 40, 40, 40, 8, 0.0, 3.2),
        box_part("greenhouse:roof", 110, 40, 60, 40, 0.0, 4.0),
        box_part("solar:panel", 40, 120, 50, 12, 0.3, 1.2),
        box_part("zeppelin:gondola", 115, 120, 30, 10, 0.0, 5.0, 0.0),
        Part("tower:thing", np.array([[70.0, 70], [80, 70], [80, 80], [70, 80]]), 40.0),
    ]
    rng = np.random.default_rng(2)
    look = replace(random_look(rng, g), lean_px_per_m=(0.0, 0.0))
    r = photo_mod.render_photo((h, h), g, notes, [], [], look, np.random.default_rng(5))
    alb = r.albedo.mean(axis=-1)
    assert alb[40, 110] > 2 * alb[120, 40]  # glass bright, solar panels dark
    assert len(r.tops) == 0 and np.isfinite(r.radiance).all()
    assert (r.sun_vis < 0.5).sum() > 100  # the 40 m tower casts a long shadow


def test_photo_snow_keeps_labels_and_brightens():
    plain = training_sample(4, family="photo")
    snowy = training_sample(4, family="photo", snow=1.0)
    assert digest(plain) != digest(snowy)
    for f in ("cx", "cy", "kind", "tiers"):
        np.testing.assert_array_equal(getattr(plain.containers, f), getattr(snowy.containers, f))
    assert snowy.image.mean() > plain.image.mean()
