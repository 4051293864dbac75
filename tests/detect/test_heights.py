"""Stack heights from shadows (detect.heights, detect.shadows): drawn boxes and shadows of
known height under a known sun, occluded shadows, the sun from a set of boxes, and the
detect CLI writing heights with their sources and the sun used."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from detector.detect.heights import (
    PRIOR_TIERS,
    anti_sun_unit,
    box_labels,
    shadow_lengths_px,
    stack_heights,
)
from detector.detect.shadows import sun_record
from detector.detect.sunfit import single_tier_length, sun_from_shadows
from detector.detect.view import seen_elevation_deg
from detector.detections import TIER_HEIGHT_M, Detections
from detector.imagery.meta import View

GSD = 0.4


def _s_range(a, half, u):
    """The s for which |a - s u| <= half: (lo, hi), empty when lo > hi."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(u != 0, np.minimum((a - half) / u, (a + half) / u), -np.inf)
        hi = np.where(u != 0, np.maximum((a - half) / u, (a + half) / u), np.inf)
    out = (u == 0) & (np.abs(a) > half)
    return np.where(out, np.inf, lo), np.where(out, -np.inf, hi)


def draw(boxes, tiers, *, elev, az, shape=(160, 160), seed=0, ground=0.55, ambient=0.4):
    """gray float32 [H, W] with bright boxes (cx, cy, length, width, angle px/rad) and the
    shadows of stacks of ``tiers`` (each box swept along the anti-sun direction), drawn
    exactly with 4 x 4 samples per pixel; a little blur and noise."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = shape
    sub = (np.arange(4) + 0.5) / 4
    ys = (np.arange(h)[:, None] + sub[None, :]).ravel()
    xs = (np.arange(w)[:, None] + sub[None, :]).ravel()
    py, px = np.meshgrid(ys, xs, indexing="ij")
    ux, uy = anti_sun_unit(az)
    box = np.zeros(py.shape, bool)
    shade = np.zeros(py.shape, bool)
    for (cx, cy, ln, wd, ang), t in zip(boxes, tiers, strict=True):
        c, s_ = math.cos(ang), math.sin(ang)
        a = (px - cx) * c + (py - cy) * s_
        b = -(px - cx) * s_ + (py - cy) * c
        box |= (np.abs(a) <= ln / 2) & (np.abs(b) <= wd / 2)
        length = t * TIER_HEIGHT_M / math.tan(math.radians(elev)) / GSD
        lo1, hi1 = _s_range(a, ln / 2, ux * c + uy * s_)
        lo2, hi2 = _s_range(b, wd / 2, -ux * s_ + uy * c)
        lo, hi = np.maximum(np.maximum(lo1, lo2), 0.0), np.minimum(np.minimum(hi1, hi2), length)
        shade |= lo <= hi
    img = np.full(py.shape, ground, np.float32)
    img[shade] *= ambient
    img[box] = 0.8
    img = img.reshape(h, 4, w, 4).mean(axis=(1, 3))
    img += rng.normal(0, 0.02, shape).astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), 0.6)
    b = np.asarray(boxes, float)
    dets = Detections(b[:, 0], b[:, 1], b[:, 2], b[:, 3], b[:, 4], np.zeros(len(b)),
                      np.ones(len(b)), np.ones(len(b)))  # fmt: skip
    return img, np.ones(shape, bool), dets


@pytest.mark.parametrize("tiers", [1, 2, 3, 4])
@pytest.mark.parametrize("elev,az", [(30.0, 160.0), (45.0, 250.0), (60.0, 35.0)])
def test_one_box_with_its_shadow_gives_its_height(tiers, elev, az):
    # a 20 ft top (6.06 x 2.44 m) at 30 deg to the grid
    gray, valid, dets = draw([(80, 80, 15.2, 6.1, 0.5)], [tiers], elev=elev, az=az)
    max_px = 4.5 * TIER_HEIGHT_M / math.tan(math.radians(elev)) / GSD
    runs = shadow_lengths_px(gray, valid, dets, azimuth_deg=az, max_px=max_px)
    true_px = tiers * TIER_HEIGHT_M / math.tan(math.radians(elev)) / GSD
    assert runs.reason[0] == 0 and runs.profiles[0] >= 3
    assert runs.length_px[0] == pytest.approx(true_px, abs=1.2)
    h = stack_heights(runs, n=1, gsd_m=GSD, elevation_deg=elev)
    assert h.tiers_est[0] == tiers and h.source[0] == "shadow" and h.reason[0] == ""
    assert h.tiers_low[0] <= tiers <= h.tiers_high[0]
    assert h.tiers_high[0] - h.tiers_low[0] <= 2
    assert h.shadow_m[0] == pytest.approx(true_px * GSD, abs=0.5)


def test_shadow_on_a_neighbour_is_a_prior_with_a_wide_interval():
    elev, az = 40.0, 180.0  # shadows fall north (up)
    # a 3-tier stack right north of a 1-tier one: the shadow of the first falls on it
    gray, valid, dets = draw([(80, 100, 15.2, 6.1, 0.0), (80, 93, 15.2, 6.1, 0.0)], [1, 3],
                             elev=elev, az=az)  # fmt: skip
    runs = shadow_lengths_px(gray, valid, dets, azimuth_deg=az, max_px=40.0)
    h = stack_heights(runs, n=2, gsd_m=GSD, elevation_deg=elev)
    assert h.source[0] == "prior" and h.reason[0] == "occluded"
    assert (h.tiers_est[0], h.tiers_low[0], h.tiers_high[0]) == PRIOR_TIERS
    assert h.source[1] == "shadow" and h.tiers_est[1] == 3
    assert np.isnan(h.shadow_m[0])


def test_high_low_or_unknown_sun_gives_a_prior_and_says_why():
    gray, valid, dets = draw([(80, 80, 15.2, 6.1, 0.5)], [2], elev=45.0, az=100.0)
    runs = shadow_lengths_px(gray, valid, dets, azimuth_deg=100.0, max_px=30.0)
    for elev, why in ((75.0, "high_sun"), (5.0, "low_sun"), (None, "no_sun")):
        h = stack_heights(runs, n=1, gsd_m=GSD, elevation_deg=elev)
        assert h.source[0] == "prior" and h.reason[0] == why
        assert (h.tiers_low[0], h.tiers_high[0]) == (1.0, 4.0)


def test_block_neighbours_give_the_prior_of_an_occluded_stack():
    runs_len = np.array([10.0, 10.2, np.nan])
    from detector.detect.heights import ShadowRuns

    runs = ShadowRuns(runs_len, np.full(3, 0.3), np.array([0, 0, 1], np.int8), np.full(3, 5))
    h = stack_heights(runs, n=3, gsd_m=GSD, elevation_deg=45.0, groups=np.array([0, 0, 0]))
    assert list(h.source) == ["shadow", "shadow", "prior"] and h.reason[2] == "occluded"
    assert h.tiers_est[2] == h.tiers_est[0] == 2.0  # 10 px * 0.4 m * tan 45 / 2.59 m = 1.54
    assert h.tiers_low[2] == 1.5 and h.tiers_high[2] == 2.5


def test_sun_from_a_set_of_boxes():
    elev, az = 35.0, 200.0
    rng = np.random.default_rng(3)
    boxes, tiers = [], []
    for r in range(7):
        for c in range(7):  # a grid of separate boxes, 60 px apart
            boxes.append((40 + 60 * c + rng.uniform(-5, 5), 40 + 60 * r + rng.uniform(-5, 5),
                          15.2, 6.1, rng.uniform(0, np.pi)))  # fmt: skip
            tiers.append(1 if len(tiers) % 3 else 3)
    gray, valid, dets = draw(boxes, tiers, elev=elev, az=az, shape=(460, 460))
    est = sun_from_shadows(gray, valid, dets, gsd_m=GSD)
    assert est.single_tier >= 20
    assert est.elevation_deg == pytest.approx(elev, abs=3.0)
    assert abs((est.azimuth_deg - az + 180) % 360 - 180) <= 5.0
    # the comb: 1-tier and 3-tier lengths give the single-tier length, not a third of it
    one = TIER_HEIGHT_M / math.tan(math.radians(elev)) / GSD
    l1, n1 = single_tier_length(np.r_[np.full(25, one), np.full(12, 3 * one)])
    assert l1 == pytest.approx(one, rel=0.01) and n1 == 25
    assert single_tier_length(np.full(5, one)) == (float("nan"), 0) or math.isnan(
        single_tier_length(np.full(5, one))[0]
    )
    # a block's edge rows are mostly taller stacks: every tier count gives the length, and
    # a few single-tier shadows anchor the comb (a scene's first patch: 6 of 40)
    noisy = np.random.default_rng(0).normal(0.0, 0.3, 40)
    mixed = np.r_[np.full(6, one), np.full(20, 2 * one), np.full(14, 3 * one)] + noisy
    l1, n1 = single_tier_length(mixed)
    assert l1 == pytest.approx(one, rel=0.03) and n1 == 6
    # too few on the teeth: no length
    assert math.isnan(single_tier_length(np.r_[np.full(4, one), np.full(10, 3 * one)])[0])


def test_sun_record_uses_metadata_and_flags_disagreement():
    from detector.detect.sunfit import SunEstimate

    est = SunEstimate(41.0, 150.0, 9.0, 80, 30)
    rec = sun_record({"elevation_deg": 35.0, "azimuth_deg": 152.0}, est)
    assert rec["source"] == "metadata" and rec["elevation_deg"] == 35.0
    assert rec["shadows"]["elevation_deg"] == 41.0 and rec["disagree"] is True
    assert rec["difference_deg"] == {"elevation": 6.0, "azimuth": 2.0}
    # the shadows' azimuth is rough: only a sun on the wrong side disagrees
    for az, flag in ((152.0 + 60.0, False), (152.0 + 120.0, True)):
        rough = SunEstimate(36.0, az, 9.0, 80, 30)
        assert sun_record({"elevation_deg": 35.0, "azimuth_deg": 152.0}, rough)["disagree"] is flag
    rec = sun_record(None, est)
    assert rec["source"] == "shadows" and rec["elevation_deg"] == 41.0 and rec["metadata"] is None
    assert sun_record(None, None)["source"] == "none"


def test_detect_cli_writes_heights_and_the_sun(tmp_path, capsys):
    """A small synthetic Rajin scene through ``ccount synth scene`` and ``ccount detect``
    (the shipped model): every container has a height with its source and interval, and
    counts.json records the sun used and the shadows' own estimate."""
    from detector.cli.main import main

    scenes, out = tmp_path / "scenes", tmp_path / "out"
    assert main(["synth", "scene", "--port", "rajin", "--seed", "81004", "--out", str(scenes),
                 "--size", "700", "700", "--gsd", "0.4"]) == 0  # fmt: skip
    tif = next(scenes.glob("*.tif"))
    truth = json.loads(tif.with_suffix(".geojson").read_text())["properties"]
    assert main(["detect", str(tif), "--out", str(out), "--device", "cpu",
                 "--heights", "shadow"]) == 0  # fmt: skip
    counts = json.loads(next(out.glob("*.counts.json")).read_text())
    feats = [f["properties"] for f in json.loads(next(out.glob("*.geojson")).read_text())
             ["features"] if f["properties"]["type"] == "container"]  # fmt: skip
    assert len(feats) > 20
    sources = {p["height_source"] for p in feats}
    assert sources <= {"shadow", "prior"} and "shadow" in sources
    for p in feats:
        assert 1 <= p["tiers_low"] <= p["tiers_est"] <= p["tiers_high"] <= 4
        assert (p["height_source"] == "prior") == bool(p["height_note"])
        assert (p["shadow_m"] is not None) == (p["height_source"] == "shadow")
        assert (p["height_basis"] == "shadow") == (p["height_source"] == "shadow")
        assert p["height_basis"] in ("shadow", "step", "block", "rail", "stowage")
        assert p["tiers_net"] is not None
    sun = counts["sun"]
    assert sun["source"] == "metadata"
    assert sun["elevation_deg"] == pytest.approx(truth["sun_elevation_deg"], abs=0.01)
    assert sun["metadata"]["azimuth_deg"] == pytest.approx(truth["sun_azimuth_deg"], abs=0.01)
    assert "shadows" in sun and "disagree" in sun
    # the view from the scene's tags turns the sun into the one its tops' shadows are seen at
    assert sun["view"]["incidence_deg"] == pytest.approx(truth["off_nadir_deg"], abs=0.01)
    assert sun["view"]["azimuth_deg"] == pytest.approx(truth["view_azimuth_deg"], abs=0.01)
    assert sun["seen_elevation_deg"] == pytest.approx(seen_elevation_deg(
        truth["sun_elevation_deg"], truth["sun_azimuth_deg"],
        View(truth["off_nadir_deg"], truth["view_azimuth_deg"], "")), abs=0.02)  # fmt: skip
    h = counts["heights"]
    assert h["source_shadow"] + h["source_prior"] == len(feats)
    basis = [p["height_basis"] for p in feats]
    for b in ("step", "block", "rail", "stowage"):
        assert h[f"basis_{b}"] == basis.count(b)
    assert counts["totals"]["est"] == pytest.approx(sum(p["tiers_est"] for p in feats), abs=0.5)
    assert counts["settings"]["heights"] == "shadow" and "heights" in counts["timing_s"]

    # --view nadir ignores the tags' view: the sun's own elevation is the one measured at
    nadir = tmp_path / "nadir"
    assert main(["detect", str(tif), "--out", str(nadir), "--device", "cpu", "--heights",
                 "shadow", "--view", "nadir"]) == 0  # fmt: skip
    sun_nadir = json.loads(next(nadir.glob("*.counts.json")).read_text())["sun"]
    assert sun_nadir["view"] is None
    assert sun_nadir["seen_elevation_deg"] == pytest.approx(truth["sun_elevation_deg"], abs=0.01)

    # the default: the network's tier head, no shadow fields, no shadow work
    net = tmp_path / "net"
    assert main(["detect", str(tif), "--out", str(net), "--device", "cpu"]) == 0
    counts_net = json.loads(next(net.glob("*.counts.json")).read_text())
    feats_net = [f["properties"] for f in json.loads(next(net.glob("*.geojson")).read_text())
                 ["features"] if f["properties"]["type"] == "container"]  # fmt: skip
    # the peaks under the threshold only block shadows (--heights shadow): the same boxes
    assert len(feats_net) == len(feats)
    assert [p["score"] for p in feats_net] == [p["score"] for p in feats]
    assert min(p["score"] for p in feats) >= counts["settings"]["score_thresh"]
    assert not any("height_source" in p or "tiers_net" in p for p in feats_net)
    assert [p["tiers_est"] for p in feats_net] == [p["tiers_net"] for p in feats]
    assert counts_net["totals"]["est"] == pytest.approx(sum(p["tiers_net"] for p in feats), abs=0.5)
    assert counts_net["settings"]["heights"] == "net"
    assert "heights" not in counts_net and "heights" not in counts_net["timing_s"]
    assert "tiers_basis_net" not in counts_net and "shadows" not in counts_net["sun"]
    with pytest.raises(SystemExit) as bad:  # argparse: usage and exit 2
        main(["detect", str(tif), "--out", str(net), "--heights", "sky"])
    assert bad.value.code == 2
    assert "--heights: invalid choice: 'sky'" in capsys.readouterr().err


