"""The review passes see what the detect run saw: the same boxes across tile seams, and with
``--verify`` the same counted boxes, the verifier's doubt and its file in the round.

One 1200 x 1200 px rajin scene at 0.5 m (1500 model px: several review tiles, so their seams
cross the port) detected with the shipped model, plain and with ``--verify``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detector.cli.main import main
from detector.imagery.raster import open_scene
from detector.imagery.tiling import grid_phase
from detector.labels.evaluate import load_containers
from detector.labels.match import match_centres
from detector.paths import default_verifier_path
from detector.review.doubt import candidate_doubts
from detector.review.passes import load_review_model, review_tiling, run_passes
from detector.review.round import Round


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("review-passes")
    assert main(["synth", "scene", "--port", "rajin", "--seed", "23", "--size", "1200", "1200",
                 "--gsd", "0.5", "--out", str(root / "scenes")]) == 0  # fmt: skip
    scene = next((root / "scenes").glob("*.tif"))
    # the run's own copy of the verifier: a test removes it
    verifier = root / "verifier.pt"
    shutil.copy(default_verifier_path(), verifier)
    for name, extra in (("plain", []), ("verify", ["--verify", "--verifier", str(verifier)])):
        assert main(["detect", str(scene), "--out", str(root / name), "--device", "cpu",
                     "--no-progress", *extra]) == 0  # fmt: skip
    return root, scene, verifier


def _run(root: Path, name: str):
    counts = json.loads(next((root / name).glob("*.counts.json")).read_text())
    dets = load_containers(next((root / name).glob("*.detections.geojson")), truth=False)
    return dets, counts


def _same_boxes(a_xy: np.ndarray, b_xy: np.ndarray) -> int:
    """Pairs of centres within 0.05 m of each other."""
    return len(match_centres(a_xy, b_xy, max_dist=0.05)[0])


def test_the_plain_pass_finds_the_detect_runs_boxes_across_its_seams(runs, monkeypatch):
    root, scene, _ = runs
    dets, counts = _run(root, "plain")
    thr = counts["settings"]["score_thresh"]
    model = load_review_model(None, device="cpu")
    tile, overlap = review_tiling(model)
    assert overlap >= 2 * model.context_px > 0 and tile >= 512
    passes = run_passes(model, open_scene(scene), mirrored=False)
    t = passes.grid.transform
    p = passes.plain.select(passes.plain.score >= thr)
    xy = np.c_[t.a * p.cx + t.b * p.cy + t.c, t.d * p.cx + t.e * p.cy + t.f]
    run_xy = np.c_[dets.x_m, dets.y_m]
    assert len(p) == len(run_xy) > 50
    assert _same_boxes(xy, run_xy) == len(run_xy)
    # tiles off detect's world-anchored grid (as these passes had them) give other boxes: the
    # strided encoder is not shift-equivariant below its stride
    import detector.imagery.tiling as tiling

    monkeypatch.setattr(tiling, "grid_phase", lambda transform, align: (0, 0))
    assert tiling.grid_phase(t, model.align_px) == (0, 0) != grid_phase(t, model.align_px)
    q = run_passes(model, open_scene(scene), mirrored=False).plain
    q = q.select(q.score >= thr)
    q_xy = np.c_[t.a * q.cx + t.b * q.cy + t.c, t.d * q.cx + t.e * q.cy + t.f]
    assert _same_boxes(q_xy, run_xy) < len(run_xy)


def test_with_verify_the_model_candidates_are_the_runs_counted_boxes(runs):
    root, scene, verifier = runs
    dets, counts = _run(root, "verify")
    v = counts["settings"]["verify"]
    thr, q = counts["settings"]["score_thresh"], v["verify_thresh"]
    assert v["rejected"] > 0
    model = load_review_model(None, device="cpu", verifier=verifier)
    passes = run_passes(model, open_scene(scene))
    cands, sources, doubt, reasons = candidate_doubts(passes, thr, q)
    n = len(passes.plain)
    src = np.array(sources[:n])
    above = passes.plain.score >= thr
    assert (src == "model").sum() == len(dets)  # what the run counted
    assert (above & (src == "peak")).sum() == v["rejected"]  # what its verifier rejected
    t = passes.grid.transform
    m = passes.plain.select(src == "model")
    xy = np.c_[t.a * m.cx + t.b * m.cy + t.c, t.d * m.cx + t.e * m.cy + t.f]
    assert _same_boxes(xy, np.c_[dets.x_m, dets.y_m]) == len(dets)
    # the verifier's doubt: largest where its probability is at its threshold
    vm = np.array(reasons[:n]) == "verify_margin"
    assert vm.any()
    prob = passes.plain.verify[vm]
    near = np.abs(prob - q) < 0.2
    assert (doubt[:n][vm][near] > 0).all()
    rejected_well_scored = above & (passes.plain.verify < q) & (passes.plain.score >= thr + 0.15)
    assert (doubt[:n][rejected_well_scored] >= 0.75).all()


def test_select_on_a_verify_run_records_the_verifier(runs, tmp_path):
    root, _, verifier = runs
    _, counts = _run(root, "verify")
    out = tmp_path / "round"
    assert main(["review", "select", str(root / "verify"), "--budget", "300", "--out", str(out),
                 "--strategy", "uncertain", "--device", "cpu"]) == 0  # fmt: skip
    rnd = Round.open(out)
    v = counts["settings"]["verify"]
    assert rnd.manifest.verify == {"verifier": v["verifier"], "verifier_sha256":
                                   v["verifier_sha256"], "verify_thresh": v["verify_thresh"]}  # fmt: skip
    assert any(c.reason == "verify_margin" for c in rnd.candidates.values())
    # each box the verifier looked at carries its probability: the counted ones at least
    # its threshold, the rejected ones (peaks scoring the detector's threshold) under it
    looked = [c for c in rnd.candidates.values() if c.verify is not None]
    q, thr = v["verify_thresh"], rnd.manifest.threshold
    assert looked and all(c.verify >= q for c in looked if c.source == "model")
    assert all(c.verify < q for c in looked if c.source == "peak")
    assert any(c.source == "peak" and c.score >= thr for c in looked)
    # review gain judges a model's boxes in each unit with the run's verifier: what it
    # predicts is the unit's model candidates
    from detector.review.gain import _detect_units

    units = list(rnd.units.values())
    pred = _detect_units(None, rnd, units, "cpu")
    model_cands = {u.unit_id: sum(c.source == "model" for c in rnd.unit_candidates(u.unit_id))
                   for u in units}  # fmt: skip
    assert {u: len(xy) for u, (xy, _) in pred.items()} == model_cands
    assert sum(model_cands.values()) > 0
    # a plain run's round has none
    plain = tmp_path / "plain-round"
    assert main(["review", "select", str(root / "plain"), "--budget", "50", "--out", str(plain),
                 "--device", "cpu"]) == 0  # fmt: skip
    assert Round.open(plain).manifest.verify == {}


def test_select_without_the_runs_verifier_exit_2(runs, tmp_path):
    root, _, verifier = runs
    moved = tmp_path / "elsewhere.pt"
    shutil.move(verifier, moved)
    try:
        r = subprocess.run([sys.executable, "-m", "detector", "review", "select",
                            str(root / "verify"), "--budget", "50", "--out", str(tmp_path / "r"),
                            "--device", "cpu"], capture_output=True, text=True, timeout=600)  # fmt: skip
    finally:
        shutil.move(moved, verifier)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "verifier" in lines[0] and "missing" in lines[0]
    assert "--verifier" in lines[0]
    assert not (tmp_path / "r" / "manifest.json").exists()


def test_select_with_the_verifier_given_elsewhere(runs, tmp_path, capsys):
    root, _, verifier = runs
    moved = tmp_path / "moved.pt"
    shutil.copy(verifier, moved)
    out = tmp_path / "round"
    assert main(["review", "select", str(root / "verify"), "--budget", "50", "--out", str(out),
                 "--device", "cpu", "--verifier", str(moved)]) == 0  # fmt: skip
    assert Round.open(out).manifest.verify["verifier"] == str(moved)
    # another file than the run's, or a verifier for a run without --verify: exit 2
    other = tmp_path / "other.pt"
    other.write_bytes(moved.read_bytes() + b"x")
    for run, path, words in (("verify", other, "not the verifier"),
                             ("plain", moved, "not made with --verify")):  # fmt: skip
        assert main(["review", "select", str(root / run), "--budget", "50", "--out",
                     str(tmp_path / f"r-{run}"), "--device", "cpu", "--verifier", str(path)]) == 2  # fmt: skip
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0]
