"""v2 layouts: v1 untouched, the new terminal objects and hard negatives present, negatives
never labelled, flat-car containers labelled and boxcars not, covered containers hidden."""

from __future__ import annotations

import numpy as np
import pytest

import detector.synth.families.flat as flat_mod
from detector.errors import ConfigError
from detector.synth.decks import deck_pattern
from detector.synth.families.flat_draw import draw_flat
from detector.synth.lookalike_scenes import LOOKALIKE_SCENES, LookalikeScene, count_objects
from detector.synth.negatives import NEGATIVE_SETTINGS
from detector.synth.record import Part
from detector.synth.render import polygon_mask
from detector.synth.training import training_sample

#: digests of classic v1 samples recorded before v2 existed (tests/synth/test_synth_families.py)
CLASSIC = {1: "07d939bfb3c067c9", 9: "c7d276892f7370aa"}
SHAPE = (400, 400)  # covers every 128 px patch's render canvas (at most 192 px)


def digest(ts) -> str:
    import hashlib

    m = hashlib.sha256()
    for a in (ts.image, ts.hull_mask, ts.bridge_mask):
        m.update(a.tobytes())
    d = ts.containers
    for a in (d.cx, d.cy, d.length_px, d.width_px, d.angle_rad, d.kind, d.tiers):
        m.update(np.ascontiguousarray(a).tobytes())
    return m.hexdigest()[:16]


#: object kinds that are never containers (parts' ``obj``)
LOOKALIKE = {"bus", "car", "shed", "boxcar", "tankcar", "gondola", "greenhouse", "solar",
             "hatchcover", "truck"}  # fmt: skip


def test_v1_is_the_default_and_unchanged():
    for seed in (1, 9):
        assert digest(training_sample(seed, layouts="v1")) == CLASSIC[seed]
    assert digest(training_sample(1, layouts="v2")) != CLASSIC[1]
    with pytest.raises(ConfigError, match="layouts='v3'"):
        training_sample(0, layouts="v3")


@pytest.fixture(scope="module")
def layouts():
    """(sample, notes, blocks) of 60 flat v2 samples, the layout read from the renderer."""
    seen: list = []

    def spy(shape, g, notes, blocks, cranes, style, rng, winter=None):
        seen.append((list(notes), blocks))
        return draw_flat(shape, g, notes, blocks, cranes, style, rng, winter)

    mp = pytest.MonkeyPatch()
    mp.setattr(flat_mod, "draw_flat", spy)
    try:
        out = []
        for s in range(60):
            ts = training_sample(s, size_px=128, family="flat", layouts="v2")
            out.append((ts, *seen[-1]))
    finally:
        mp.undo()
    return out


def _parts(notes, *objs) -> list[Part]:
    return [n for n in notes if isinstance(n, Part) and (not objs or n.obj in objs)]


def _stand(blocks):
    """Stand centres (x, y) of every labelled stack and their visibility."""
    kept = [b.tops for b in blocks if len(b.tops)]
    if not kept:
        return np.zeros((0, 2)), np.zeros(0, bool)
    return (
        np.concatenate([np.c_[t.cx, t.cy] for t in kept]),
        np.concatenate([t.visible for t in kept]),
    )


def _on(xy: np.ndarray, parts: list[Part], shape) -> np.ndarray:
    if not len(parts) or not len(xy):
        return np.zeros(len(xy), bool)
    mask = np.zeros(shape, bool)
    for p in parts:
        mask |= polygon_mask(shape, [p.poly_xy]).astype(bool)
    ix, iy = xy[:, 0].astype(int), xy[:, 1].astype(int)
    ok = (ix >= 0) & (iy >= 0) & (ix < shape[1]) & (iy < shape[0])
    out = np.zeros(len(xy), bool)
    out[ok] = mask[iy[ok], ix[ok]]
    return out


def _near(xy: np.ndarray, parts: list[Part], dist_px: float) -> np.ndarray:
    """Whether each point lies within ``dist_px`` of one of ``parts``."""
    import cv2

    out = np.zeros(len(xy), bool)
    for p in parts:
        poly = p.poly_xy.astype(np.float32).reshape(-1, 1, 2)
        d = [cv2.pointPolygonTest(poly, (float(x), float(y)), True) for x, y in xy]
        out |= np.asarray(d) >= -dist_px
    return out


