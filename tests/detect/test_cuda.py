"""The detect pipeline on CUDA (mixed precision, channels_last) matches the CPU run.

Runs only where a CUDA device is present. Uses the shipped weights when present, else the
untrained architecture with fixed random weights and a heatmap bias that makes it fire.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import pier2_spec

from detector.detect.pipeline import (
    DetectConfig,
    detect_scene,
    load_detector,
    resolve_device,
)
from detector.labels.match import match_centres
from detector.paths import default_model_path

pytestmark = [
    pytest.mark.needs_cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]


@pytest.fixture(scope="module")
def synth_scene(tmp_path_factory):
    from detector.synth.export import write_scene
    from detector.synth.scene import ShipVisit, StockSpec, render_scene

    spec = pier2_spec(
        seed=3, gsd_m=0.5, width=1000, height=1200,
        ships=(ShipVisit("Maria", "Pier 2 west berth", 120),), stock=(StockSpec("Pier 2", 150),),
        off_nadir_deg=5.0,
    )  # fmt: skip
    tif, _ = write_scene(render_scene(spec), tmp_path_factory.mktemp("cuda_scene"))
    return tif


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> tuple:
    """(weights path, trained?)."""
    if default_model_path().is_file():
        return default_model_path(), True
    from detector.model.net import build_ccnet
    from detector.model.weights import ModelMeta, save_weights

    torch.manual_seed(0)
    net = build_ccnet()
    with torch.no_grad():  # make the untrained heatmap vary and fire (~4500 peaks a tile)
        net.head4.bias[0:8] += 2.5
        net.head4.weight[0:8].normal_(0, 3.0)
    path = tmp_path_factory.mktemp("w") / "random.pt"
    save_weights(path, net, ModelMeta(arch="ccnet-v1", arch_kwargs={}))
    return path, False


def _run(weights_path, device: str, scene, out, *, amp: bool = True) -> dict:
    from detector.detect.predictor import TorchPredictor
    from detector.model.weights import load_model

    cfg = DetectConfig(model_path=weights_path, device=device, tile_px=512, batch_size=8)
    det = load_detector(cfg)
    if not amp:
        module, _ = load_model(weights_path, device=device)
        pred = TorchPredictor(module, device=device, score_thresh=det.score_thresh, amp=False)
        det = dataclasses.replace(det, predictor=pred)
    o = detect_scene(det, scene, out, cfg)
    assert o.ok, o.error
    return o.counts


def _centres(out, scene):
    from detector.labels.io import read_containers

    t = read_containers(out / f"{scene.stem}.detections.geojson")
    return np.stack([t.x_m, t.y_m], 1)


def test_auto_picks_cuda():
    assert resolve_device("auto") == "cuda"


def test_cuda_pipeline_matches_cpu(synth_scene, weights, tmp_path):
    """The real CUDA path (autocast, channels_last) against CPU float32."""
    path, trained = weights
    cpu = _run(path, "cpu", synth_scene, tmp_path / "cpu")
    gpu = _run(path, "cuda", synth_scene, tmp_path / "cuda")
    assert gpu["device"] == "cuda" and cpu["device"] == "cpu"
    assert gpu["totals"]["visible"] > 0
    if not trained:
        return  # random peaks sit at the threshold: only float32 is comparable (next test)
    a, b = cpu["totals"], gpu["totals"]
    assert a["visible"] > 50
    assert abs(a["visible"] - b["visible"]) <= 0.01 * a["visible"]
    assert abs(a["est"] - b["est"]) <= 0.01 * a["est"] + 1
    assert [s["name"] for s in cpu["ships"]] == [s["name"] for s in gpu["ships"]]
    pc, pg = _centres(tmp_path / "cpu", synth_scene), _centres(tmp_path / "cuda", synth_scene)
    p, _, _ = match_centres(pg, pc, max_dist=0.5)
    assert len(p) >= 0.99 * min(len(pc), len(pg))


def test_cuda_float32_matches_cpu(synth_scene, weights, tmp_path):
    """Without autocast and TF32 the CUDA run gives the CPU's detections."""
    path, _ = weights
    cpu = _run(path, "cpu", synth_scene, tmp_path / "cpu")
    saved = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        gpu = _run(path, "cuda", synth_scene, tmp_path / "cuda", amp=False)
    finally:
        torch.backends.cudnn.allow_tf32 = saved
    a, b = cpu["totals"], gpu["totals"]
    assert a["visible"] > 50
    assert abs(a["visible"] - b["visible"]) <= 0.002 * a["visible"] + 1
    pc, pg = _centres(tmp_path / "cpu", synth_scene), _centres(tmp_path / "cuda", synth_scene)
    p, _, _ = match_centres(pg, pc, max_dist=0.05)
    assert len(p) >= 0.995 * min(len(pc), len(pg))
