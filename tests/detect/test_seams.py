"""Counts that do not depend on the tiling (issue 15, item 5), on a scene the model is unsure
of: the ``flat`` family (the shipped model's most false look-alikes; the weights before it
never saw the family). Tiles start on the network's stride grid and
overlap by at least twice the input context the model needs (its weights' metadata, or
measured for weights without it), so a tile's core sees what the whole scene would."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detector.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def flat_scene(tmp_path_factory) -> Path:
    """A 1600 px, 0.3 m scene of the ``flat`` family."""
    out = tmp_path_factory.mktemp("flat")
    subprocess.run([sys.executable, "-m", "detector", "synth", "scene", "--port", "rajin",
                    "--seed", "60010", "--gsd", "0.3", "--size", "1600", "1600", "--family",
                    "flat", "--out", str(out)], check=True, cwd=ROOT, capture_output=True)  # fmt: skip
    return next(out.glob("*.tif"))


def _detect(scene: Path, out: Path, *extra: str) -> tuple[dict, np.ndarray]:
    assert main(["detect", str(scene), "--out", str(out), "--device", "cpu", "--no-progress",
                 *extra]) == 0  # fmt: skip
    counts = json.loads((out / f"{scene.stem}.counts.json").read_text())
    feats = json.loads((out / f"{scene.stem}.detections.geojson").read_text())["features"]
    xy = np.array([np.mean(f["geometry"]["coordinates"][0][:4], axis=0) for f in feats
                   if f["properties"].get("kind") in ("20ft", "40ft")])  # fmt: skip
    return counts, xy


def _unmatched(a: np.ndarray, b: np.ndarray, tol_deg: float = 1e-5) -> int:
    """Centres of ``a`` with no centre of ``b`` within ~1 m, and the other way round."""
    d = np.hypot(*(a[:, None, :] - b[None, :, :]).transpose(2, 0, 1))
    return int((d.min(axis=1) > tol_deg).sum() + (d.min(axis=0) > tol_deg).sum())


def test_tile_256_and_1024_give_the_same_detections_on_an_unseen_family(
    flat_scene, tmp_path, caplog
):
    """--tile 256 --overlap 32 vs --tile 1024 --overlap 128 (before: 117 vs 115, two
    detections apart; the weights of 2026-12-05 with the context measured at the former
    tolerance, 64 px: 115 vs 115, four apart): the same detections; the small overlap is
    raised to the model's need, and said."""
    caplog.set_level(logging.WARNING)
    small, xy_small = _detect(flat_scene, tmp_path / "a", "--tile", "256", "--overlap", "32")
    large, xy_large = _detect(flat_scene, tmp_path / "b", "--tile", "1024", "--overlap", "128")
    n_small, n_large = small["totals"]["visible"], large["totals"]["visible"]
    assert n_large > 100
    assert abs(n_small - n_large) <= 0.01 * n_large, (n_small, n_large)
    assert _unmatched(xy_small, xy_large) <= 1
    said = [r.getMessage() for r in caplog.records if "px of input around" in r.getMessage()]
    assert len(said) == 2, said  # one for 256/32, one for 1024/128
    assert "--tile 256 -> 448, --overlap 32 -> 224" in said[0]  # the shipped model: 112 px
    assert small["settings"]["tile"] == 448 and small["settings"]["overlap"] == 224


def test_a_raised_overlap_is_said_once_per_process(caplog):
    from detector.detect.pipeline import DetectConfig, Detector, tiling_for

    caplog.set_level(logging.WARNING)
    det = Detector(predictor=None, device="cpu", gsd_m=0.4, model_path="m.pt", sha256="0",
                   context_px=40, align_px=32)  # fmt: skip
    for _ in range(3):
        got = tiling_for(det, DetectConfig(tile_px=200, overlap_px=10))
        assert (got.tile_px, got.overlap_px) == (200, 96)  # 2 x 40 aligned up to 32
    said = [r.getMessage() for r in caplog.records if "px of input around" in r.getMessage()]
    assert said == ["the model needs 40 px of input around each output pixel, so tiles "
                    "overlap by at least 96 px: --overlap 10 -> 96"]  # fmt: skip
    assert tiling_for(det, DetectConfig(tile_px=512, overlap_px=None)).overlap_px == 96


def test_the_default_overlap_is_the_models_need(flat_scene, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    counts, _ = _detect(flat_scene, tmp_path / "d")
    assert counts["settings"]["overlap"] == 224 and counts["settings"]["tile"] == 1280
    assert not [r for r in caplog.records if "px of input around" in r.getMessage()]


def test_context_is_measured_for_old_weights_and_read_from_new(tmp_path):
    """Weights from before ``context_px`` get it measured (the shipped network: 112 px);
    weights that state it are taken at their word."""
    import dataclasses

    from detector.detect.pipeline import DetectConfig, load_detector
    from detector.model.context import measure_context_px
    from detector.model.weights import load_model, save_weights

    module, meta = load_model(None)
    assert meta.context_px == 112  # stated in the shipped file
    old = tmp_path / "old.pt"
    save_weights(old, module, dataclasses.replace(meta, context_px=None))
    assert measure_context_px(module) == 112
    assert load_detector(DetectConfig(device="cpu", model_path=old)).context_px == 112
    path = tmp_path / "m.pt"
    save_weights(path, module, dataclasses.replace(meta, context_px=48))
    det = load_detector(DetectConfig(device="cpu", model_path=path))
    assert det.context_px == 48 and det.align_px == 32