def test_wagon_bed_comes_off_and_a_deck_shadow_is_a_prior():
    from detector.detect.heights import WAGON_BED_M, ShadowRuns

    elev = 45.0  # tan = 1: one tier is 2.591 m / 0.4 m = 6.48 px of shadow
    px = (TIER_HEIGHT_M + WAGON_BED_M) / GSD  # a 1-tier container on a wagon
    runs = ShadowRuns(np.full(3, px), np.full(3, 0.2), np.zeros(3, np.int8), np.full(3, 5))
    base = np.array([WAGON_BED_M, 0.0, np.nan])  # rail, yard, deck
    h = stack_heights(runs, n=3, gsd_m=GSD, elevation_deg=elev, base_m=base)
    assert h.tiers_est[0] == 1 and h.source[0] == "shadow"
    assert h.tiers_est[1] == 1 + round(WAGON_BED_M / TIER_HEIGHT_M)  # 1.46 tiers -> 1
    assert h.source[2] == "prior" and h.reason[2] == "unknown_base"
    assert (h.tiers_low[2], h.tiers_high[2]) == (1.0, 4.0)


def test_heights_and_sun_source_are_checked():
    from detector.detect.pipeline import DetectConfig
    from detector.errors import ConfigError

    assert DetectConfig().heights == "net"
    DetectConfig(heights="shadow", sun_source="shadows").check()
    with pytest.raises(ConfigError, match="--heights 'sky'"):
        DetectConfig(heights="sky").check()
    with pytest.raises(ConfigError, match="needs heights 'shadow'"):
        DetectConfig(sun_source="shadows").check()


