"""--verify: crops turned along each box, the same from any tile, the verifier file, the rule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from test_inference import ArrayReader

from detector.cli.main import main
from detector.detect.inference import InferenceSettings, TileOutput, infer_scene
from detector.detect.verify import CropVerifier, cut_crops, load_crop_verifier
from detector.detections import Detections, box_corners
from detector.errors import ModelError
from detector.imagery.tiling import plan_tiles
from detector.model.verifier import (
    VerifierMeta,
    VerifierNet,
    load_verifier,
    save_verifier,
    train_verifier,
)

BIN = Path(sys.executable).parent


def _box_image(cx, cy, length, width, angle, shape=(160, 200)) -> np.ndarray:
    """float32 [H, W, 3]: dark ground with one bright oriented box."""
    img = np.full((*shape, 3), 0.1, np.float32)
    ring = box_corners(np.array([cx]), np.array([cy]), np.array([length]), np.array([width]),
                       np.array([angle]))[0] - 0.5  # fmt: skip
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.rint(ring * 16).astype(np.int32)], 1, shift=4)
    img[mask.astype(bool)] = 0.9
    return img


@pytest.mark.parametrize("angle", [0.0, 0.6, np.pi / 2, 2.5])
def test_a_crop_is_its_box_turned_along_x_and_centred(angle):
    img = _box_image(100.5, 70.5, 30.0, 6.0, angle)
    crop = cut_crops(img, np.array([100.5]), np.array([70.5]), np.array([angle]))[0]
    assert crop.shape == (3, 32, 64) and crop.dtype == np.uint8
    grey = crop.mean(axis=0)
    assert (grey[14:18, 20:44] > 200).all()  # the box: 30 px along x, 6 across
    for row, col in ((15, 10), (15, 54), (8, 32), (24, 32)):  # 22 px along, 8 across: ground
        assert grey[row, col] < 40


def test_a_crop_past_the_image_edge_is_zero_there():
    img = np.full((40, 40, 3), 0.5, np.float32)
    crop = cut_crops(img, np.array([2.0]), np.array([20.0]), np.array([0.0]))[0]
    assert (crop[:, :, :25] == 0).all() and (crop[:, :, 40:] == 128).all()


class RecordingVerifier:
    """Cuts crops as CropVerifier does and returns a number that identifies each crop."""

    def __call__(self, images, parts):
        out = []
        for k, dets in parts:
            tile = np.ascontiguousarray(images[k].transpose(1, 2, 0))
            crops = cut_crops(tile, dets.cx, dets.cy, dets.angle_rad)
            out.append(_fingerprint(crops))
        return out


def _fingerprint(crops: np.ndarray) -> np.ndarray:
    w = np.arange(np.prod(crops.shape[1:]), dtype=np.float64).reshape(crops.shape[1:]) % 97
    return (crops.astype(np.float64) * w).sum(axis=(1, 2, 3)).astype(np.float32) / 1e6


def _blob_predictor(images):
    """Fake detector: a box (15 x 6 px, 0.3 rad) at each pixel of channel 1 over 0.5."""
    outs = []
    for img in images:
        r, c = np.nonzero(img[1] > 0.5)
        n = len(r)
        outs.append(TileOutput(Detections(c + 0.5, r + 0.5, np.full(n, 15.0), np.full(n, 6.0),
                                          np.full(n, 0.3), np.zeros(n), np.full(n, 0.7),
                                          np.ones(n))))  # fmt: skip
    return outs


def test_crops_at_inference_are_the_training_crops_whatever_the_tiling():
    """A box's crop cut from its tile is the crop cut from the whole frame (what the training
    crops are cut from), for any tile size, as long as the margin holds the crop."""
    rng = np.random.default_rng(0)
    image = rng.random((3, 300, 340)).astype(np.float32) * 0.5
    image[1] = 0
    pts = [(5, 7), (150, 150), (299, 339), (96, 200), (40, 250)]  # corners and edges too
    for r, c in pts:
        image[1, r, c] = 1.0
    whole = cut_crops(np.ascontiguousarray(image.transpose(1, 2, 0)),
                      np.array([c + 0.5 for _, c in pts]), np.array([r + 0.5 for r, _ in pts]),
                      np.full(len(pts), 0.3))  # fmt: skip
    want = dict(zip(pts, _fingerprint(whole), strict=True))
    for tile, overlap in ((96, 80), (160, 80), (512, 96)):
        tiles = plan_tiles(300, 340, tile_px=tile, overlap_px=overlap)
        res = infer_scene(_blob_predictor, ArrayReader(image), tiles,
                          InferenceSettings(tile_px=tile, overlap_px=overlap, batch_size=3),
                          verifier=RecordingVerifier(), drop_inside=False)  # fmt: skip
        got = {(int(y), int(x)): v for x, y, v in zip(res.dets.cx, res.dets.cy, res.dets.verify,
                                                         strict=True)}  # fmt: skip
        assert got.keys() == want.keys()
        for p in pts:
            assert got[p] == pytest.approx(want[p], rel=1e-6), (tile, p)


def _constant_verifier(path: Path, logit: float, **meta) -> Path:
    """A verifier file whose network says ``sigmoid(logit)`` to every crop."""
    net = VerifierNet()
    with torch.no_grad():
        last = net.head[-1]
        last.weight.zero_()
        last.bias.fill_(logit)
    save_verifier(path, net, VerifierMeta(**{"score_thresh": 0.36, "verify_thresh": 0.5, **meta}))
    return path


def test_the_verifier_runs_each_part_in_order(tmp_path):
    v = load_crop_verifier(_constant_verifier(tmp_path / "v.pt", 2.0), "cpu")
    images = np.zeros((2, 3, 64, 64), np.float32)
    d = Detections(np.array([10.0, 20, 30]), np.array([10.0, 20, 30]), np.full(3, 15.0),
                   np.full(3, 6.0), np.zeros(3), np.zeros(3), np.full(3, 0.5), np.ones(3))  # fmt: skip
    out = v(images, [(0, d.select([0, 1])), (1, Detections.empty()), (1, d.select([2]))])
    assert [len(p) for p in out] == [2, 0, 1]
    assert np.allclose(np.concatenate(out), 1 / (1 + np.exp(-2.0)), atol=1e-6)
    assert v.reach_px == 37  # half the 32 x 64 crop's diagonal, and one


def test_padding_a_batch_to_a_fixed_shape_changes_no_probability():
    """Batches are padded to a multiple of CROP_PAD crops (bounded oneDNN kernel caches): a crop's
    probability is the same whatever else is in its batch."""
    net = VerifierNet((8, 16, 32)).eval()
    v = CropVerifier(net, VerifierMeta(0.36, 0.5), device="cpu", path="-", sha256="-", amp=False)
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (130, 3, 32, 64), dtype=np.uint8)
    s = rng.random(130).astype(np.float32)
    whole = v.probs(x, s)
    assert whole.shape == (130,)
    assert np.allclose(v.probs(x[:5], s[:5]), whole[:5], atol=1e-6)
    assert np.allclose(v.probs(x[128:], s[128:]), whole[128:], atol=1e-6)


def test_boxes_over_trust_above_are_not_looked_at(tmp_path):
    """A file with ``trust_above`` 0.6: the verifier sees the boxes under it only; the others
    come back NaN, which the run keeps."""
    path = _constant_verifier(tmp_path / "v.pt", -4.0, trust_above=0.6)
    v = load_crop_verifier(path, "cpu")
    images = np.zeros((1, 3, 64, 64), np.float32)
    d = Detections(np.full(3, 30.0), np.full(3, 30.0), np.full(3, 15.0), np.full(3, 6.0),
                   np.zeros(3), np.zeros(3), np.array([0.4, 0.6, 0.59]), np.ones(3))  # fmt: skip
    (p,) = v(images, [(0, d)])
    assert np.isnan(p[1]) and p[0] == p[2] == pytest.approx(1 / (1 + np.exp(4.0)), abs=1e-3)


def test_verifier_file_round_trip_and_errors(tmp_path):
    path = _constant_verifier(tmp_path / "v.pt", -1.0, detector_sha256="ab" * 32,
                              training={"steps": 3})  # fmt: skip
    net, meta = load_verifier(path)
    assert (meta.score_thresh, meta.verify_thresh, meta.crop_hw) == (0.36, 0.5, (32, 64))
    assert meta.detector_sha256 == "ab" * 32 and meta.training == {"steps": 3}
    with pytest.raises(ModelError, match="none.pt: verifier file not found"):
        load_verifier(tmp_path / "none.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="bad.pt: not a readable verifier file"):
        load_verifier(tmp_path / "bad.pt")
    from detector.paths import default_model_path

    with pytest.raises(ModelError, match="not a ccount verifier file"):
        load_verifier(default_model_path())
    payload = torch.load(path, weights_only=True)
    payload["meta"]["verify_thresh"] = 1.5
    torch.save(payload, tmp_path / "odd.pt")
    with pytest.raises(ModelError, match="odd.pt: bad verifier file: verify_thresh 1.5"):
        load_verifier(tmp_path / "odd.pt")


def test_training_learns_boxes_from_ground_and_repeats():
    """Bright boxes against the same ground without one: separable in a few dozen steps; the
    same data and seed give the same weights."""
    rng = np.random.default_rng(1)
    n = 256
    label = rng.random(n) < 0.5
    x = (rng.random((n, 3, 32, 64)) * 80).astype(np.uint8)
    x[label, :, 13:19, 17:47] = 230
    score = np.full(n, 0.5, np.float32)  # the score says nothing: the crop must
    a = train_verifier(x, score, label, steps=60, batch=32, seed=3)
    b = train_verifier(x, score, label, steps=60, batch=32, seed=3)
    for (ka, ta), (_, tb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(ta, tb), ka
    v = CropVerifier(a, VerifierMeta(0.36, 0.5), device="cpu", path="-", sha256="-")
    prob = v.probs(x, score)
    assert ((prob >= 0.5) == label).mean() >= 0.95


@pytest.fixture(scope="module")
def synth_scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    assert main(["synth", "scene", "--port", "rajin", "--seed", "1", "--out", str(out)]) == 0
    return next(out.glob("*.tif"))


def _counts(out: Path) -> dict:
    return json.loads(next(out.glob("*.counts.json")).read_text())


def test_detect_verify_keeps_what_the_verifier_keeps(synth_scene, tmp_path):
    """The shipped detector with a verifier that keeps everything gives the plain run's boxes
    at the verifier's threshold, each with its probability; one that keeps nothing counts
    nothing and says how many boxes it rejected."""
    from detector.labels.io import read_geojson

    plain, keep, drop = tmp_path / "plain", tmp_path / "keep", tmp_path / "drop"
    assert main(["detect", str(synth_scene), "--out", str(plain), "--score-thresh", "0.36",
                 "--no-progress"]) == 0  # fmt: skip
    n = _counts(plain)["totals"]["visible"]
    assert n > 50
    yes = _constant_verifier(tmp_path / "yes.pt", 4.0)
    r = subprocess.run([BIN / "ccount", "detect", str(synth_scene), "--out", str(keep),
                        "--verify", "--verifier", str(yes), "--no-progress"],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    c = _counts(keep)
    assert c["totals"]["visible"] == n and c["settings"]["score_thresh"] == 0.36
    v = c["settings"]["verify"]
    assert v["rejected"] == 0 and v["verify_thresh"] == 0.5 and len(v["verifier_sha256"]) == 64
    feats, _ = read_geojson(next(keep.glob("*.detections.geojson")))
    probs = [f["properties"]["verify"] for f in feats if f["properties"]["type"] == "container"]
    assert len(probs) == n and all(p == pytest.approx(0.982, abs=1e-3) for p in probs)

    no = _constant_verifier(tmp_path / "no.pt", 4.0, verify_thresh=0.99)
    assert main(["detect", str(synth_scene), "--out", str(drop), "--verify", "--verifier",
                 str(no), "--no-progress"]) == 0  # fmt: skip
    c = _counts(drop)
    assert c["totals"]["visible"] == 0 and c["settings"]["verify"]["rejected"] == n
    # the run's own --verify-thresh overrides the file's
    assert main(["detect", str(synth_scene), "--out", str(tmp_path / "q"), "--verify",
                 "--verifier", str(no), "--verify-thresh", "0.9", "--no-progress"]) == 0  # fmt: skip
    assert _counts(tmp_path / "q")["totals"]["visible"] == n


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (["--verify", "--verifier", "{tmp}/none.pt"], "none.pt: verifier file not found"),
        (["--verifier", "{tmp}/v.pt"], "--verifier and --verify-thresh need --verify"),
        (["--verify", "--verify-thresh", "1.5"], "--verify-thresh 1.5 must be between 0 and 1"),
    ],
)
def test_cli_bad_verify_options_exit_2(synth_scene, tmp_path, capsys, args, msg):
    args = [a.format(tmp=tmp_path) for a in args]
    assert main(["detect", str(synth_scene), "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert msg in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").glob("*.counts.json"))


def test_a_verify_run_is_its_own_catalog_setting(tmp_path):
    """`ccount run` re-counts a scene when --verify, its file or its threshold change."""
    from detector.detect.plan import DetectConfig
    from detector.run.batch import detect_settings

    a = _constant_verifier(tmp_path / "a.pt", 1.0)
    b = _constant_verifier(tmp_path / "b.pt", 2.0)
    plain = detect_settings(DetectConfig())
    va = detect_settings(DetectConfig(verify=True, verifier_path=a))
    assert "verify" not in plain and va["score_thresh"] == 0.36
    assert va["verify"]["verify_thresh"] == 0.5 and len(va["verify"]["verifier_sha256"]) == 64
    vb = detect_settings(DetectConfig(verify=True, verifier_path=b))
    vq = detect_settings(DetectConfig(verify=True, verifier_path=a, verify_thresh=0.6))
    assert len({str(plain), str(va), str(vb), str(vq)}) == 4
