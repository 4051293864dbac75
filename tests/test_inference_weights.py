"""With the shipped weights: the count does not depend on the tile size (issue: +-1 %)."""

from __future__ import annotations

import pytest
from conftest import pier2_spec

from detector.detect import DetectConfig, detect_scene, load_detector
from detector.paths import default_model_path

pytestmark = pytest.mark.skipif(
    not default_model_path().is_file(), reason="needs the shipped models/ccount-centernet.pt"
)


@pytest.fixture(scope="module")
def synth_scene(tmp_path_factory):
    from detector.synth.export import write_scene
    from detector.synth.scene import ShipVisit, StockSpec, render_scene

    spec = pier2_spec(
        seed=11, gsd_m=0.4, width=900, height=1300,
        ships=(ShipVisit("Angara", "Pier 2 east berth", 180),), stock=(StockSpec("Pier 2", 120),),
        off_nadir_deg=5.0,
    )  # fmt: skip
    out = tmp_path_factory.mktemp("weights_scene")
    tif, _ = write_scene(render_scene(spec), out)
    return tif


def test_tile_256_vs_1024_counts_within_one_percent(synth_scene, tmp_path):
    base = DetectConfig(device="cpu", num_threads=2)
    det = load_detector(base)
    counts = {}
    for tile, overlap in ((256, 48), (1024, 64)):
        cfg = DetectConfig(device="cpu", tile_px=tile, overlap_px=overlap, num_threads=2)
        o = detect_scene(det, synth_scene, tmp_path / str(tile), cfg)
        assert o.ok, o.error
        counts[tile] = o.counts
    a, b = counts[256]["totals"], counts[1024]["totals"]
    assert a["visible"] > 100
    assert abs(a["visible"] - b["visible"]) <= 0.01 * b["visible"]
    assert abs(a["teu_visible"] - b["teu_visible"]) <= 0.01 * b["teu_visible"]
    assert abs(a["est"] - b["est"]) <= 0.01 * b["est"]