def test_priors_go_from_the_most_specific_to_the_stowage_range():
    from detector.detect.heights import RAIL_TIERS, ShadowRuns

    elev = 45.0
    one = TIER_HEIGHT_M / GSD  # px of shadow per tier at tan(45) = 1
    # 0-2: a block measured at 2, 3, 3 tiers with 3 occluded in it; 4: a block of one
    # measured stack (3 tiers) and 5 occluded; 6: a lone occluded yard stack; 7: an
    # occluded rail stack, in a block with 0-2; 8: an occluded deck stack
    length = np.array([2 * one, 3 * one, 3 * one, np.nan, 3 * one] + [np.nan] * 4)
    n = len(length)
    reason = np.where(np.isfinite(length), 0, 1).astype(np.int8)
    runs = ShadowRuns(length, np.full(n, 0.2), reason, np.full(n, 5, np.int16))
    groups = np.array([0, 0, 0, 0, 1, 1, 2, 0, 3])
    region = np.array(["yard"] * 7 + ["rail", "deck"])
    base = np.where(region == "deck", np.nan, 0.0)
    h = stack_heights(runs, n=n, gsd_m=GSD, elevation_deg=elev, groups=groups,
                      base_m=base, region=region)  # fmt: skip
    got = lambda i: (h.tiers_est[i], h.tiers_low[i], h.tiers_high[i])  # noqa: E731
    assert [got(i)[0] for i in (0, 1, 2, 4)] == [2, 3, 3, 3]
    assert got(3) == pytest.approx((3.0, 1.6, 3.5))  # its median and 5-95 % range +-0.5
    assert got(5) == got(6) == PRIOR_TIERS  # one measured stack is not a block's level
    assert got(7) == RAIL_TIERS  # one high on a wagon, whatever its neighbours
    assert got(8) == PRIOR_TIERS  # a deck: the stowage range
    assert list(h.source) == ["shadow"] * 3 + ["prior", "shadow"] + ["prior"] * 4
    assert set(h.reason[[3, 5, 6, 7, 8]]) == {"occluded"}
    # no sun: every stack a prior, but a rail stack is still one high
    h = stack_heights(runs, n=n, gsd_m=GSD, elevation_deg=None, region=region)
    assert got(7) == RAIL_TIERS and got(0) == PRIOR_TIERS
    assert set(h.reason) == {"no_sun"}