def test_v2_samples_hold_the_new_objects_and_settings(layouts):
    kinds = {p.kind for _, notes, _ in layouts for p in _parts(notes)}
    settings = {ts.setting for ts, _, _ in layouts}
    assert {"chassis:frame", "lashing:bridge", "reefer:rack", "crane:spreader", "shed:hvac",
            "truck:trailer", "bus:roof", "boxcar:roof", "tankcar:tank", "ship:hatch"} <= kinds  # fmt: skip
    assert {"solar:panel", "greenhouse:roof"} & kinds
    assert {"yard", "quay", "deck", "rail", "road"} <= settings
    assert len(settings & set(NEGATIVE_SETTINGS)) >= 5
    tiers = np.concatenate([b.tops.tiers for _, _, blocks in layouts for b in blocks])
    assert tiers.max() >= 6  # empties stacked high


def test_negatives_are_never_labelled(layouts):
    n_neg = n_drawn = 0
    for ts, notes, blocks in layouts:
        if ts.setting in NEGATIVE_SETTINGS:
            n_neg += 1
            n_drawn += bool(_parts(notes))  # look-alikes drawn (unless an empty sample)
            assert len(ts.containers) == 0 and not any(len(b.tops) for b in blocks)
        xy, _ = _stand(blocks)
        assert not _on(xy, _parts(notes, *LOOKALIKE), SHAPE).any(), ts.setting
    assert n_neg >= 15 and n_drawn >= n_neg - 3


def test_flat_car_containers_labelled_boxcars_not(layouts):
    on_flat = on_box = beside = 0
    for ts, notes, blocks in layouts:
        if ts.setting != "rail":
            continue
        xy, _ = _stand(blocks)
        sill = 1.3 / ts.native_gsd_m  # a container stands between a flat car's two sills
        on_flat += int(_near(xy, _parts(notes, "wagon"), sill).sum())
        on_box += int(_on(xy, _parts(notes, "boxcar", "tankcar", "gondola"), SHAPE).sum())
        beside += bool(_parts(notes, "boxcar", "tankcar", "gondola"))  # next to flat cars
    assert on_flat >= 10 and on_box == 0 and beside >= 2


def test_a_spreader_hides_the_container_it_covers(layouts):
    covered = hidden = hidden_classic = 0
    for seed, (ts, notes, blocks) in enumerate(layouts):
        spreaders = [p for p in _parts(notes, "crane") if p.kind == "crane:spreader"]
        xy, vis = _stand(blocks)
        under = _near(xy, spreaders, 0.0)
        assert (~vis).sum() == len(spreaders) == under.sum()  # exactly the covered ones
        assert not vis[under].any()
        covered += len(spreaders)
        hidden += int((~ts.containers.visible).sum())  # those inside the patch
        if spreaders:  # the classic family draws the same layout (its view crops its own)
            n = int((~training_sample(seed, size_px=128, layouts="v2").containers.visible).sum())
            assert n <= len(spreaders)
            hidden_classic += n
    assert covered >= 2 and hidden >= 1 and hidden_classic >= 1


def test_deck_patterns():
    rng = np.random.default_rng(0)
    full = deck_pattern(rng, 8, 5, "full")
    assert full.shape == (8, 5) and (full >= 1).all() and (full <= 6).all()
    part = deck_pattern(rng, 8, 5, "partial")
    loaded = part.any(axis=1)
    assert 0 < loaded.sum() < 8 and (loaded[0] or loaded[-1])
    assert np.all(np.diff(loaded.astype(int)) <= 0) or np.all(np.diff(loaded.astype(int)) >= 0)
    alt = deck_pattern(rng, 8, 5, "alternate")
    hatch = alt.any(axis=1).reshape(4, 2).all(axis=1)
    assert hatch.tolist() in ([True, False, True, False], [False, True, False, True])
    step = deck_pattern(rng, 8, 5, "stepped")
    assert (step[:, 2] >= step[:, 0]).all() and (step == step[0]).all()
    assert not deck_pattern(rng, 8, 5, "empty").any()


def test_lookalike_scenes_hold_no_container_in_any_family():
    for fam in ("classic", "flat"):
        ts = training_sample(600_000, size_px=400, family=fam, compose=LookalikeScene("bus_depot"))
        assert ts.setting == "bus_depot" and len(ts.containers) == 0
    seen: list = []

    def spy(shape, g, notes, blocks, cranes, style, rng, winter=None):
        seen.append(list(notes))
        return draw_flat(shape, g, notes, blocks, cranes, style, rng, winter)

    mp = pytest.MonkeyPatch()
    mp.setattr(flat_mod, "draw_flat", spy)
    try:
        training_sample(600_000, size_px=800, family="flat", compose=LookalikeScene("bus_depot"))
    finally:
        mp.undo()
    assert count_objects(seen[-1], "bus") >= 50  # the depot's 50 plus the road's
    assert "solar_greenhouse" in LOOKALIKE_SCENES
    with pytest.raises(ConfigError, match="look-alike scene"):
        LookalikeScene("zoo")
