"""How the detector holds up on imagery unlike its training: the held-out test set, perturbed.

Usage (from the repository root)::

    .venv/bin/python scripts/eval_robustness.py [--testset /tmp/ccount-testset]
        [--out /tmp/ccount-robustness] [--model models/ccount-centernet.pt]
        [--perturb none desaturate blur ...]

The test set is :mod:`eval_detector`'s (12 held-out scenes, made first if missing). Each
perturbation rewrites every scene's RGB bands (same dtype, bands, nodata, tags; a 4th band is
kept as is), then ``ccount detect`` and ``ccount eval`` run as a user would. It prints
precision, recall, F1 and count error per perturbation and the F1 change against ``none``,
and writes the table as JSON to ``OUT/robustness.json``.

The perturbations stand for products made by other means than our generator: over-sharpened
pan-sharpening, darker or brighter tone curves, colour casts, muted colour, more sensor
noise, softer optics, low contrast and heavy JPEG compression.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import eval_detector  # noqa: E402

from detector._io import atomic_write_text  # noqa: E402

CCOUNT = eval_detector.CCOUNT
# Perturbations of an RGB image as float32 [H, W, 3] on a 0..255 scale (8-bit-like).
Perturb = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _unsharp(x: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    return x + amount * (x - cv2.GaussianBlur(x, (0, 0), sigma))


def _jpeg(x: np.ndarray, quality: int) -> np.ndarray:
    img = np.ascontiguousarray(np.clip(np.rint(x), 0, 255).astype(np.uint8))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED).astype(np.float32)


PERTURBATIONS: dict[str, Perturb] = {
    "none": lambda x, rng: x,
    "sharpen": lambda x, rng: _unsharp(x, 1.0, 1.5),
    "gamma0.6": lambda x, rng: 255.0 * (x / 255.0) ** 0.6,
    "gamma1.6": lambda x, rng: 255.0 * (x / 255.0) ** 1.6,
    "colour_cast": lambda x, rng: x * np.float32([1.15, 1.0, 0.8]),
    "desaturate": lambda x, rng: 0.3 * x + 0.7 * x.mean(axis=-1, keepdims=True),
    "noise": lambda x, rng: x + rng.normal(0.0, 12.0, x.shape).astype(np.float32),
    "blur": lambda x, rng: cv2.GaussianBlur(x, (0, 0), 1.2),
    "low_contrast": lambda x, rng: 110.0 + 0.45 * (x - 110.0),
    "jpeg": lambda x, rng: _jpeg(x, 25),
}


def perturb_scene(src: Path, dst: Path, fn: Perturb, seed: int = 0) -> None:
    """Write ``src`` to ``dst`` with ``fn`` applied to bands 1-3 (scaled so the scene's
    99.5th percentile sits at 240, as an 8-bit product); nodata pixels stay nodata."""
    import rasterio

    with rasterio.open(src) as ds:
        profile, tags, colorinterp = ds.profile, ds.tags(), ds.colorinterp
        data = ds.read().astype(np.float32)
    valid = (data != 0).any(axis=0)
    scale = max(float(np.percentile(data[:3][:, valid], 99.5)) / 240.0, 1e-6)
    rgb = np.moveaxis(data[:3] / scale, 0, -1)
    out = fn(rgb, np.random.default_rng(seed)).astype(np.float32)
    top = np.iinfo(profile["dtype"]).max if np.dtype(profile["dtype"]).kind in "ui" else np.inf
    data[:3] = np.moveaxis(np.clip(np.clip(out, 1.0, 255.0) * scale, 1.0, top), -1, 0)
    data[:, ~valid] = 0
    with rasterio.open(dst, "w", **profile) as ds:
        ds.write(np.rint(data).astype(profile["dtype"]))
        ds.update_tags(**tags)
        ds.colorinterp = colorinterp


def run(name: str, scenes: list[Path], out: Path, model: Path) -> dict:
    d = out / name
    shutil.rmtree(d, ignore_errors=True)
    (d / "truth").mkdir(parents=True)
    for k, tif in enumerate(scenes):
        perturb_scene(tif, d / "truth" / tif.name, PERTURBATIONS[name], seed=k)
        shutil.copy(tif.with_suffix(".geojson"), d / "truth" / f"{tif.stem}.geojson")
    tifs = sorted(str(p) for p in (d / "truth").glob("*.tif"))
    detect = [*CCOUNT, "detect", *tifs, "--out", str(d / "pred"), "--model", str(model)]
    subprocess.run([*detect, "--no-progress"], check=True, cwd=ROOT, capture_output=True)
    report = d / "eval.json"
    subprocess.run(
        [*CCOUNT, "eval", str(d / "pred"), str(d / "truth"), "--json", str(report)],
        check=True, cwd=ROOT, capture_output=True,
    )  # fmt: skip
    o = json.loads(report.read_text())["overall"]
    return {k: o[k] for k in ("precision", "recall", "f1", "count_error_pct")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--testset", type=Path, default=Path("/tmp/ccount-testset"))
    p.add_argument("--out", type=Path, default=Path("/tmp/ccount-robustness"))
    p.add_argument("--model", type=Path, default=ROOT / "models" / "ccount-centernet.pt")
    p.add_argument("--perturb", nargs="+", choices=list(PERTURBATIONS), default=list(PERTURBATIONS))
    args = p.parse_args(argv)
    truth = args.testset / "truth"
    if not any(truth.glob("*/*.tif")):
        eval_detector.main(["--out", str(args.testset), "--model", str(args.model)])
    scenes = sorted(truth.glob("*/*.tif"))
    names = ["none"] + [n for n in args.perturb if n != "none"]
    rows: dict[str, dict] = {}
    print(f"{'perturbation':14s} {'P':>6s} {'R':>6s} {'F1':>6s} {'count%':>7s} {'dF1':>6s}")
    for name in names:
        r = rows[name] = run(name, scenes, args.out, args.model)
        r["f1_change"] = round(r["f1"] - rows["none"]["f1"], 4)
        print(f"{name:14s} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f} "
              f"{r['count_error_pct']:+7.1f} {r['f1_change']:+6.3f}", flush=True)  # fmt: skip
    summary = {"model": str(args.model), "scenes": [s.name for s in scenes], "results": rows}
    atomic_write_text(args.out / "robustness.json", json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
