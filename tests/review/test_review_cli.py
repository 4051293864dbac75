"""``ccount review select|simulate|labels|gain`` on a real synthetic scene and the shipped model.

One 640 x 640 px rajin scene at 0.5 m (800 model px: 3 x 3 units of 256) is detected once per
module with a high threshold (0.8), so that the run misses containers the model does see
below it: those must come back as below-threshold peaks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detector.cli.main import main
from detector.review.round import Round

THRESH = 0.8
# the mix round's budget: its hold-out share (60 candidates) must fit one of the scene's three
# loaded units (40-51 candidates each with the weights of 2026-12-05; at 120 the hold-out
# held only the six empty units, each a candidate or a few)
BUDGET = 200


def ccount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "detector", *map(str, args)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("review")
    assert main(["synth", "scene", "--port", "rajin", "--seed", "11", "--size", "640", "640",
                 "--gsd", "0.5", "--out", str(root / "scenes")]) == 0  # fmt: skip
    scenes = sorted((root / "scenes").glob("*.tif"))
    assert main(["detect", *map(str, scenes), "--out", str(root / "det"), "--device", "cpu",
                 "--score-thresh", str(THRESH), "--no-progress"]) == 0  # fmt: skip
    return root


@pytest.fixture(scope="module")
def mix_round(world):
    out = world / "mix"
    assert main(["review", "select", str(world / "det"), "--budget", str(BUDGET), "--out", str(out),
                 "--seed", "5", "--holdout-share", "0.3", "--device", "cpu"]) == 0  # fmt: skip
    return out


def _truth(world):

    rnd_scene = next((world / "scenes").glob("*.geojson")).stem
    return rnd_scene


def test_select_writes_a_round_within_budget(world, mix_round):
    rnd = Round.open(mix_round)
    m = rnd.manifest
    assert (m.strategy, m.seed, m.budget, m.holdout_share, m.threshold) == (
        "mix",
        5,
        BUDGET,
        0.3,
        THRESH,
    )
    assert m.model.endswith("ccount-centernet.pt") and len(m.model_sha256) == 64
    scene = _truth(world)
    assert list(m.scenes) == [scene]
    assert m.scenes[scene]["crs"] == "EPSG:32652" and m.scenes[scene]["gsd_m"] == 0.5
    cost = {u: max(1, len(rnd.unit_candidates(u))) for u in rnd.units}
    assert sum(cost.values()) <= BUDGET
    splits = [u.split for u in rnd.units.values()]
    assert "train" in splits and "holdout" in splits
    hold_cost = sum(cost[u.unit_id] for u in rnd.units.values() if u.split == "holdout")
    # the hold-out's share is spent; only its last unit may overrun it
    hold_max = max(cost[u.unit_id] for u in rnd.units.values() if u.split == "holdout")
    assert hold_cost - hold_max < round(0.3 * BUDGET)
    assert all(u.reason == "random" for u in rnd.units.values() if u.split == "holdout")
    # units are 256 model px = 102.4 m squares; chips hold them plus a margin
    for u in rnd.units.values():
        x0, y0, x1, y1 = u.bounds
        assert x1 - x0 == pytest.approx(102.4) and y1 - y0 == pytest.approx(102.4)
        chip = rnd.chips[u.unit_id]
        corner = rnd.chip_to_crs(u.unit_id, [(0, 0)])[0]
        assert corner[0] <= x0 + 1e-6 and corner[1] >= y1 - 1e-6
        assert (mix_round / "chips" / f"{u.unit_id}.png").is_file()
        assert chip.gsd_m == pytest.approx(0.4)
    for c in rnd.candidates.values():
        assert rnd.units[c.unit_id].contains(*c.centre)
        assert c.status == "pending" and c.kind in ("20ft", "40ft")
    chips = json.loads((mix_round / "chips" / "chips.json").read_text())
    assert set(chips) == {str(u) for u in rnd.units}


def test_mix_picks_below_threshold_peaks_of_missed_containers(world, mix_round):
    rnd = Round.open(mix_round)
    peaks = [c for c in rnd.candidates.values() if c.source == "peak"]
    below = [c for c in peaks if c.score < THRESH]
    assert below, "a run at threshold 0.8 misses containers the model sees below it"
    train_reasons = {u.reason for u in rnd.units.values() if u.split == "train"}
    assert train_reasons & {"below_peak", "near_threshold", "flip_disagree"}
    # the below-threshold peaks sit on true containers the run missed
    from detector.review.simulate import truth_boxes

    corners, _ = truth_boxes(world / "scenes", _truth(world), "EPSG:32652")
    t_xy = corners.mean(axis=1)
    dist = np.array([np.hypot(*(t_xy - c.centre).T).min() for c in below])
    assert (dist < 1.25).sum() >= 10 and (dist < 1.25).mean() > 0.5


def test_random_strategy_has_the_same_holdout(world, mix_round, tmp_path):
    """Same seed, same hold-out; the scenes found through --scenes when the recorded paths
    are gone."""
    import shutil

    moved = tmp_path / "moved_scenes"
    shutil.copytree(world / "scenes", moved)
    det = tmp_path / "det"
    shutil.copytree(world / "det", det)
    for p in det.glob("*.counts.json"):
        c = json.loads(p.read_text())
        c["file"] = str(tmp_path / "gone" / Path(c["file"]).name)
        p.write_text(json.dumps(c))
    out = tmp_path / "random"
    res = ccount("review", "select", det, "--budget", BUDGET, "--out", out, "--seed", "5",
                 "--holdout-share", "0.3", "--strategy", "random", "--device", "cpu")  # fmt: skip
    assert res.returncode == 2 and "give --scenes DIR" in res.stderr
    res = ccount("review", "select", det, "--budget", BUDGET, "--out", out, "--seed", "5",
                 "--holdout-share", "0.3", "--strategy", "random", "--device", "cpu",
                 "--scenes", moved)  # fmt: skip
    assert res.returncode == 0, res.stderr
    a, b = Round.open(mix_round), Round.open(out)
    hold = {u.bounds for u in a.units.values() if u.split == "holdout"}
    assert hold == {u.bounds for u in b.units.values() if u.split == "holdout"}
    assert all(u.reason == "random" for u in b.units.values())
    assert b.manifest.strategy == "random"
    assert Path(next(iter(b.manifest.scenes.values()))["path"]).parent == moved


def test_simulate_labels_gain(world, mix_round, tmp_path):
    import shutil

    rnd_path = tmp_path / "round"
    shutil.copytree(mix_round, rnd_path)
    res = ccount("review", "simulate", rnd_path, "--truth", world / "scenes")
    assert res.returncode == 0, res.stderr
    rnd = Round.open(rnd_path)
    assert all(u.status == "complete" for u in rnd.units.values())
    assert all(c.status != "pending" for c in rnd.candidates.values())
    j = rnd.journal()
    assert {e["by"] for e in j} == {"simulated"} and {e["seconds"] for e in j} == {None}
    assert sum(e["action"] == "complete" for e in j) == len(rnd.units)

    # labels: exactly the visible truth containers of the complete train units
    labels = tmp_path / "labels"
    assert main(["review", "labels", str(rnd_path), "--out", str(labels)]) == 0
    from detector.labels.io import read_containers, read_geojson
    from detector.review.simulate import truth_boxes

    scene = _truth(world)
    got = read_containers(labels / f"{scene}.geojson")
    _, props = read_geojson(labels / f"{scene}.geojson")
    train = [u for u in rnd.units.values() if u.split == "train"]
    assert sorted(props["reviewed_units"]) == sorted(u.unit_id for u in train)
    corners, kinds = truth_boxes(world / "scenes", scene, "EPSG:32652")
    t_xy = corners.mean(axis=1)
    in_train = np.array([any(u.contains(x, y) for u in train) for x, y in t_xy])
    in_hold = np.array(
        [any(u.contains(x, y) for u in rnd.units.values() if u.split == "holdout") for x, y in t_xy]
    )
    assert in_hold.any(), "the hold-out units hold containers"
    assert len(got) == int(in_train.sum()) > 0
    from detector.labels.match import match_centres

    pi, ti, _ = match_centres(np.c_[got.x_m, got.y_m], t_xy[in_train], max_dist=1.25)
    assert len(pi) == len(got)
    assert list(np.array(["20ft", "40ft"])[got.kind[pi]]) == list(kinds[in_train][ti])

    # the label set trains with a loss mask that covers the train units only
    from detector.model.labelset import load_label_samples

    samples = load_label_samples(labels, size_px=128, rng=np.random.default_rng(0),
                                 windows_per_scene=8)  # fmt: skip
    assert all(s.loss_mask is not None and s.loss_mask.shape == (128, 128) for s in samples)
    assert all(s.loss_mask.any() for s in samples)
    assert any(not s.loss_mask.all() for s in samples) or len(train) > 1

    # gain: the same model before and after changes nothing; cost from the journal
    from detector.paths import default_model_path

    model = default_model_path()
    res = ccount("review", "gain", rnd_path, "--before", model, "--after", model, "--device", "cpu")
    assert res.returncode == 0, res.stderr
    doc = json.loads((rnd_path / "gain.json").read_text())
    m = doc["metrics"]
    assert m["before"] == m["after"]
    assert m["delta"]["f1"] == 0 and m["delta_ci90"]["f1"] == [0.0, 0.0]
    assert doc["holdout_units"] == sum(u.split == "holdout" for u in rnd.units.values())
    assert doc["holdout_containers"] == int(in_hold.sum())
    dec = sum(e["action"] in ("accept", "reject", "kind", "move", "add") for e in j)
    assert doc["cost"]["decisions"] == dec and doc["gain_per_100_decisions"] == 0
    lo, hi = m["before_ci90"]["f1"]
    assert lo <= m["before"]["f1"] <= hi
    assert "F1 gain per 100 decisions" in res.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["select", "{tmp}", "--budget", "10", "--out", "{tmp}/r"], "no *.counts.json"),
        (["select", "{det}", "--budget", "0", "--out", "{tmp}/r"], "--budget 0"),
        (["labels", "{tmp}", "--out", "{tmp}/l"], "not a review round"),
        (["select", "{det}", "--budget", "10", "--out", "{mix}"], "already holds a review round"),
        (["simulate", "{mix}", "--truth", "{tmp}"], "no truth file"),
    ],
)
def test_bad_input_one_line_exit_2(world, mix_round, tmp_path, capsys, args, words):
    args = [a.format(tmp=tmp_path, det=world / "det", mix=mix_round) for a in args]
    assert main(["review", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ccount review: error: ")
    assert words in err


def test_labels_of_an_unreviewed_round_exit_2(mix_round, tmp_path):
    res = ccount("review", "labels", mix_round, "--out", tmp_path / "l")
    assert res.returncode == 2 and "no complete train unit" in res.stderr
