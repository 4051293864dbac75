"""Export: ONNX (onnxruntime) and TorchScript give the same detections as the eager model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from detector.cli.main import main
from detector.model.decode import decode, find_peaks
from detector.model.export import as_outputs, export_onnx, export_torchscript
from detector.model.net import build_ccnet
from detector.model.weights import ModelMeta, load_model, save_weights
from detector.synth.training import training_sample

CCOUNT = Path(sys.executable).with_name("ccount")


@pytest.fixture(scope="module")
def model_and_tile():
    """A briefly 'trained' model (BatchNorm statistics from real tiles) and a synthetic tile."""
    torch.manual_seed(0)
    model = build_ccnet().train()
    tiles = np.stack([training_sample(s, size_px=192).image for s in (11, 12, 13)])
    with torch.no_grad():
        model(torch.from_numpy(tiles))
        model.head4.weight.mul_(100.0)  # spread the near-constant initial outputs, so the
        model.skip2.weight.mul_(100.0)  # heatmap has well separated peaks to compare
    return model.eval(), tiles


def _gap_threshold(heatmap: torch.Tensor) -> float:
    """A score threshold in the widest gap between the middle half of the peak scores."""
    *_, scores = find_peaks(heatmap, score_thresh=0.0)
    s = np.sort(scores.numpy())
    lo, hi = len(s) // 4, 3 * len(s) // 4
    k = lo + int(np.argmax(np.diff(s[lo : hi + 1])))
    assert s[k + 1] - s[k] > 2e-5  # far wider than the exporters' rounding
    return float((s[k] + s[k + 1]) / 2)


def _same(a, b) -> None:
    assert len(a) == len(b) > 0
    oa, ob = np.lexsort((a.cx, a.cy)), np.lexsort((b.cx, b.cy))
    for name in ("cx", "cy", "length_px", "width_px", "score", "tiers"):
        assert np.allclose(getattr(a, name)[oa], getattr(b, name)[ob], atol=1e-3), name
    assert np.array_equal(a.kind[oa], b.kind[ob])


def test_onnx_dynamic_sizes_match_eager_detections(tmp_path, model_and_tile):
    model, tiles = model_and_tile
    path = export_onnx(model, tmp_path / "m.onnx", meta=ModelMeta(arch="ccnet-v1", arch_kwargs={}))
    proto = onnx.load(str(path))
    meta = json.loads({p.key: p.value for p in proto.metadata_props}["ccount_meta"])
    assert meta["classes"] == ["20ft", "40ft"] and meta["gsd_m"] == 0.4
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for x in (tiles, tiles[:1, :, :160, :130]):  # 192 x 192 and an odd 160 x 130
        with torch.no_grad():
            eager = model(torch.from_numpy(np.ascontiguousarray(x)))
        onnx_out = as_outputs(session.run(None, {"image": np.ascontiguousarray(x)}))
        for k in eager:
            assert onnx_out[k].shape == eager[k].shape
            torch.testing.assert_close(onnx_out[k], eager[k], atol=2e-4, rtol=1e-3)
        thresh = _gap_threshold(eager["heatmap"])
        for a, b in zip(
            decode(eager, score_thresh=thresh), decode(onnx_out, score_thresh=thresh), strict=True
        ):
            _same(a, b)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit is deprecated upstream
def test_torchscript_matches_eager_detections(tmp_path, model_and_tile):
    model, tiles = model_and_tile
    path = export_torchscript(model, tmp_path / "m.ts")
    extra = {"meta.json": ""}
    scripted = torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["meta.json"])["outputs"]["heatmap"] == 2
    x = torch.from_numpy(tiles)
    with torch.no_grad():
        eager, ts = model(x), as_outputs(scripted(x))
    thresh = _gap_threshold(eager["heatmap"])
    for a, b in zip(
        decode(eager, score_thresh=thresh), decode(ts, score_thresh=thresh), strict=True
    ):
        _same(a, b)


def test_cli_export_torchscript_and_errors(tmp_path, capsys):
    weights = tmp_path / "w.pt"
    save_weights(weights, build_ccnet(), ModelMeta(arch="ccnet-v1", arch_kwargs={}))
    out = tmp_path / "m.ts"
    assert (
        main(["export", "--format", "torchscript", "--out", str(out), "--model", str(weights)]) == 0
    )
    assert out.is_file() and "wrote" in capsys.readouterr().out
    rc = main(
        ["export", "--format", "torchscript", "--out", str(out), "--model", str(tmp_path / "no.pt")]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "no.pt" in err and "not found" in err
    rc = main(
        [
            "export",
            "--format",
            "torchscript",
            "--out",
            str(out),
            "--model",
            str(weights),
            "--fixed-size",
            "64",
            "64",
        ]
    )
    assert rc == 2 and "ONNX only" in capsys.readouterr().err


def test_cli_export_onnx_fixed_size_subprocess(tmp_path):
    weights = tmp_path / "w.pt"
    save_weights(weights, build_ccnet(), ModelMeta(arch="ccnet-v1", arch_kwargs={}))
    out = tmp_path / "fixed.onnx"
    proc = subprocess.run(
        [str(CCOUNT), "export", "--format", "onnx", "--out", str(out), "--model", str(weights),
         "--fixed-size", "128", "96"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    shape = session.get_inputs()[0].shape
    assert shape[2:] == [128, 96]
    x = np.random.default_rng(0).random((3, 3, 128, 96), dtype=np.float32)  # dynamic batch
    heat = session.run(["heatmap"], {"image": x})[0]
    assert heat.shape == (3, 2, 64, 48)
    model, _ = load_model(weights)
    with torch.no_grad():
        ref = model(torch.from_numpy(x))["heatmap"]
    torch.testing.assert_close(torch.from_numpy(heat), ref, atol=2e-4, rtol=1e-3)


def test_shipped_model_exported_gives_the_same_detections(tmp_path):
    model, meta = load_model()  # models/ccount-centernet.pt, committed with the code
    tile = training_sample(305, size_px=256)  # a dense yard: 246 containers
    x = tile.image[None]
    path = export_onnx(model, tmp_path / "shipped.onnx", meta=meta, fixed_hw=(256, 256))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        (eager,) = decode(model(torch.from_numpy(x)))
    (exported,) = decode(as_outputs(session.run(None, {"image": x})))
    _same(eager, exported)
    assert len(eager) >= 0.5 * int(tile.containers.visible.sum())
