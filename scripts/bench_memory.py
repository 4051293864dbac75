"""Peak memory of ``ccount detect`` on large scenes: it must not grow with the scene.

Usage::

    python scripts/bench_memory.py [--sizes 3000 12000] [--gsd 0.4] [--model PATH]
        [--threads 2] [--work DIR] [--verify]

For each size it writes (once, cached in ``--work``) a square synthetic GeoTIFF with
``scripts/bench_detect.py``'s :func:`make_scene`, then runs ``ccount detect`` on it in a
subprocess under ``/usr/bin/time -v`` (apt package ``time``) and prints the peak resident
set size ("Maximum resident set size"). Without ``/usr/bin/time`` it falls back to the
child's ``ru_maxrss`` from :func:`resource.getrusage`. Target: <= 1.5 GB at 12,000 x 12,000.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_detect import SCENE_TIME, make_scene, model_file  # noqa: E402

CCOUNT = Path(sys.executable).parent / "ccount"


def peak_rss_mb(cmd: list[str]) -> tuple[float, float, str]:
    """(peak RSS in MB, wall seconds, how measured) of running ``cmd`` to completion."""
    time_bin = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    t0 = time.perf_counter()
    if time_bin:
        p = subprocess.run([time_bin, "-v", *cmd], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"bench: {' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
        if m:
            return int(m.group(1)) / 1024.0, wall, "/usr/bin/time -v"
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # largest child so far
    return kb / 1024.0, wall, "getrusage(RUSAGE_CHILDREN).ru_maxrss"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[3000, 12000])
    ap.add_argument("--gsd", type=float, default=0.4)
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ccount-bench")
    ap.add_argument("--verify", action="store_true", help="ccount detect --verify")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    weights, origin = model_file(args.model, args.work)
    print(f"model {weights} ({origin}){', --verify' if args.verify else ''}")
    for size in args.sizes:
        scene = make_scene(
            args.work / f"rajin_{SCENE_TIME}_{size}px_{args.gsd:.2f}m.tif", size, args.gsd
        )
        out = args.work / f"mem_out_{size}"
        cmd = [str(CCOUNT), "detect", str(scene), "--out", str(out), "--model", str(weights),
               "--device", "cpu", "--threads", str(args.threads), "--no-progress",
               *(["--verify"] if args.verify else [])]  # fmt: skip
        rss, wall, how = peak_rss_mb(cmd)
        print(
            f"{size} x {size} px at {args.gsd} m ({size * size / 1e6:.0f} Mpx, file "
            f"{scene.stat().st_size / 1e6:.0f} MB): peak RSS {rss:.0f} MB ({how}), {wall:.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
