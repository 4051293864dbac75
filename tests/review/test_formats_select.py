"""Export/import round trips on a round made by ``ccount review select`` (a real synthetic
scene, the shipped model): chips with a margin, the model's GSD, real candidates."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_formats import ls_export_json

from detector.cli.main import main
from detector.review.formats.exchange import read_review
from detector.review.formats.geometry import corner_distance
from detector.review.round import Round


@pytest.fixture(scope="module")
def selected(tmp_path_factory):
    root = tmp_path_factory.mktemp("fmt_select")
    assert main(["synth", "scene", "--port", "rajin", "--seed", "11", "--size", "480", "480",
                 "--gsd", "0.5", "--out", str(root / "scenes")]) == 0  # fmt: skip
    scenes = sorted((root / "scenes").glob("*.tif"))
    assert main(["detect", *map(str, scenes), "--out", str(root / "det"), "--device", "cpu",
                 "--score-thresh", "0.6", "--no-progress"]) == 0  # fmt: skip
    assert main(["review", "select", str(root / "det"), "--budget", "60", "--out",
                 str(root / "round"), "--seed", "2", "--device", "cpu"]) == 0  # fmt: skip
    return root / "round"


@pytest.mark.parametrize("fmt", ["labelstudio", "cvat", "yolo-obb", "geojson", "gpkg"])
def test_selected_round_survives_every_format_unchanged(selected, tmp_path, fmt):
    rnd = Round.open(selected)
    assert len(rnd.candidates) > 5
    out = tmp_path / fmt
    assert main(["review", "export", str(selected), "--to", fmt, "--out", str(out)]) == 0
    files = {
        "labelstudio": lambda: [out / "export.json"],
        "cvat": lambda: [out / "annotations.xml"],
        "yolo-obb": lambda: [out],
        "geojson": lambda: sorted(out.glob("*.geojson")),
        "gpkg": lambda: [out / "queue.gpkg"],
    }[fmt]
    if fmt == "labelstudio":
        (out / "export.json").write_text(json.dumps(ls_export_json(out)))
    worst = 0.0
    for f in files():
        for b in read_review(rnd, f).boxes:
            c = rnd.candidates[b.cand_id] if b.cand_id is not None else None
            if c is not None:
                px = rnd.crs_to_chip(c.unit_id, np.asarray(c.corners))
                worst = max(worst, corner_distance(np.asarray(b.corners_px), px))
    assert worst < 0.01
    before = len(rnd.journal())
    assert main(["review", "import", str(selected), *map(str, files())]) == 0
    assert Round.open(selected).journal()[before:] == []


def test_simulated_review_exported_and_imported_unchanged(selected, tmp_path):
    """After a (simulated) review the round has accepted, rejected, moved and added boxes
    and complete units; every format still comes back as no change."""
    import shutil

    rnd_path = tmp_path / "round"
    shutil.copytree(selected, rnd_path)
    truth = selected.parent / "scenes"
    assert main(["review", "simulate", str(rnd_path), "--truth", str(truth)]) == 0
    rnd = Round.open(rnd_path)
    # and one box a reviewer adds by hand (the simulation adds only what the model missed)
    c = min(rnd.candidates.values(), key=lambda c: c.cand_id)
    rnd.apply({"action": "add", "unit": c.unit_id, "kind": "40ft",
               "corners": np.asarray(c.corners).tolist()})  # fmt: skip
    rnd = Round.open(rnd_path)
    statuses = {c.status for c in rnd.candidates.values()}
    assert {"accepted", "added"} <= statuses
    n = len(rnd.journal())
    for fmt in ("labelstudio", "cvat", "yolo-obb", "geojson", "gpkg"):
        out = tmp_path / fmt
        assert main(["review", "export", str(rnd_path), "--to", fmt, "--out", str(out)]) == 0
        if fmt == "labelstudio":
            files = [out / "export.json"]
            files[0].write_text(json.dumps(ls_export_json(out)))
        else:
            files = {
                "cvat": [out / "annotations.xml"],
                "yolo-obb": [out],
                "geojson": sorted(out.glob("*.geojson")),
                "gpkg": [out / "queue.gpkg"],
            }[fmt]
        assert main(["review", "import", str(rnd_path), *map(str, files)]) == 0, fmt
        assert len(Round.open(rnd_path).journal()) == n, fmt
