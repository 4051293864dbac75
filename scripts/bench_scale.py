"""Throughput of ``ccount detect`` on a local Dask cluster against the in-process run.

Usage (from the repository root)::

    .venv/bin/python scripts/bench_scale.py [--workers 1 2] [--scenes N] [--size PX]
        [--out /tmp/ccount-bench-scale] [--device cpu] [--batch-size 1]

Renders ``--scenes`` synthetic port scenes (``ccount synth scene``, ports in turn, 0.4 m,
``--size`` px square; kept in ``--out`` for the next call), then in this one process:

- the baseline: :func:`detector.detect.pipeline.detect_scenes` (the model loaded once, all
  cores, a scene's writing overlapped with the next scene's reading);
- for each N in ``--workers``: :func:`detector.run.cluster.detect_on_cluster` on a
  ``LocalCluster`` of N worker processes (cores split between them), timed end to end:
  starting the cluster, loading the model in each worker, every scene, closing.

Prints native Mpx/s for each, the ratio to the baseline, and the scaling efficiency
(throughput with N workers / (N x throughput with 1 worker)). Outputs are checked equal to
the baseline's (detections GeoJSON byte for byte). On a 2-core machine the cluster cannot
beat the in-process run by much: it measures the overhead and that the cores are shared,
not oversubscribed; on a many-core or GPU machine run ``--workers 1 4 8 16`` (with ``--device cuda
--batch-size 32`` on a GPU).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORTS = ("rajin", "vostochny", "dunai")


def render(out: Path, n: int, size: int) -> list[Path]:
    """The scenes, each rendered by its own seeded subprocess, as many at once as cores."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> list[Path]:
        d = out / "scenes" / f"s{i}"
        if not any(d.glob("*.tif")):
            subprocess.run(
                [sys.executable, "-m", "detector", "synth", "scene", "--port", PORTS[i % 3],
                 "--seed", str(90000 + i), "--gsd", "0.4", "--size", str(size), str(size),
                 "--out", str(d)],
                check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        return sorted(d.glob("*.tif"))

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return [p for ps in pool.map(one, range(n)) for p in ps]


def geojson(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.detections.geojson"))}


def containers(outcomes) -> int:
    return sum(o.counts["totals"]["visible"] for o in outcomes)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--scenes", type=int, default=8)
    p.add_argument("--size", type=int, default=3000)
    p.add_argument("--out", type=Path, default=Path("/tmp/ccount-bench-scale"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=1, help="tiles per model call (32 on a GPU)")
    args = p.parse_args(argv)

    from detector.detect.pipeline import DetectConfig, detect_scenes
    from detector.imagery.raster import open_scene
    from detector.run.cluster import ClusterConfig, detect_on_cluster

    scenes = render(args.out, args.scenes, args.size)
    mpx = sum(open_scene(s).width * open_scene(s).height for s in scenes) / 1e6
    config = DetectConfig(device=args.device, batch_size=args.batch_size)
    print(f"{len(scenes)} scenes, {mpx:.0f} native Mpx in all")

    base_out = args.out / "inproc"
    t0 = time.perf_counter()
    outcomes = detect_scenes(scenes, base_out, config, progress=False)
    base_s = time.perf_counter() - t0
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    reference = geojson(base_out)
    ref_n = containers(outcomes)
    print(f"in process:  {base_s:6.1f} s  {mpx / base_s:5.2f} Mpx/s  (baseline)")

    one = None
    for n in args.workers:
        out = args.out / f"workers{n}"
        t0 = time.perf_counter()
        outcomes = detect_on_cluster(scenes, out, config, ClusterConfig(workers=n), progress=False)
        took = time.perf_counter() - t0
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
        same = geojson(out) == reference
        # on a GPU the outputs of workers with another thread split than the in-process run
        # agree in count but not bit for bit (last float digits): say by how much
        same = "yes" if same else f"no: {containers(outcomes)} containers vs {ref_n}"
        rate = mpx / took
        one = rate if n == 1 else one
        eff = f"  efficiency {rate / (n * one):.2f}" if one else ""
        print(f"{n:2d} worker(s): {took:6.1f} s  {rate:5.2f} Mpx/s  "
              f"ratio {base_s / took:4.2f}x in-process{eff}  outputs identical: {same}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
