"""A 1 Gpx scene with ``--aoi``: whole-process time, peak RSS and counts vs the port alone.

Usage::

    python scripts/bench_big.py [--work /tmp/ccount_big] [--side 32000] [--threads 2]
        [--align N] [--no-aoi] [--workers N]

Builds (once, cached in ``--work``):

- ``port.tif``: the Rajin port rendered (:func:`detector.synth.scene.render_scene`, the
  Pier 2 spec of the tests with Angara at the east berth) at 0.4 m, 8-bit RGB, over the
  whole port AOI (2 x 1 km plus 30 m), placed at its real UTM 52N position;
- ``big.tif``: a ``--side`` x ``--side`` px (default 32,000: 1.02 Gpx, 12.8 km) scene of
  open sea at 0.4 m, 3-band uint8 (nodata 0, as the port's), tiled 256 px DEFLATE
  (predictor 2), no overviews, with
  ``port.tif``'s pixels pasted at their real position (so the port lies inside the Rajin
  AOI); written one row of blocks at a time (~25 MB in memory, not 3 GB).

Then runs ``python -m detector detect SCENE --aoi --device cpu --threads T`` on ``big.tif``
and on ``port.tif``, each in a child process under ``/usr/bin/time -v`` (else
``os.wait4``'s rusage), and prints for each: wall seconds of the whole process, peak RSS,
tiles run and skipped, row bands, visible containers; then the count difference. Targets
(issue 18): big.tif under 30 s on 2 cores, peak RSS <= 1.5 GB, counts within 1 % of the
port alone. Counts differ also because the tiles fall on the port at other offsets (the
model is not exactly shift-invariant: ~1.5 % at the middle's offset, measured); ``--align
448`` pastes the port where both scenes' tile grids coincide, leaving the stretch and the
reading as the only differences. ``--no-aoi`` also times ``big.tif`` without ``--aoi`` (all 1 Gpx through the
model: many minutes on 2 cores); ``--workers N`` runs that on a local Dask cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

GSD_M = 0.4
BLOCK = 256


def build_port(path: Path) -> Path:
    """``path``: the rendered Rajin port over its whole AOI at 0.4 m (cached)."""
    if path.exists():
        return path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import pier2_spec

    from detector.imagery.aoi import load_port, project
    from detector.synth.export import write_scene
    from detector.synth.scene import render_scene

    x0, y0, x1, y1 = project(load_port("rajin").area, "EPSG:32652").bounds
    w, h = round((x1 - x0 + 60) / GSD_M), round((y1 - y0 + 60) / GSD_M)
    spec = pier2_spec(gsd_m=GSD_M, width=w, height=h, centre_xy_m=((x0 + x1) / 2, (y0 + y1) / 2))
    t0 = time.perf_counter()
    tif, _ = write_scene(render_scene(spec), path.parent)
    tif.rename(path)
    print(f"rendered {path} ({w} x {h} px) in {time.perf_counter() - t0:.1f} s", flush=True)
    return path


def build_big(path: Path, port: Path, side: int, align: int = 1) -> Path:
    """``path``: ``side`` x ``side`` px of sea with ``port`` pasted in place (cached), at a
    pixel offset that is a multiple of ``align``."""
    import rasterio
    from rasterio.windows import Window

    if path.exists():
        return path
    with rasterio.open(port) as src:
        img, tags, t, crs = src.read(), src.tags(), src.transform, src.crs
    _, h, w = img.shape
    px, py = (side - w) // 2 // align * align, (side - h) // 2 // align * align  # middle
    sea = [float(np.percentile(b[b > 0], 3)) for b in img]
    rng = np.random.default_rng(0)
    # a strip of noise reused at random column shifts: sea texture without 3 GB of random
    noise = rng.normal(0.0, 2.0, (3, BLOCK, side + 4096)).astype(np.float32)
    prof = dict(driver="GTiff", width=side, height=side, count=3, dtype="uint8", crs=crs,
                transform=t @ rasterio.Affine.translation(-px, -py), tiled=True,
                blockxsize=BLOCK, blockysize=BLOCK, compress="deflate", predictor=2,
                photometric="RGB", nodata=0, BIGTIFF="YES", NUM_THREADS="ALL_CPUS")  # fmt: skip
    tmp = path.with_suffix(".part.tif")
    t0 = time.perf_counter()
    with rasterio.open(tmp, "w", **prof) as dst:
        dst.update_tags(**tags)
        for r in range(0, side, BLOCK):
            bh = min(BLOCK, side - r)
            shift = int(rng.integers(0, 4096))
            row = np.stack([s + noise[k, :bh, shift : shift + side] for k, s in enumerate(sea)])
            row = row.clip(1, 255).astype(np.uint8)
            r0, r1 = max(r, py), min(r + bh, py + h)
            if r1 > r0:
                row[:, r0 - r : r1 - r, px : px + w] = img[:, r0 - py : r1 - py]
            dst.write(row, window=Window(0, r, side, bh))
    tmp.rename(path)
    print(f"wrote {path} ({side} x {side} px, {path.stat().st_size / 2**30:.2f} GiB) in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
    return path


def run(cmd: list[str]) -> tuple[float, float, int, str]:
    """(wall s, peak RSS MB, exit code, stderr) of ``cmd`` run to completion."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    time_bin = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    t0 = time.perf_counter()
    if time_bin:
        p = subprocess.run([time_bin, "-v", *cmd], capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
        return wall, int(m.group(1)) / 1024 if m else float("nan"), p.returncode, p.stderr
    p = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), err


