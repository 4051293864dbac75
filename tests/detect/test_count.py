"""counts.json values from detections, regions and hulls (pure function)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from detector.detect.count import scene_counts, summary, tiers_clipped
from detector.detect.hulls import ShipHulls
from detector.detect.locate import Regions
from detector.detections import Detections, Hull


def _dets(kinds, tiers) -> Detections:
    n = len(kinds)
    return Detections(np.arange(n) * 10.0, np.zeros(n), np.full(n, 15.0), np.full(n, 6.0),
                      np.zeros(n), kinds, np.full(n, 0.9), tiers)  # fmt: skip


def _inputs():
    #            deck(A) deck(A) deck(unk) quay  rail  yard   yard
    kinds = [0, 1, 0, 0, 0, 1, 0]
    tiers = [2.6, 3.0, 6.0, 1.0, 0.4, 1.0, np.nan]  # clipped: 2.6 3 4 1 1 1 1
    dets = _dets(kinds, tiers)
    hulls = ShipHulls(
        hulls=(
            Hull(np.zeros((4, 2)), 131.46, 19.2, 0.12, name="Angara", score=0.91),
            Hull(np.zeros((4, 2)), 150.0, 25.0, float("nan"), name="unknown", score=0.7),
        ),
        labels=np.zeros((2, 2), np.int32),
        stride_px=4,
        berths=("Pier 2 east berth", None),
    )
    regions = Regions(
        region=np.array(["deck", "deck", "deck", "quay", "rail", "yard", "yard"]),
        ship_index=np.array([0, 0, 1, -1, -1, -1, -1]),
        ship=("Angara", "Angara", "unknown", None, None, None, None),
        in_aoi={"Pier 2": np.array([0, 0, 0, 1, 1, 0, 0], bool), "Rajin yard": np.zeros(7, bool)},
    )
    scene = SimpleNamespace(
        id="rajin_20230902T0212Z", path=Path("/x/rajin_20230902T0212Z.tif"), port="rajin",
        acquired=datetime(2023, 9, 2, 2, 12, tzinfo=UTC), gsd_m=0.5,
    )  # fmt: skip
    return scene, dets, regions, hulls


def test_tiers_clipped():
    np.testing.assert_allclose(
        tiers_clipped(_dets([0] * 4, [0.2, 2.5, 9.0, np.nan])), [1.0, 2.5, 4.0, 1.0]
    )


def test_summary_teu_counts_40ft_twice():
    s = summary(_dets([0, 1, 1], [1.0, 2.0, 1.5]))
    assert s == {"visible": 3, "est": 4.5, "teu_visible": 5, "teu_est": 8.0}
    assert summary(Detections.empty()) == {
        "visible": 0,
        "est": 0.0,
        "teu_visible": 0,
        "teu_est": 0.0,
    }


def test_scene_counts_document():
    scene, dets, regions, hulls = _inputs()
    c = scene_counts(
        scene=scene, dets=dets, regions=regions, hulls=hulls,
        model={"path": "m.pt", "sha256": "ab"}, device="cpu",
        settings={"tile": 512, "overlap": 64}, timing_s={"total": 1.23456, "read": 0.5, "model": 0.6},
        sun={"elevation_deg": 35.21234, "azimuth_deg": 160.0}, model_gsd_m=0.4,
    )  # fmt: skip
    assert c["scene"] == "rajin_20230902T0212Z" and c["port"] == "rajin"
    assert c["acquired"] == "2023-09-02T02:12:00Z"
    assert c["file"] == "/x/rajin_20230902T0212Z.tif"
    assert (c["gsd_m"], c["model_gsd_m"], c["device"]) == (0.5, 0.4, "cpu")
    assert c["timing_s"]["total"] == 1.235 and c["sun"]["elevation_deg"] == 35.212
    t = c["totals"]
    assert t["visible"] == 7 and t["by_kind"] == {"20ft": 5, "40ft": 2}
    assert t["est"] == 13.6  # 2.6 + 3 + 4 + 1 + 1 + 1 + 1
    assert t["teu_visible"] == 9 and t["teu_est"] == 17.6  # 40ft at 3.0 and 1.0 count twice
    r = c["by_region"]
    assert list(r) == ["deck", "quay", "yard", "rail"]
    assert r["deck"] == {"visible": 3, "est": 9.6, "teu_visible": 4, "teu_est": 12.6}
    assert r["quay"]["visible"] == 1 and r["rail"]["est"] == 1.0 and r["yard"]["teu_visible"] == 3
    assert c["by_aoi"] == {
        "Pier 2": {"visible": 2, "est": 2.0},
        "Rajin yard": {"visible": 0, "est": 0.0},
    }
    a, u = c["ships"]
    assert a == {"name": "Angara", "length_m": 131.46, "beam_m": 19.2, "bridge_from_bow": 0.12,
                 "score": 0.91, "berth": "Pier 2 east berth", "visible": 2, "est": 5.6,
                 "tiers_mean": 2.8}  # fmt: skip
    assert u["name"] == "unknown" and u["bridge_from_bow"] is None and u["visible"] == 1
    assert u["est"] == 4.0 and u["berth"] is None
    json.dumps(c, allow_nan=False)  # strict JSON


def test_scene_counts_empty_scene():
    scene, _, _, _ = _inputs()
    scene.acquired = None
    empty = Regions(np.zeros(0, str), np.zeros(0, np.int64), (), {})
    c = scene_counts(
        scene=scene, dets=Detections.empty(), regions=empty, hulls=ShipHulls.empty(),
        model={"path": "m", "sha256": "x"}, device="cuda", settings={}, timing_s={}, sun=None,
        model_gsd_m=0.4,
    )  # fmt: skip
    assert c["totals"]["visible"] == 0 and c["ships"] == [] and c["acquired"] is None
    assert all(v["visible"] == 0 for v in c["by_region"].values())
    json.dumps(c, allow_nan=False)
