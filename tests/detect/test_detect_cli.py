"""``detect_scenes`` end to end on GeoTIFFs (fake model), ``ccount detect`` / ``ccount eval``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from detector.cli.main import main
from detector.detect.inference import TileOutput
from detector.detect.pipeline import (
    DetectConfig,
    Detector,
    detect_scene,
    detect_scenes,
    output_paths,
)
from detector.detections import Detections

ORIGIN = (605700.0, 4678100.0)  # UTM 52N: Rajin, west berth of Pier 2 .. east of it
GSD = 0.4
H, W = 500, 750
SCENE = "rajin_20230902T0212Z"
BIN = Path(sys.executable).parent

# named blobs at model-frame pixels (x = col, y = row); see ORIGIN: x_m = 605700 + 0.4 col
NAMED = {
    "deck": (210, 200),  # on the hull in the west berth
    "rail": (297, 250),  # x 605818.8: Pier 2 rail
    "quay": (340, 250),  # x 605836: Pier 2, off the rail
    "water": (100, 300),  # west of the berth: nothing -> yard
}


def peak_predictor(images: np.ndarray) -> list[TileOutput]:
    """Fake model: strict local maxima of channel 0 above 0.6 are containers (kind from
    channel 1 > 0.5, tiers 2); channel 2 is the hull probability at stride 2."""
    foot = np.ones((3, 3), bool)
    foot[1, 1] = False
    outs = []
    for img in images:
        c0 = img[0]
        peak = (c0 > ndimage.maximum_filter(c0, footprint=foot, mode="constant")) & (c0 > 0.6)
        r, c = np.nonzero(peak)
        n = len(r)
        dets = Detections(c + 0.5, r + 0.5, np.full(n, 15.0), np.full(n, 6.0), np.zeros(n),
                          (img[1][r, c] > 0.5).astype(np.int8), c0[r, c], np.full(n, 2.0))  # fmt: skip
        h, w = c0.shape
        hull = img[2].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        outs.append(TileOutput(dets, hull, np.zeros_like(hull)))
    return outs


FAKE = Detector(predictor=peak_predictor, device="cpu", gsd_m=GSD, model_path="fake.pt",
                sha256="0" * 64)  # fmt: skip


def scene_array(n_random=300, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [3, H, W]: band 1 noise <= 100 with blobs (peak 250, ring 200) and a striped
    saturated corner block (pins the 98 % stretch at 255); band 2 kind marks; band 3 a 132 x 19.2 m
    hull in the west berth. Returns the array and blob centres [N, 2] (x, y) in pixels."""
    rng = np.random.default_rng(seed)
    a = np.zeros((3, H, W), np.uint8)
    a[0] = rng.integers(0, 101, (H, W))
    a[0, :80, 590:] = 255
    a[0, :80, 590::4] = 235  # not flat: a flat (cloud-like) block would not count
    a[2, 45:375, 188:236] = 255  # hull: 330 x 48 px
    taken = np.zeros((H, W), bool)
    taken[:84, 586:] = True
    pts = list(NAMED.values())
    for x, y in pts:
        taken[y - 2 : y + 3, x - 2 : x + 3] = True
    while len(pts) < n_random + len(NAMED):
        x, y = int(rng.integers(3, W - 3)), int(rng.integers(3, H - 3))
        if taken[y - 2 : y + 3, x - 2 : x + 3].any():
            continue
        taken[y - 2 : y + 3, x - 2 : x + 3] = True
        pts.append((x, y))
    for k, (x, y) in enumerate(pts):
        a[0, y - 1 : y + 2, x - 1 : x + 2] = 200
        a[0, y, x] = 250
        a[1, y, x] = 255 if k % 5 == 0 else 0
    return a, np.array(pts, float) + 0.5


@pytest.fixture
def scene_tif(make_geotiff):
    arr, _ = scene_array()
    return make_geotiff(f"{SCENE}.tif", array=arr, gsd_m=GSD, origin=ORIGIN)


@pytest.fixture
def random_model(tmp_path):
    """A weights file of the real architecture with untrained weights."""
    from detector.model.net import build_ccnet
    from detector.model.weights import ModelMeta, save_weights

    path = tmp_path / "untrained.pt"
    save_weights(path, build_ccnet(), ModelMeta(arch="ccnet-v1", arch_kwargs={}))
    return path


