"""Time the synthetic generator: one 2000 x 2000 px scene (render, then write) and training
samples (ms each). Target: scene render < 5 s, training sample < 30 ms, on one CPU core.

Usage: python scripts/bench_synth.py [--size 2000] [--port rajin] [--samples 100] [--out DIR]
    [--family classic|flat|photo]
Prints one line per measurement (wall and CPU seconds).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from detector.synth.export import write_scene
from detector.synth.portmap import feature_centre_m
from detector.synth.scene import SceneSpec, ShipVisit, StockSpec, render_scene
from detector.synth.training import training_sample


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2000)
    ap.add_argument("--port", default="rajin", choices=("rajin", "vostochny", "dunai"))
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--out", type=Path, default=None, help="keep the scene here (default: temp)")
    ap.add_argument("--family", default="classic", help="rendering family (default classic)")
    args = ap.parse_args()
    target = {
        "rajin": ("Pier 2", "Pier 2 east berth", "Pier 2"),
        "vostochny": ("Berth 2", "Berth 2", "Container yard"),
        "dunai": ("Dunai pier", "Dunai pier west berth", "Dunai yard"),
    }[args.port]
    spec = SceneSpec(
        port=args.port, acquired=dt.datetime(2023, 9, 2, 2, 12, tzinfo=dt.UTC), seed=1, gsd_m=0.5,
        width=args.size, height=args.size, centre_xy_m=feature_centre_m(args.port, target[0]),
        ships=(ShipVisit("Angara", target[1], 250),), stock=(StockSpec(target[2], 250),), background=0.5,
        family=args.family,
    )  # fmt: skip
    render_scene(
        SceneSpec(
            port=args.port,
            acquired=spec.acquired,
            seed=0,
            width=256,
            height=256,
            centre_xy_m=spec.centre_xy_m,
        )
    )  # warm-up
    rs, wall, cpu = _timed(lambda: render_scene(spec))
    print(
        f"render_scene {args.size}x{args.size} px {args.port} {args.family}: {wall:.2f} s wall, {cpu:.2f} s CPU, {rs.containers_total} containers"
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        _, wall, cpu = _timed(lambda: write_scene(rs, out))
        print(
            f"write_scene (GeoTIFF deflate + overviews, truth GeoJSON): {wall:.2f} s wall, {cpu:.2f} s CPU"
        )
    training_sample(0, family=args.family)
    _, wall, cpu = _timed(
        lambda: [training_sample(s, family=args.family) for s in range(1, args.samples + 1)]
    )
    print(
        f"training_sample 256 px {args.family}: {1000 * wall / args.samples:.1f} ms wall, {1000 * cpu / args.samples:.1f} ms CPU per sample"
    )


if __name__ == "__main__":
    main()
