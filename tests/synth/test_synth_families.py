"""Rendering families: classic unchanged bit for bit, the flat family valid, exact, textureless
and deterministic, look-alikes drawn and never labelled, and the family mix."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest

import detector.synth.families.flat as flat_mod
from detector.detections import TIER_HEIGHT_M
from detector.errors import ConfigError
from detector.synth.containers import make_block
from detector.synth.families import FAMILIES, pick_family
from detector.synth.families.flat_draw import draw_flat, random_style
from detector.synth.families.flat_sensor import FlatSensor
from detector.synth.families.flat_snow import FlatWinter
from detector.synth.record import Ground
from detector.synth.render import Canvas, polygon_mask
from detector.synth.training import training_sample

#: sha256[:16] of image, masks and truth of classic ``training_sample(seed)``, recorded on
#: main at 2aadba1 before the families existed (seed 5 also with snow=1). Settings: 0 yard,
#: 1 quay, 2 deck, 4 land, 9 rail, 22 water.
CLASSIC = {
    0: "97ee3dee982f5a53",
    1: "07d939bfb3c067c9",
    2: "42ccadd3c2094e85",
    4: "e60e5142ce711034",
    9: "c7d276892f7370aa",
    22: "79433e098d870a33",
}
CLASSIC_SNOW5 = "8f093d679333fb86"


def digest(ts) -> str:
    m = hashlib.sha256()
    for a in (ts.image, ts.hull_mask, ts.bridge_mask):
        m.update(a.tobytes())
    d = ts.containers
    for a in (d.cx, d.cy, d.length_px, d.width_px, d.angle_rad, d.kind, d.tiers):
        m.update(np.ascontiguousarray(a).tobytes())
    return m.hexdigest()[:16]


def test_classic_byte_identical_to_before():
    for seed, want in CLASSIC.items():
        assert digest(training_sample(seed)) == want, seed
    assert digest(training_sample(5, snow=1.0)) == CLASSIC_SNOW5


def test_recording_the_layout_leaves_classic_unchanged(monkeypatch):
    """With every canvas noting its layout (as the flat family runs it), classic pixels and
    truth stay the same: noting draws nothing from the random stream."""
    blank = Canvas.blank.__func__
    notes: list = []

    def noting(cls, h, w, g):
        c = blank(cls, h, w, g)
        if h > 1:  # not the 1x1 footprint probes
            c.notes = notes
        return c

    monkeypatch.setattr(Canvas, "blank", classmethod(noting))
    for seed in (1, 9, 22):
        assert digest(training_sample(seed)) == CLASSIC[seed], seed
    kinds = {n.kind for n in notes}
    assert {"water", "fender", "ballast", "rail", "foam", "ship:hull", "truck:cab"} <= kinds


@pytest.fixture(scope="module")
def flats():
    return {s: training_sample(s, family="flat") for s in range(10)}


def test_flat_samples_valid_and_deterministic(flats):
    for s, ts in flats.items():
        assert ts.image.shape == (3, 256, 256) and ts.image.dtype == np.float32
        assert ts.image.min() >= 0.0 and ts.image.max() <= 1.0
        assert ts.hull_mask.shape == (256, 256) and ts.hull_mask.dtype == bool
        d = ts.containers
        assert ((d.cx >= 0) & (d.cx < 256) & (d.cy >= 0) & (d.cy < 256)).all()
        assert ((d.tiers >= 1) & (d.tiers <= 4)).all() and (d.score == 1).all()
        assert 15.0 <= ts.sun_elevation_deg <= 75.0
        classic = training_sample(s)
        assert ts.setting == classic.setting and ts.native_gsd_m == classic.native_gsd_m
        assert not np.array_equal(ts.image, classic.image)
    again = training_sample(2, family="flat")
    assert digest(again) == digest(flats[2])
    assert sum(len(ts.containers) for ts in flats.values()) > 300
    assert any(ts.hull_mask.any() for ts in flats.values())


def _layout(lean: tuple[float, float]):
    """One 6 x 3 block of 20-ft stacks on concrete (GSD 0.4 m), rendered flat without
    shadows or outlines."""
    g, h = 0.4, 160
    rng = np.random.default_rng(3)
    block = make_block(rng, cx=80.0, cy=80.0, angle_rad=0.4, bays=6, rows=3, gsd_m=g)
    ground = Ground("concrete", np.ones((h, h), bool))
    style = replace(
        random_style(rng, g), shadow_rgb=(1.0, 1.0, 1.0), outline=0.0, lean_px_per_m=lean
    )
    rgb, hull, bridge, tops = draw_flat((h, h), g, [ground], [block], [], style, rng)
    return rgb, tops, block, style


def union(shape, polys) -> np.ndarray:
    """bool mask of a union of polygons (one at a time: cv2 fills overlaps even-odd)."""
    out = np.zeros(shape, bool)
    for p in polys:
        out |= polygon_mask(shape, [p]).astype(bool)
    return out


def test_flat_truth_lies_on_drawn_roofs():
    rgb, tops, block, style = _layout((0.0, 0.0))
    bg = style.ground_rgb("concrete")
    is_bg = np.abs(rgb - bg).max(axis=-1) < 1e-6
    inner = replace(tops, length_px=tops.length_px - 3, width_px=tops.width_px - 3)
    inside = union(is_bg.shape, inner.corners())
    outer = replace(tops, length_px=tops.length_px + 3, width_px=tops.width_px + 3)
    near = union(is_bg.shape, outer.corners())
    assert inside.sum() > 18 * 25
    assert not is_bg[inside].any()  # every truth box is painted over its whole inside
    assert is_bg[~near].all()  # and nothing is painted elsewhere
    # each roof is one flat colour, one of the sample's palette times 0.9..1.1
    for c in inner.corners():
        m = polygon_mask(is_bg.shape, [c]).astype(bool)
        px = rgb[m]
        assert np.ptp(px, axis=0).max() < 1e-6
        ratio = px[0] / np.maximum(style.container_rgb, 1e-6)
        assert (np.ptp(ratio, axis=1) < 1e-3).any()


def test_flat_lean_moves_roofs_by_height():
    """Off nadir the roofs move by top height x lean and side faces show beside them."""
    lean = (0.9, -0.5)
    rgb, tops, block, style = _layout(lean)
    top_m = block.base_m + block.tops.tiers * TIER_HEIGHT_M
    np.testing.assert_allclose(tops.cx - block.tops.cx, top_m * lean[0])
    np.testing.assert_allclose(tops.cy - block.tops.cy, top_m * lean[1])
    flat0, _, _, _ = _layout((0.0, 0.0))
    bg = style.ground_rgb("concrete")
    painted = np.abs(rgb - bg).max(axis=-1) > 1e-6
    painted0 = np.abs(flat0 - bg).max(axis=-1) > 1e-6
    assert painted.sum() > painted0.sum() * 1.1  # the side faces


def test_flat_lookalikes_drawn_never_labelled(monkeypatch):
    seen: list = []

    def spy(shape, g, notes, blocks, cranes, style, rng, winter=None):
        out = draw_flat(shape, g, notes, blocks, cranes, style, rng, winter)
        seen.append((notes, blocks, out))
        return out

    monkeypatch.setattr(flat_mod, "draw_flat", spy)
    for s in range(30):
        training_sample(s, size_px=96, family="flat")
    kinds, grounds = set(), set()
    for notes, blocks, (rgb, _, _, tops) in seen:
        grounds |= {n.kind for n in notes if isinstance(n, Ground)}
        parts = [n for n in notes if not isinstance(n, Ground)]
        kinds |= {p.obj for p in parts}
        look = [p for p in parts if p.obj in ("truck", "bus", "car", "shed", "hatchcover")]
        if not look or not len(tops):
            continue
        mask = union(rgb.shape[:2], [p.poly_xy for p in look])
        foot = [b.tops for b in blocks if len(b.tops)]
        cx = np.concatenate([t.cx for t in foot]).astype(int)
        cy = np.concatenate([t.cy for t in foot]).astype(int)
        ok = (cx >= 0) & (cy >= 0) & (cx < mask.shape[1]) & (cy < mask.shape[0])
        assert not mask[cy[ok], cx[ok]].any()  # no truth box stands on a look-alike
    assert {"truck", "bus", "car", "shed", "ship", "boxcar"} <= kinds
    assert {"water", "concrete", "asphalt", "marking", "rail"} <= grounds


def _inner_std(ts) -> list[float]:
    out = []
    for c in replace(
        ts.containers,
        length_px=ts.containers.length_px * 0.5,
        width_px=ts.containers.width_px * 0.5,
    ).corners():
        m = polygon_mask(ts.image.shape[1:], [c]).astype(bool)
        if m.sum() >= 4:
            out.append(float(ts.image[:, m].std(axis=1).mean()))
    return out


def test_flat_roofs_have_no_texture(monkeypatch):
    """Median std inside the central half of each truth box: classic roofs are corrugated
    and weathered; flat ones are one colour (before the flat sensor's JPEG)."""
    classic = [v for s in range(6) for v in _inner_std(training_sample(s))]
    monkeypatch.setattr(
        flat_mod, "random_flat_sensor", lambda rng: FlatSensor(1, 16, 1.0, 0.0, None, 0, "444", 0)
    )
    flat = [v for s in range(6) for v in _inner_std(training_sample(s, family="flat"))]
    assert np.median(classic) > 0.008
    assert np.median(flat) < 0.001


def test_family_mix_and_names():
    assert FAMILIES[0] == "classic" and "flat" in FAMILIES
    mix = {"classic": 0.5, "flat": 0.5}
    picks = [pick_family(s, mix) for s in range(40)]
    assert {"classic", "flat"} == set(picks)
    assert picks == [pick_family(s, mix) for s in range(40)]
    assert pick_family(7, {"flat": 1.0}) == "flat"
    for s in (0, 1, 2, 3):
        fam = pick_family(s, mix)
        assert digest(training_sample(s, size_px=64, families=mix)) == digest(
            training_sample(s, size_px=64, family=fam)
        )
    with pytest.raises(ConfigError, match="unknown rendering family"):
        training_sample(0, family="sketch")
    with pytest.raises(ConfigError, match="weights"):
        pick_family(0, {"classic": 0.0, "flat": 0.0})


def test_flat_hard_shadows_are_polygon_offsets_by_height():
    """Sun in the east at 45 deg, 0.25 m pixels: a 10 m box shades the ground 40 px west of
    it; a 2 m roof in that band is out of the shadow beyond 32 px ((10 - 2) m / 0.25 m)."""
    from detector.synth.record import Part, box_part

    g = 0.25
    tall = box_part("boxcar:roof", 100, 100, 20, 20, 0.0, 10.0)
    low = box_part("car:body", 54, 95, 4, 6, 0.0, 2.0)
    ground = Ground("concrete", np.ones((200, 200), bool))
    style = replace(
        random_style(np.random.default_rng(0), g), outline=0.0, lean_px_per_m=(0.0, 0.0),
        sun_elevation_deg=45.0, sun_azimuth_deg=90.0, shadow_rgb=(0.5, 0.5, 0.5),
    )  # fmt: skip
    notes: list = [ground, tall, low]

    def render(s):
        return draw_flat((200, 200), g, notes, [], [], s, np.random.default_rng(1))[0]

    lit = render(replace(style, shadow_rgb=(1.0, 1.0, 1.0)))
    ratio = (render(style) / np.maximum(lit, 1e-6)).mean(axis=-1)
    assert isinstance(tall, Part)
    for x, y in [(89, 100), (70, 100), (52, 91), (51, 104), (54, 104)]:
        assert ratio[y, x] == pytest.approx(0.5), (x, y)  # ground west of the box
    for x, y in [(48, 100), (40, 100), (100, 85), (100, 115), (120, 100), (100, 100)]:
        assert ratio[y, x] == pytest.approx(1.0), (x, y)  # beyond, beside, east, the roof
    assert ratio[93:97, 53:56].min() == pytest.approx(1.0)  # the 2 m roof: sunlit
    assert ratio[93:97, 58:62].max() == pytest.approx(0.5)  # ground just east of it: shaded


def test_flat_sensor_clips_posterises_and_compresses():
    from detector.synth.families.flat_sensor import apply_flat_sensor

    ramp = np.repeat(np.linspace(0, 1, 256, dtype=np.float32)[None, :, None], 64, 0)
    img = np.repeat(ramp, 3, axis=2) * np.float32((1.0, 0.6, 0.3))
    clip = apply_flat_sensor(img, FlatSensor(1, 8, 1.4, 0.0, None, 0, "444", 0))
    assert clip[..., 0].max() == 1.0 and (clip[..., 0] == 1.0).mean() == pytest.approx(
        0.29, abs=0.02
    )
    poster = apply_flat_sensor(img, FlatSensor(1, 11, 1.0, 0.0, (1.0, 99.0), 6, "444", 0))
    assert len(np.unique(poster[..., 0])) <= 6
    jpeg = apply_flat_sensor(img, FlatSensor(3, 16, 1.0, 0.02, None, 0, "420", 25))
    assert jpeg.dtype == np.float32 and jpeg.shape == img.shape
    assert 0.0 < np.abs(jpeg - img).mean() < 0.08
    again = apply_flat_sensor(img, FlatSensor(3, 16, 1.0, 0.02, None, 0, "420", 25))
    assert np.array_equal(jpeg, again)


def _snowy_layout(cover: float, seed: int = 9):
    """The block of :func:`_layout` on concrete beside open water, in winter."""
    g, h = 0.4, 160
    rng = np.random.default_rng(3)
    block = make_block(rng, cx=80.0, cy=60.0, angle_rad=0.4, bays=6, rows=3, gsd_m=g)
    water = np.zeros((h, h), bool)
    water[120:] = True
    notes = [Ground("concrete", ~water), Ground("water", water)]
    style = replace(random_style(rng, g), shadow_rgb=(1.0, 1.0, 1.0), outline=0.0,
                    lean_px_per_m=(0.0, 0.0))  # fmt: skip
    winter = FlatWinter(cover, np.random.default_rng(seed))
    rgb, _, _, tops = draw_flat((h, h), g, notes, [block], [], style, rng, winter)
    return rgb, tops, style, water


def test_flat_snow_whitens_ground_and_roofs_in_flat_cells():
    bare, tops0, style, water = _snowy_layout(0.0)
    rgb, tops, _, _ = _snowy_layout(1.0)
    np.testing.assert_array_equal(tops.cx, tops0.cx)  # winter never moves the truth
    roofs = union(rgb.shape[:2], tops.corners())
    ground = ~roofs & ~water
    ground &= ~union(rgb.shape[:2], replace(tops, length_px=tops.length_px + 6,
                                             width_px=tops.width_px + 6).corners())  # fmt: skip
    snowish = (rgb.min(axis=-1) > 0.45) & (np.ptp(rgb, axis=-1) < 0.12)
    concrete = style.ground_rgb("concrete")
    assert not (np.abs(rgb[ground] - concrete).max(axis=-1) < 1e-6).any()  # cover 1: all snowed
    assert snowish[ground].mean() > 0.95
    tones = np.unique(np.round(rgb[ground], 4), axis=0)
    assert len(tones) <= 2  # flat: one fresh and one trodden tone, no texture
    cy, cx = np.round(tops.cy).astype(int), np.round(tops.cx).astype(int)
    assert 0.6 < snowish[cy, cx].mean() <= 1.0  # most roofs snowed, some bare
    ice = snowish[water].mean()
    assert ice == 0.0 or 0.2 < ice < 0.95  # floes with open leads, when there is ice
    cover0 = _snowy_layout(0.0)[0]
    np.testing.assert_array_equal(cover0, bare)


def test_flat_snow_keeps_labels_and_the_rest_of_the_sample():
    for s in (2, 5, 11):
        plain = training_sample(s, family="flat", layouts="v2")
        assert digest(training_sample(s, family="flat", layouts="v2", snow=0.0)) == digest(plain)
        snowy = training_sample(s, family="flat", layouts="v2", snow=1.0)
        assert digest(snowy) != digest(plain)
        for f in ("cx", "cy", "kind", "tiers", "angle_rad"):
            np.testing.assert_array_equal(getattr(plain.containers, f),
                                          getattr(snowy.containers, f))  # fmt: skip
        np.testing.assert_array_equal(plain.hull_mask, snowy.hull_mask)
        assert snowy.sun_elevation_deg == plain.sun_elevation_deg
        changed = np.abs(snowy.image - plain.image).max(axis=0) > 0.02
        assert changed.mean() > 0.1  # cover 0.2-0.9 of the ground (trodden snow can be darker)
    with pytest.raises(ConfigError, match="flat snow cover"):
        FlatWinter(1.5, np.random.default_rng(0))