def test_detect_scene_outputs_counts_regions_ship(scene_tif, tmp_path):
    from detector.labels.io import read_containers, read_geojson

    out = tmp_path / "out"
    cfg = DetectConfig(tile_px=256, overlap_px=32, batch_size=4)
    o = detect_scene(FAKE, scene_tif, out, cfg)
    assert o.ok, o.error
    geo, gpkg, counts = output_paths(out, SCENE)
    assert (o.detections_path, o.gpkg_path, o.counts_path) == (geo, gpkg, counts)
    c = json.loads(counts.read_text())
    assert c == o.counts
    n = 300 + len(NAMED)
    assert c["totals"]["visible"] == n
    assert c["totals"]["by_kind"] == {"20ft": n - 61, "40ft": 61}
    assert c["totals"]["est"] == 2.0 * n
    assert c["port"] == "rajin" and c["acquired"] == "2023-09-02T02:12:00Z"
    assert c["sun"]["elevation_deg"] > 20  # 02:12 UTC = late morning in Rajin, September
    assert c["device"] == "cpu" and c["model"]["sha256"] == "0" * 64
    assert c["settings"]["tile"] == 256 and c["settings"]["bands"] == [1, 2, 3]
    assert [s["name"] for s in c["ships"]] == ["Angara"]
    assert c["ships"][0]["berth"] == "Pier 2 west berth"
    assert c["ships"][0]["length_m"] == pytest.approx(132, abs=2)
    assert c["ships"][0]["visible"] == c["by_region"]["deck"]["visible"] >= 1
    assert sum(r["visible"] for r in c["by_region"].values()) == n
    assert c["by_aoi"]["Rajin port"]["visible"] == n
    # per-container regions in the GeoJSON at the named positions
    t = read_containers(geo)
    feats, props = read_geojson(geo)
    assert props["scene"] == SCENE and props["crs"] == "EPSG:32652"
    assert sum(f["properties"]["type"] == "ship" for f in feats) == 1
    assert len(t) == n
    for name, (x, y) in NAMED.items():
        xm, ym = ORIGIN[0] + (x + 0.5) * GSD, ORIGIN[1] - (y + 0.5) * GSD
        k = int(np.argmin(np.hypot(t.x_m - xm, t.y_m - ym)))
        assert np.hypot(t.x_m[k] - xm, t.y_m[k] - ym) < 0.01
        expect = {"deck": "deck", "rail": "rail", "quay": "quay", "water": "yard"}[name]
        assert t.region[k] == expect, name
        assert t.ship[k] == ("Angara" if name == "deck" else None)
    from pyogrio import read_info

    info = read_info(gpkg, layer="detections")
    assert info["features"] == n + 1 and "region" in list(info["fields"])


def test_tile_size_does_not_change_counts(scene_tif, tmp_path):
    a = detect_scene(FAKE, scene_tif, tmp_path / "a", DetectConfig(tile_px=128, overlap_px=16))
    b = detect_scene(FAKE, scene_tif, tmp_path / "b", DetectConfig(tile_px=1024, overlap_px=64))
    assert a.ok and b.ok
    for key in ("totals", "by_region", "by_aoi"):
        assert a.counts[key] == b.counts[key]


def test_aoi_only_skips_tiles_outside_port(make_geotiff, tmp_path):
    arr, _ = scene_array(n_random=20)
    inside = make_geotiff(f"{SCENE}.tif", array=arr, gsd_m=GSD, origin=ORIGIN)
    o = detect_scene(FAKE, inside, tmp_path / "o", DetectConfig(aoi_only=True, tile_px=256))
    assert o.ok and o.counts["tiles"]["skipped_aoi"] == 0
    far = make_geotiff("far_20230902T0212Z.tif", array=arr, gsd_m=GSD, origin=(500000, 4600000))
    o = detect_scene(FAKE, far, tmp_path / "o", DetectConfig(aoi_only=True))
    assert not o.ok and "no known port" in o.error and str(far) in o.error


