"""``--tta``'s floor: the mirrored passes only on tiles where the plain pass scores something.

Usage (from the repository root)::

    .venv/bin/python scripts/bench_tta.py --scenes DIR [DIR ...] [--floor 0.05]
        [--sea 8000] [--threads 2] [--model PATH] [--out /tmp/ccount-tta]

Part 1 (the same answer): every ``*.tif`` under each ``--scenes`` folder is detected with
``--tta`` twice in one process, every tile mirrored (floor 0, the behaviour before the floor)
and at ``--floor``. Per folder it prints the share of tiles mirrored at the floor, the
detections without a partner in the other run (1.25 m, as ``scripts/bench_seams.py``
matches) and the model time of both.

Part 2 (speed, ``--sea N``): the first scene (by name) pasted into the middle of an ``N`` px square of
its own water (``bench_seams.paste_in_sea``: the port's water level with 3 % noise), as a
port sits in a real strip of sea. Timed end to end in the same process: the plain pass,
``--tta`` at floor 0 and ``--tta`` at ``--floor``; prints each one's native Mpx/s, its time
over the plain pass's, and the detections apart between the two ``--tta`` runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def _scenes(folder: Path) -> list[Path]:
    """The GeoTIFFs under ``folder``, each once (``eval_detector.py``'s ``all/`` links them)."""
    return sorted({p.resolve() for p in Path(folder).rglob("*.tif")})


def _detector(args, **kw):
    from detector.detect.pipeline import DetectConfig, load_detector

    cfg = DetectConfig(model_path=args.model, device="cpu", num_threads=args.threads, **kw)
    return load_detector(cfg), cfg


def _run(det, cfg, scene: Path, out: Path):
    """(containers, model seconds, wall seconds) of one scene."""
    from detector.detect.pipeline import detect_scene
    from detector.labels.evaluate import load_containers

    t0 = time.perf_counter()
    res = detect_scene(det, scene, out, cfg)
    wall = time.perf_counter() - t0
    if not res.ok:
        raise SystemExit(f"{scene}: {res.error}")
    return load_containers(res.detections_path, truth=False), res.counts["timing_s"]["model"], wall


def same_answer(args) -> list[dict]:
    from bench_seams import differ

    every, cfg0 = _detector(args, tta=True, tta_floor=0.0)
    gated, cfg1 = _detector(args, tta=True, tta_floor=args.floor)
    rows = []
    for folder in args.scenes:
        scenes = _scenes(folder)
        row = {"folder": str(folder), "scenes": len(scenes), "boxes": 0, "apart": 0,
               "model_s_every": 0.0, "model_s_floor": 0.0}  # fmt: skip
        before = list(gated.predictor.tta_tiles)
        for scene in scenes:
            a, ma, _ = _run(every, cfg0, scene, args.out / "every" / Path(folder).name)
            b, mb, _ = _run(gated, cfg1, scene, args.out / "floor" / Path(folder).name)
            row["boxes"] += len(a)
            row["apart"] += differ(a, b)
            row["model_s_every"] += ma
            row["model_s_floor"] += mb
        mirrored, seen = (n - m for n, m in zip(gated.predictor.tta_tiles, before, strict=True))
        row["tiles_mirrored"] = f"{mirrored} of {seen}"
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def speed(args) -> dict:
    from bench_seams import differ, paste_in_sea

    from detector.imagery.raster import open_scene

    src = _scenes(args.scenes[0])[0]
    big = args.out / "sea" / src.name
    if not big.exists():
        big.parent.mkdir(parents=True, exist_ok=True)
        paste_in_sea(src, big, args.sea, 128)
    mpx = open_scene(big).width * open_scene(big).height / 1e6
    runs = {}
    for name, kw in (("plain", {}), ("tta, every tile", {"tta": True, "tta_floor": 0.0}),
                     (f"tta, floor {args.floor:g}", {"tta": True, "tta_floor": args.floor})):  # fmt: skip
        det, cfg = _detector(args, **kw)
        _run(det, cfg, big, args.out / "warm")  # first run: page cache, oneDNN kernels
        dets, model_s, wall = _run(
            det, cfg, big, args.out / name.replace(" ", "_").replace(",", "")
        )
        runs[name] = {"wall_s": wall, "model_s": model_s, "dets": dets,
                      "tiles": getattr(det.predictor, "tta_tiles", None)}  # fmt: skip
    base = runs["plain"]["wall_s"]
    print(f"{src.name} in a {args.sea} px sea: {mpx:.1f} Mpx native")
    for name, r in runs.items():
        print(f"  {name:18} {r['wall_s']:6.1f} s  {mpx / r['wall_s']:5.2f} Mpx/s  "
              f"{r['wall_s'] / base:4.2f}x the plain time  model {r['model_s']:.1f} s  "
              f"{len(r['dets'])} containers")  # fmt: skip
    a, b = runs["tta, every tile"]["dets"], runs[f"tta, floor {args.floor:g}"]["dets"]
    tiles = runs[f"tta, floor {args.floor:g}"]["tiles"]
    print(
        f"  floor vs every tile: {differ(a, b)} detections apart; tiles mirrored at the floor "
        f"{tiles[0] // 2} of {tiles[1] // 2}"
    )  # two runs each (warm-up + timed)
    return {k: {kk: vv for kk, vv in v.items() if kk != "dets"} for k, v in runs.items()}


def main(argv: list[str] | None = None) -> int:
    from detector.detect.plan import TTA_FLOOR

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenes", type=Path, nargs="+", required=True)
    p.add_argument("--floor", type=float, default=TTA_FLOOR)
    p.add_argument("--sea", type=int, default=0, help="side of the sea scene, px (0: no part 2)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--out", type=Path, default=Path("/tmp/ccount-tta"))
    p.add_argument("--skip-same", action="store_true", help="part 2 only")
    args = p.parse_args(argv)
    if not args.skip_same:
        same_answer(args)
    if args.sea:
        speed(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