def detect(scene: Path, out: Path, flags: list[str]) -> dict:
    cmd = [sys.executable, "-m", "detector", "detect", str(scene), "--out", str(out),
           "--device", "cpu", "--no-progress", *flags]  # fmt: skip
    wall, rss, rc, err = run(cmd)
    if rc != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({rc}): {err[-2000:]}")
    c = json.loads((out / f"{scene.stem}.counts.json").read_text())
    res = {"scene": scene.name, "flags": " ".join(flags), "wall_s": round(wall, 1),
           "peak_rss_mb": round(rss), "visible": c["totals"]["visible"], "tiles": c["tiles"],
           "timing_s": c["timing_s"]}  # fmt: skip
    print(json.dumps(res), flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/ccount_big"))
    ap.add_argument("--side", type=int, default=32000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--align", type=int, default=1,
                    help="paste the port at a pixel offset that is a multiple of this (448, "
                         "the tile stride: the tile grids of both scenes coincide over the "
                         "port; default 1: the middle of the scene, any offset)")  # fmt: skip
    ap.add_argument("--no-aoi", action="store_true", help="also time big.tif without --aoi")
    ap.add_argument("--workers", type=int, default=None, help="--no-aoi run on N workers")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    port = build_port(a.work / "port.tif")
    name = "big.tif" if a.align == 1 else f"big_align{a.align}.tif"
    big = build_big(a.work / name, port, a.side, a.align)
    flags = ["--aoi", "--threads", str(a.threads)]
    res_big = detect(big, a.work / f"out_{big.stem}", flags)
    res_port = detect(port, a.work / "out_port", flags)
    diff = abs(res_big["visible"] - res_port["visible"]) / max(1, res_port["visible"])
    print(f"{big.name} --aoi: {res_big['wall_s']} s whole process (target < 30), peak RSS "
          f"{res_big['peak_rss_mb']} MB (target <= 1536); port alone {res_port['wall_s']} s, "
          f"{res_port['peak_rss_mb']} MB; visible containers {res_big['visible']} vs "
          f"{res_port['visible']} ({100 * diff:.2f} %, target <= 1 %)")  # fmt: skip
    if a.no_aoi:
        extra = ["--workers", str(a.workers)] if a.workers else ["--threads", str(a.threads)]
        detect(big, a.work / "out_big_all", extra)


if __name__ == "__main__":
    main()