def test_batch_with_bad_scene_goes_on_and_leaves_no_partial_files(scene_tif, tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"not a tiff at all")
    out = tmp_path / "out"
    res = detect_scenes([bad, scene_tif], out, DetectConfig(), progress=False, detector=FAKE)
    assert [o.ok for o in res] == [False, True]
    assert str(bad) in res[0].error and "\n" not in res[0].error
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in output_paths(out, SCENE))


def test_failed_write_leaves_nothing(scene_tif, tmp_path, monkeypatch):
    import detector.labels.io

    def broken_gpkg(path, features, *, layer, wkb=None):
        Path(path).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(detector.labels.io, "write_gpkg", broken_gpkg)
    out = tmp_path / "out"
    o = detect_scene(FAKE, scene_tif, out, DetectConfig())
    assert not o.ok and "disk full" in o.error
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(("serial", "max_dets"), [(False, 50_000), (False, 0), (True, 50_000)])
def test_batch_order_errors_and_outputs_with_and_without_overlap(
    make_geotiff, tmp_path, monkeypatch, serial, max_dets
):
    """Scenes A, bad, B, C (C's GeoPackage write fails): outcomes in input order, each
    failure on its scene only, and the good scenes' files the same as one by one."""
    import detector.detect.pipeline
    import detector.labels.io

    arrays = [scene_array(seed=s)[0] for s in (1, 2, 3)]
    a, b, c = (make_geotiff(f"rajin_2023090{k}T0212Z.tif", array=arr, gsd_m=GSD, origin=ORIGIN)
               for k, arr in zip((2, 3, 4), arrays, strict=True))  # fmt: skip
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff")
    real = detector.labels.io.write_gpkg

    def gpkg_fails_for_c(path, features, **kw):
        if c.stem in Path(path).name:
            raise OSError("disk full")
        return real(path, features, **kw)

    monkeypatch.setattr(detector.labels.io, "write_gpkg", gpkg_fails_for_c)
    monkeypatch.setattr(
        detector.detect.pipeline, "OVERLAP_MAX_DETECTIONS", max_dets
    )  # 0: no overlap
    cfg = DetectConfig(serial=serial)
    out = tmp_path / "out"
    res = detect_scenes([a, bad, b, c], out, cfg, progress=False, detector=FAKE)
    assert [o.scene_id for o in res] == [a.stem, "bad", b.stem, c.stem]
    assert [o.ok for o in res] == [True, False, True, False]
    assert "\n" not in res[1].error and str(bad) in res[1].error
    assert "disk full" in res[3].error and str(c) in res[3].error
    assert not any(c.stem in p.name for p in out.iterdir())
    for o in (res[0], res[2]):
        one = detect_scene(FAKE, o.path, tmp_path / "one", cfg)
        assert one.detections_path.read_bytes() == o.detections_path.read_bytes()
        assert one.counts["totals"] == o.counts["totals"]