def test_an_uncounted_box_in_the_way_blocks_the_shadow_instead_of_ending_it():
    elev, az = 40.0, 180.0  # shadows fall north (up)
    boxes = [(80, 110, 15.2, 6.1, 0.0), (80, 100, 15.2, 6.1, 0.0)]  # 3.9 px apart
    gray, valid, both = draw(boxes, [3, 3], elev=elev, az=az)
    counted, missed = both.select(np.array([0])), both.select(np.array([1]))
    max_px = 4.5 * TIER_HEIGHT_M / math.tan(math.radians(elev)) / GSD
    # the detector missed the second box: the first one's shadow "ends" on its lit top
    alone = shadow_lengths_px(gray, valid, counted, azimuth_deg=az, max_px=max_px)
    h = stack_heights(alone, n=1, gsd_m=GSD, elevation_deg=elev)
    assert h.source[0] == "shadow" and h.tiers_est[0] == 1  # 3 tiers read as 1
    # drawn under the counted boxes as a blocker, it hides the shadow's end: a prior
    lab = box_labels(counted, gray.shape, under=missed)
    assert lab[100, 80] == 2 and lab[110, 80] == 1
    runs = shadow_lengths_px(gray, valid, counted, azimuth_deg=az, max_px=max_px, labels=lab)
    h = stack_heights(runs, n=1, gsd_m=GSD, elevation_deg=elev)
    assert h.source[0] == "prior" and h.reason[0] == "occluded"
    # a blocker under a counted box never takes its pixels
    lab = box_labels(counted, gray.shape, under=counted.shifted(2.0, 0.0))
    assert lab[110, 80] == 1


