"""Counts that must depend neither on the tiling nor on the scene's extent (issue 15, items 5-6).

Usage (from the repository root)::

    .venv/bin/python scripts/bench_seams.py [--out /tmp/ccount-seams] [--seeds 60010 60011]
        [--families classic flat] [--gsd 0.3] [--size 1600] [--model PATH] [--sea 6000]
        [--verify [V]]

Part 1 (seams): renders each ``(family, seed)`` scene with ``ccount synth scene`` (family
``flat`` is one the shipped model never trained on, so it is unsure there) and detects it
with ``--tile/--overlap`` 256/32, 256/128, 512/64, 1024/128 and 1024/256. Per setting it
prints the count, F1 against the truth, and how many detections differ from the 1024/256
run's (matched one-to-one within 1.25 m).

Part 2 (extent): the same port pixels alone and pasted into the middle of a ``--sea`` px
square scene of open sea (the port's own water level with 3 % noise), for an 8-bit and a
16-bit product, once at an offset that keeps the port on the network's 32 px stride grid
(snap 128) and once anywhere (snap 1); prints both counts, the stretch ``ccount info``
shows (low then high per band), and how many detections differ. Runs without ``--aoi``.
``--verify``: every run with the crop verifier (``ccount detect --verify``; ``V``: its file).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CCOUNT = [sys.executable, "-m", "detector"]
SETTINGS = ((256, 32), (256, 128), (512, 64), (1024, 128), (1024, 256))


def render(out: Path, *, family: str, seed: int, gsd: float, size: int, bits: int = 8) -> Path:
    d = out / f"{family}_{seed}_{gsd:g}_{bits}"
    if not any(d.glob("*.tif")):
        extra = ["--bits", "16", "--bands", "4"] if bits == 16 else []
        subprocess.run([*CCOUNT, "synth", "scene", "--port", "rajin", "--seed", str(seed),
                        "--gsd", str(gsd), "--size", str(size), str(size), "--family", family,
                        "--out", str(d), *extra], check=True, cwd=ROOT, capture_output=True)  # fmt: skip
    return sorted(d.glob("*.tif"))[0]


def detect(det, scene: Path, out: Path, tile: int, overlap: int | None):
    from detector.detect.pipeline import DetectConfig, detect_scene
    from detector.labels.evaluate import load_containers

    v = det.verifier  # a detector loaded with --verify: every run with it
    cfg = DetectConfig(tile_px=tile, overlap_px=overlap, verify=v is not None,
                       verifier_path=v.path if v is not None else None)  # fmt: skip
    res = detect_scene(det, scene, out, cfg)
    if not res.ok:
        raise SystemExit(res.error)
    return load_containers(res.detections_path, truth=False)


def f1(pred, truth) -> float:
    from detector.labels.evaluate import evaluate_scene

    m = evaluate_scene(pred, truth)["all"].metrics()
    return m.get("f1") or 0.0


def differ(a, b) -> int:
    """Detections of ``a`` and ``b`` without a partner in the other (1.25 m)."""
    from detector.labels.match import match_centres

    pa = np.stack([a.x_m, a.y_m], 1)
    pb = np.stack([b.x_m, b.y_m], 1)
    pi, _, _ = match_centres(pa, pb, max_dist=1.25)
    return len(a) + len(b) - 2 * len(pi)


def seams(det, args) -> list[dict]:
    from detector.labels.evaluate import load_containers

    rows = []
    for family in args.families:
        for seed in args.seeds:
            scene = render(args.out, family=family, seed=seed, gsd=args.gsd, size=args.size)
            truth = load_containers(scene.with_suffix(".geojson"), truth=True)
            runs = {}
            for tile, ov in SETTINGS:
                runs[tile, ov] = detect(det, scene, args.out / "pred" / f"{tile}_{ov}", tile, ov)
            ref = runs[SETTINGS[-1]]
            for (tile, ov), p in runs.items():
                rows.append({"family": family, "seed": seed, "tile": tile, "overlap": ov,
                             "count": len(p), "truth": int(truth.visible.sum()),
                             "f1": round(f1(p, truth), 3), "differ_vs_1024_256": differ(p, ref)})  # fmt: skip
    return rows


def paste_in_sea(src: Path, dst: Path, sea_px: int, snap_px: int = 1) -> None:
    """``src``'s pixels in the middle of a ``sea_px`` square of its own water, same
    georeference for the port pixels (the transform's origin moves). ``snap_px``: the
    offset a multiple of it (native px; 128 keeps the port on the network's 32 px stride
    grid at 0.3 and 0.4 m, so that only the scene around it differs)."""
    import rasterio
    from affine import Affine

    with rasterio.open(src) as ds:
        data = ds.read()
        prof = ds.profile
        t = ds.transform
    b, h, w = data.shape
    # open sea: the port's own water level (3rd percentile of its valid pixels, per band)
    # with 3 % noise, as tests/detect/test_big_scene.py does
    valid = (data != (prof.get("nodata") or 0)).any(0)
    rng = np.random.default_rng(0)
    big = np.empty((b, sea_px, sea_px), data.dtype)
    noise = rng.normal(0.0, 1.0, (sea_px, sea_px))
    for k in range(b):
        level = float(np.percentile(data[k][valid], 3))
        big[k] = np.clip(level * (1 + 0.03 * noise), 1, np.iinfo(data.dtype).max).astype(data.dtype)
    r0, c0 = (sea_px - h) // 2 // snap_px * snap_px, (sea_px - w) // 2 // snap_px * snap_px
    big[:, r0 : r0 + h, c0 : c0 + w] = data
    prof.update(width=sea_px, height=sea_px, transform=t * Affine.translation(-c0, -r0),
                tiled=True, blockxsize=512, blockysize=512, compress="deflate")  # fmt: skip
    with rasterio.open(dst, "w", **prof) as out:
        out.write(big)
        out.update_tags(**(rasterio.open(src).tags()))


def extent(det, args) -> list[dict]:
    from detector.imagery.raster import open_scene

    rows = []
    tiling = (1024, 256) if det.context_px == 0 else (1280, None)
    for bits in (8, 16):
        for family in args.families:
            seed = args.seeds[0]
            scene = render(args.out, family=family, seed=seed, gsd=args.gsd, size=args.size,
                           bits=bits)  # fmt: skip
            alone = detect(det, scene, args.out / "pred_alone" / f"{family}_{bits}", *tiling)
            s1 = open_scene(scene).stretch
            for snap in (128, 1):
                big_dir = args.out / f"sea{snap}_{family}_{seed}_{bits}"
                big_dir.mkdir(parents=True, exist_ok=True)
                big = big_dir / scene.name
                if not big.exists():
                    paste_in_sea(scene, big, args.sea, snap)
                inside = detect(det, big, args.out / f"pred_sea{snap}" / f"{family}_{bits}",
                                *tiling)  # fmt: skip
                s2 = open_scene(big).stretch
                rows.append({"family": family, "bits": bits, "snap": snap, "alone": len(alone),
                             "in_sea": len(inside), "differ": differ(alone, inside),
                             "stretch_alone": [round(v) for v in s1.low + s1.high],
                             "stretch_in_sea": [round(v) for v in s2.low + s2.high]})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("/tmp/ccount-seams"))
    p.add_argument("--seeds", type=int, nargs="+", default=[60010])
    p.add_argument("--families", nargs="+", default=["classic", "flat"])
    p.add_argument("--gsd", type=float, default=0.3)
    p.add_argument("--size", type=int, default=1600)
    p.add_argument("--sea", type=int, default=4000, help="side of the sea scene, px")
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--skip", choices=("seams", "extent"), default=None)
    p.add_argument(
        "--context",
        type=int,
        default=None,
        help="override the model's context (px); 0 = tiles as given",
    )
    p.add_argument(
        "--align",
        type=int,
        default=None,
        help="override the tile alignment (px); 1 = the old unaligned plan",
    )
    p.add_argument(
        "--verify",
        nargs="?",
        type=Path,
        const="default",
        default=None,
        metavar="V",
        help="run with the crop verifier (V: its file; default the shipped one)",
    )
    args = p.parse_args(argv)
    from dataclasses import replace

    from detector.detect.pipeline import DetectConfig, load_detector

    verify = {}
    if args.verify is not None:
        verify = {"verify": True,
                  "verifier_path": None if str(args.verify) == "default" else args.verify}  # fmt: skip
    det = load_detector(DetectConfig(model_path=args.model, device="cpu", **verify))
    if args.context is not None:
        det = replace(det, context_px=args.context)
    if args.align is not None:
        det = replace(det, align_px=args.align)
    print(
        f"context {det.context_px} px, tiles aligned to {det.align_px} px"
        + (f", verifier {det.verifier.path} at {det.verify_thresh}" if det.verifier else "")
    )
    t0 = time.perf_counter()
    out = {}
    if args.skip != "seams":
        out["seams"] = seams(det, args)
        print(f"{'family':8} {'seed':>6} {'tile/ov':>9} {'count':>6} {'truth':>6} {'F1':>6} "
              f"{'differ':>6}")  # fmt: skip
        for r in out["seams"]:
            print(
                f"{r['family']:8} {r['seed']:>6} {r['tile']:>5}/{r['overlap']:<3} "
                f"{r['count']:>6} {r['truth']:>6} {r['f1']:>6.3f} {r['differ_vs_1024_256']:>6}"
            )
    if args.skip != "extent":
        out["extent"] = extent(det, args)
        for r in out["extent"]:
            print(json.dumps(r))
    print(f"{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