def test_duplicate_scene_names_rejected(scene_tif, tmp_path):
    from detector.errors import ConfigError

    other = tmp_path / "x" / scene_tif.name
    other.parent.mkdir()
    other.write_bytes(scene_tif.read_bytes())
    with pytest.raises(ConfigError, match="same scene name"):
        detect_scenes([scene_tif, other], tmp_path / "o", DetectConfig(), detector=FAKE)


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (["--tile", "16"], "--tile 16 is too small"),
        (["--tile", "512", "--overlap", "600"], "--overlap 600 must be smaller"),
        (["--batch-size", "0"], "--batch-size 0"),
        (["--bands", "1,2"], "--bands"),
        (["--score-thresh", "1.5"], "--score-thresh"),
        (["--threads", "0"], "--threads 0 must be >= 1"),
        (["--read-threads", "0"], "--read-threads 0 must be >= 1"),
    ],
)
def test_cli_bad_options_exit_2(scene_tif, tmp_path, capsys, args, msg):
    assert main(["detect", str(scene_tif), "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert msg in err and len(err.strip().splitlines()) == 1


def test_cli_missing_model_exit_2(scene_tif, tmp_path, capsys):
    rc = main(["detect", str(scene_tif), "--out", str(tmp_path / "o"),
               "--model", str(tmp_path / "none.pt")])  # fmt: skip
    assert rc == 2
    assert "none.pt" in capsys.readouterr().err


def test_cli_detect_real_architecture_and_bad_scene(scene_tif, random_model, tmp_path, capsys):
    bad = tmp_path / "empty.tif"
    bad.write_bytes(b"")
    out = tmp_path / "out"
    rc = main(["detect", str(bad), str(scene_tif), "--out", str(out), "--model", str(random_model),
               "--device", "cpu", "--tile", "256", "--batch-size", "2", "--no-progress",
               "--tta", "--tta-floor", "0.02"])  # fmt: skip
    assert rc == 2
    cap = capsys.readouterr()
    assert f"{SCENE}:" in cap.out and "1 of 2 scenes done" in cap.out
    assert "empty.tif" in cap.err and "1 scene(s) failed" in cap.err
    c = json.loads(output_paths(out, SCENE)[2].read_text())
    assert c["device"] == "cpu" and c["model"]["path"] == str(random_model)
    assert len(c["model"]["sha256"]) == 64
    assert c["timing_s"]["model"] > 0
    assert c["settings"]["tta"] is True and c["tiers_basis"].startswith("regressed")
    assert c["settings"]["tta_floor"] == 0.02


def test_cli_refuses_a_tta_floor_out_of_range(scene_tif, tmp_path, capsys):
    rc = main(["detect", str(scene_tif), "--out", str(tmp_path / "o"), "--tta", "--tta-floor", "1"])
    assert rc == 2
    assert "--tta-floor 1.0 must be in [0, 1)" in capsys.readouterr().err


def test_cli_eval_through_main(scene_tif, tmp_path, capsys):
    """detect with the fake model, truth built from the blob centres: perfect scores."""
    from detector.imagery.raster import SceneReader, open_scene
    from detector.labels.io import container_features, write_geojson

    out = tmp_path / "pred"
    assert detect_scene(FAKE, scene_tif, out, DetectConfig()).ok
    _, centres = scene_array()
    n = len(centres)
    kinds = (np.arange(n) % 5 == 0).astype(np.int8)
    truth = Detections(centres[:, 0], centres[:, 1], np.full(n, 15.0), np.full(n, 6.0),
                       np.zeros(n), kinds, np.ones(n), np.full(n, 2.0))  # fmt: skip
    with SceneReader(open_scene(scene_tif)) as r:
        grid = r.grid
    feats = container_features(truth, grid=grid, region=["yard"] * n, ship=[None] * n, truth=True)
    write_geojson(tmp_path / "truth" / "truth" / f"{SCENE}.geojson", feats,
                  {"crs": "EPSG:32652", "gsd_m": GSD})  # fmt: skip
    rep = tmp_path / "rep.json"
    assert main(["eval", str(out), str(tmp_path / "truth"), "--json", str(rep)]) == 0
    text = capsys.readouterr().out
    assert "OVERALL" in text and SCENE in text
    r = json.loads(rep.read_text())
    assert r["overall"]["f1"] == 1.0 and r["overall"]["count_error_pct"] == 0.0
    assert r["overall"]["kind_accuracy"] == 1.0 and r["overall"]["tier_mae"] == 0.0
    assert r["coco"]["ap50"] == pytest.approx(1.0, abs=1e-3)
    assert main(["eval", str(tmp_path / "nothing"), str(tmp_path)]) == 2


def test_subprocess_detect_and_eval(scene_tif, random_model, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    p = subprocess.run(
        [str(BIN / "ccount"), "detect", str(scene_tif), "--out", str(out), "--model",
         str(random_model), "--device", "cpu", "--tile", "256"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "1 of 1 scenes done" in p.stdout
    # stderr is a pipe, as a log file of a batch job would be: no progress bar in it
    assert "tile/s" not in p.stderr and "\r" not in p.stderr, p.stderr[-300:]
    assert all(f.is_file() for f in output_paths(out, SCENE))
    p = subprocess.run(
        [str(BIN / "ccount"), "eval", str(out), str(tmp_path / "nowhere")],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert p.returncode == 2
    assert p.stderr.strip().startswith("ccount eval: error:") and "Traceback" not in p.stderr


def test_score_threshold_defaults_agree():
    from detector.cli.main import build_parser
    from detector.detect.pipeline import DetectConfig
    from detector.model.decode import DEFAULT_SCORE_THRESH
    from detector.model.weights import ModelMeta

    parser = build_parser()
    for cmd in (["detect", "x.tif", "--out", "o"], ["run", "d", "--voyages", "v", "--out", "o"]):
        assert parser.parse_args(cmd).score_thresh is None  # the weights' own threshold
    assert DetectConfig().score_thresh is None
    assert ModelMeta(arch="ccnet-v1", arch_kwargs={}).detect_thresh == DEFAULT_SCORE_THRESH == 0.42


def test_detect_uses_the_threshold_stored_in_the_weights(scene_tif, tmp_path):
    import torch

    from detector.labels.io import read_containers
    from detector.model.net import build_ccnet
    from detector.model.weights import ModelMeta, save_weights, set_score_thresh

    torch.manual_seed(0)
    net = build_ccnet()
    with torch.no_grad():  # untrained heads peak near 0.01: lift the heatmap to about 0.5
        net.head4.bias[:8] = 0.0
        net.skip2.bias[:2] = 0.0
    model = tmp_path / "half.pt"
    save_weights(model, net, ModelMeta(arch="ccnet-v1", arch_kwargs={}))

    def run(name: str, *extra: str) -> tuple[dict, np.ndarray]:
        out = tmp_path / name
        rc = main(["detect", str(scene_tif), "--out", str(out), "--model", str(model),
                   "--device", "cpu", "--tile", "256", "--no-progress", *extra])  # fmt: skip
        assert rc == 0
        geo, _, counts = output_paths(out, SCENE)
        return json.loads(counts.read_text()), read_containers(geo).score

    c0, s0 = run("plain")
    assert c0["settings"]["score_thresh"] == 0.42  # a file without a calibrated threshold
    assert len(s0) > 0 and s0.min() >= 0.42 and s0.max() < 0.6
    set_score_thresh(model, 0.6)
    c1, s1 = run("stored")
    assert c1["settings"]["score_thresh"] == 0.6 and len(s1) == 0
    c2, s2 = run("given", "--score-thresh", "0.42")  # the option still wins
    assert c2["settings"]["score_thresh"] == 0.42 and np.array_equal(np.sort(s2), np.sort(s0))
    assert c1["model"]["sha256"] != c0["model"]["sha256"]  # provenance follows the threshold
    # a run's catalog hashes the threshold in effect: the shipped file's own (0.39)
    from detector.detect.pipeline import DetectConfig
    from detector.run.batch import detect_settings

    assert detect_settings(DetectConfig())["score_thresh"] == 0.39
    assert detect_settings(DetectConfig(model_path=model))["score_thresh"] == 0.6
    assert detect_settings(DetectConfig(model_path=model, score_thresh=0.3))["score_thresh"] == 0.3


def test_resolve_device_names_and_errors():
    import torch

    from detector.detect.pipeline import resolve_device
    from detector.errors import ConfigError, DeviceError

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="--device 'cuda:0'"):
        resolve_device("cuda:0")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available"):
            resolve_device("cuda")


def test_reading_threads_give_identical_outputs_on_a_warped_16bit_scene(make_geotiff, tmp_path):
    """A geographic (EPSG:4326, warped to UTM on read) 16-bit scene with a nodata border,
    read by one thread and by four (each its own WarpedVRT): the same outputs."""
    from conftest import north_up

    arr, _ = scene_array(seed=3)
    a16 = (arr.astype(np.uint16) * 40 + 500).astype(np.uint16)
    a16[:, :, :60] = 0  # nodata border
    tif = make_geotiff(f"{SCENE}.tif", array=a16, crs="EPSG:4326", nodata=0,
                       transform=north_up(130.2870, 42.2420, 4.8e-6, 3.6e-6))  # fmt: skip
    runs = []
    for n in (1, 4):
        cfg = DetectConfig(tile_px=128, overlap_px=16, batch_size=2, read_threads=n)
        o = detect_scene(FAKE, tif, tmp_path / f"r{n}", cfg)
        assert o.ok, o.error
        assert o.counts["settings"]["read_threads"] == n
        runs.append(o)
    one, four = (json.loads(o.detections_path.read_text())["features"] for o in runs)
    assert len(one) > 100 and one == four
    assert runs[0].counts["totals"] == runs[1].counts["totals"]
