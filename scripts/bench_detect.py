"""Throughput of ``ccount detect``'s pipeline vs torchvision's RetinaNet-R50-FPN, one process.

Usage::

    python scripts/bench_detect.py [--size 6000] [--gsd 0.4 0.3] [--threads 2]
        [--retina-tiles 3] [--model PATH] [--device cpu] [--work DIR] [--tta] [--verify]

For each native GSD it writes (once, cached in ``--work``) a ``size`` x ``size`` px synthetic
GeoTIFF (uint8 RGB, 256 px deflate tiles, overviews) near Rajin: a mosaic of 16 different
512 px synthetic training patches (containers, ships, look-alikes) rendered at that GSD. Then,
with ``--threads`` torch CPU threads for both:

- **ccount**: :func:`detector.detect.pipeline.detect_scenes` on the scene, end to end: opening,
  stretch, windowed reads and resampling to the model frame (reading threads ahead of the
  model: ``--read-threads``, default detect's own choice), the model,
  decoding, merge, hulls, regions, counts and writing the outputs. Reported as native
  megapixels of the scene per second, and model-frame (0.4 m) megapixels per second. On
  CUDA the scene is first run once untimed: cuDNN tunes its kernels for each new batch shape,
  once per process, as in a batch job.
- **RetinaNet-R50-FPN** (the architecture DeepForest ships), random weights
  (``weights=None, weights_backbone=None, min_size=512, max_size=512``): a sample of
  ``--retina-tiles`` 512 px model-frame tiles of the same scene, one per call as DeepForest
  predicts tiles, after one warm-up tile; extrapolated as 512 x 512 px per tile time.

The ratio compares ccount's native Mpx/s with RetinaNet's Mpx/s on the same tiles (at a
native 0.4 m the frames coincide; at 0.3 m ccount reads 0.3 m pixels and resamples them).
Speed does not depend on trained weights: without ``models/ccount-centernet.pt`` the
untrained architecture is used (and said so).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ORIGIN_UTM52 = (603500.0, 4679500.0)  # upper-left corner, over Rajin port (EPSG:32652)
SCENE_TIME = "20240115T0230Z"


def make_scene(
    path: Path, size_px: int, gsd_m: float, *, seed: int = 0, patch_px: int = 512
) -> Path:
    """Write a ``size_px`` square synthetic scene at ``gsd_m`` (cached: kept if it exists)."""
    from rasterio.transform import from_origin

    from detector.imagery.raster import write_geotiff
    from detector.synth import training_sample

    if path.exists():
        return path
    patches = [
        np.clip(np.rint(training_sample(seed * 100 + k, size_px=patch_px, out_gsd_m=gsd_m).image * 255), 0, 255).astype(np.uint8)
        for k in range(16)
    ]  # fmt: skip
    n = -(-size_px // patch_px)
    arr = np.empty((3, size_px, size_px), np.uint8)
    for i in range(n):
        for j in range(n):
            p = patches[(i * 7 + j * 3) % 16]
            r0, c0 = i * patch_px, j * patch_px
            h, w = min(patch_px, size_px - r0), min(patch_px, size_px - c0)
            arr[:, r0 : r0 + h, c0 : c0 + w] = p[:, :h, :w]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_geotiff(
        path, arr, transform=from_origin(*ORIGIN_UTM52, gsd_m, gsd_m), crs="EPSG:32652",
        photometric="RGB", tags={"ACQUISITION_TIME": "2024-01-15T02:30:00Z"},
    )  # fmt: skip
    return path


def model_file(requested: str | None, work: Path, widths: str | None = None) -> tuple[Path, str]:
    """The weights to time: ``requested``, else the shipped file, else an untrained one;
    ``widths`` (``W2,...,W32``): an untrained model of those encoder widths (a wider model's
    speed before it is trained)."""
    from detector.paths import default_model_path

    if requested:
        return Path(requested), "given"
    if widths is None and default_model_path().is_file():
        return default_model_path(), "shipped"
    from detector.model.net import build_ccnet, parse_widths
    from detector.model.weights import ModelMeta, save_weights

    kw = {} if widths is None else {"widths": parse_widths(widths)}
    tag = "" if widths is None else "-" + widths.replace(",", "-")
    path = work / f"untrained-ccnet{tag}.pt"
    if not path.is_file():
        save_weights(path, build_ccnet(**kw), ModelMeta(arch="ccnet-v1", arch_kwargs=kw))
    return path, f"untrained architecture{' ' + str(kw) if kw else ''} (speed only)"


def bench_ccount(scene: Path, out: Path, config, detector) -> dict:
    from detector.detect.pipeline import detect_scenes

    t0 = time.perf_counter()
    (o,) = detect_scenes([scene], out, config, progress=False, detector=detector)
    dt = time.perf_counter() - t0
    if not o.ok:
        raise SystemExit(f"bench: detect failed: {o.error}")
    return {"seconds": dt, "counts": o.counts}


def bench_retina(scene: Path, n_tiles: int, tile_px: int = 512, device: str = "cpu") -> dict:
    """RetinaNet-R50-FPN on ``n_tiles`` tiles of ``scene``, one per call, on ``device`` (on
    CUDA in float32, synchronised before reading the clock)."""
    import torch
    from torchvision.models.detection import retinanet_resnet50_fpn

    from detector.imagery.raster import SceneReader, open_scene
    from detector.imagery.tiling import plan_tiles

    model = (
        retinanet_resnet50_fpn(
            weights=None, weights_backbone=None, min_size=tile_px, max_size=tile_px
        )
        .eval()
        .to(device)
    )
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    with SceneReader(open_scene(scene)) as reader:
        g = reader.grid
        tiles = plan_tiles(g.height, g.width, tile_px=tile_px, overlap_px=0)
        pick = [tiles[int(i)] for i in np.linspace(0, len(tiles) - 1, n_tiles + 1).round()]
        images = [torch.from_numpy(reader.read(t.window).image).to(device) for t in pick]
    with torch.inference_mode():
        model([images[0]])  # warm-up
        sync()
        t0 = time.perf_counter()
        for img in images[1:]:
            model([img])
        sync()
        per_tile = (time.perf_counter() - t0) / n_tiles
    return {"seconds_per_tile": per_tile, "mpx_s": tile_px * tile_px / per_tile / 1e6}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=6000, help="scene side in native px")
    ap.add_argument("--gsd", type=float, nargs="+", default=[0.4, 0.3], help="native GSDs (m)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--retina-tiles", type=int, default=3)
    ap.add_argument("--model", default=None)
    ap.add_argument("--widths", default=None, help="time an untrained model of these widths")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    ap.add_argument("--batch-size", type=int, default=None, help="default: detect's")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ccount-bench")
    ap.add_argument("--no-retina", action="store_true", help="time ccount only")
    ap.add_argument("--tta", action="store_true", help="ccount with --tta (mirrored passes)")
    ap.add_argument("--verify", action="store_true",
                    help="ccount with --verify (the crop verifier)")  # fmt: skip
    ap.add_argument("--verifier", type=Path, default=None,
                    help="--verify: this verifier file (default: models/ccount-verifier.pt)")  # fmt: skip
    ap.add_argument("--read-threads", type=int, default=None,
                    help="ccount's reading threads (default: detect's: 1 on CPU, more on CUDA)")  # fmt: skip
    args = ap.parse_args(argv)

    import torch

    from detector.detect.pipeline import DetectConfig, load_detector

    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    weights, origin = model_file(args.model, args.work, args.widths)
    batch = args.batch_size or DetectConfig().batch_size
    config = DetectConfig(
        model_path=weights, device=args.device, batch_size=batch,
        num_threads=args.threads, tta=args.tta, read_threads=args.read_threads,
        verify=args.verify, verifier_path=args.verifier,
    )  # fmt: skip
    detector = load_detector(config)
    load = os.getloadavg()
    print(f"torch {torch.__version__}, {args.threads} threads, device {detector.device}; "
          f"model {weights} ({origin}){', --tta' if args.tta else ''}"
          f"{', --verify' if args.verify else ''}; "
          f"load average before: {load[0]:.2f}")  # fmt: skip
    warm = make_scene(args.work / f"warmup_{SCENE_TIME}.tif", 1024, 0.4)
    bench_ccount(warm, args.work / "out", config, detector)  # first-call costs out of the way
    rows = []
    for gsd in args.gsd:
        scene = make_scene(
            args.work / f"rajin_{SCENE_TIME}_{args.size}px_{gsd:.2f}m.tif", args.size, gsd
        )
        if detector.device == "cuda":  # cuDNN tunes its kernels for each new batch shape
            bench_ccount(scene, args.work / "out", config, detector)
        r = bench_ccount(scene, args.work / "out", config, detector)
        native_mpx = args.size * args.size / 1e6
        model_mpx = native_mpx * (gsd / 0.4) ** 2
        c = r["counts"]
        row = {
            "gsd": gsd, "seconds": r["seconds"], "native_mpx_s": native_mpx / r["seconds"],
            "model_mpx_s": model_mpx / r["seconds"], "containers": c["totals"]["visible"],
            "read_s": c["timing_s"]["read"], "model_s": c["timing_s"]["model"],
            "tiles": c["tiles"]["run"], "read_threads": c["settings"]["read_threads"],
            "verify_s": c["settings"].get("verify", {}).get("seconds", 0.0),
        }  # fmt: skip
        if not args.no_retina:
            rr = bench_retina(scene, args.retina_tiles, device=detector.device)
            row.update(retina_mpx_s=rr["mpx_s"], retina_s_tile=rr["seconds_per_tile"])
            row["ratio"] = row["native_mpx_s"] / rr["mpx_s"]
            row["ratio_model_frame"] = row["model_mpx_s"] / rr["mpx_s"]
        rows.append(row)
        vtext = f", verifier {row['verify_s']:.1f} s" if args.verify else ""
        print(
            f"\nscene {args.size} x {args.size} px at {gsd} m ({native_mpx:.1f} native Mpx, "
            f"{row['tiles']} tiles of {c['settings']['tile']} px at 0.4 m, {row['containers']} containers found)\n"
            f"  ccount detect (end to end): {row['seconds']:.1f} s = {row['native_mpx_s']:.2f} "
            f"native Mpx/s ({row['model_mpx_s']:.2f} model-frame Mpx/s; reading {row['read_s']:.1f} s"
            f" in {row['read_threads']} reading thread(s), model {row['model_s']:.1f} s{vtext})"
        )  # fmt: skip
        if "ratio" in row:
            print(
                f"  RetinaNet-R50-FPN: {row['retina_s_tile']:.2f} s per 512 px tile = "
                f"{row['retina_mpx_s']:.3f} Mpx/s ({args.retina_tiles} tiles timed)\n"
                f"  ratio: {row['ratio']:.1f}x (model frame: {row['ratio_model_frame']:.1f}x)"
            )  # fmt: skip
    print(f"\nload average after: {os.getloadavg()[0]:.2f} (other processes share the CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