def test_a_long_shadow_gets_a_wider_interval(monkeypatch):
    # a 3-tier stack at a 20-degree sun casts a 21 m shadow, read with a sharp edge: the
    # edge alone would allow 3 tiers only, but so long a shadow is more often ended by
    # something else (a rail, a marking, a box not detected)
    import detector.detect.heights as heights
    from detector.detect.heights import ShadowRuns

    px = 3 * TIER_HEIGHT_M / math.tan(math.radians(20.0)) / GSD
    runs = ShadowRuns(length_px=np.array([px]), sd_px=np.array([0.3]),
                      reason=np.zeros(1, np.int8), profiles=np.array([5]))  # fmt: skip

    def read():
        h = stack_heights(runs, n=1, gsd_m=GSD, elevation_deg=20.0)
        return float(h.tiers_est[0]), float(h.tiers_low[0]), float(h.tiers_high[0])

    assert heights._MODEL_SD_PER_M > 0
    assert read() == (3.0, 2.0, 4.0)
    monkeypatch.setattr(heights, "_MODEL_SD_PER_M", 0.0)
    assert read() == (3.0, 3.0, 3.0)


def test_touching_groups_join_boxes_within_the_gap():
    from detector.detect.heights import touching_groups

    # three 20-ft tops side by side: 0.6 px and then 1.5 px between their long sides
    y = np.array([0.0, 6.7, 6.7 + 7.6])
    dets = Detections(np.full(3, 20.0), 20 + y, np.full(3, 15.2), np.full(3, 6.1), np.zeros(3),
                      np.zeros(3), np.ones(3), np.ones(3))  # fmt: skip
    assert touching_groups(dets, gap_px=1.0).tolist() == [0, 0, 1]
    assert touching_groups(dets, gap_px=1.6).tolist() == [0, 0, 0]
    assert touching_groups(dets, gap_px=0.5).tolist() == [0, 1, 2]
