"""Measure the shipped detector on a held-out synthetic test set.

Usage (from the repository root)::

    .venv/bin/python scripts/eval_detector.py [--out /tmp/ccount-testset] [--seeds 7001 7002]
        [--model models/ccount-centernet.pt] [--size 1600] [--snow 0.5]

The test set is ``ccount synth scene`` output for ports rajin, vostochny and dunai at GSD
0.3, 0.4, 0.5 and 0.6 m, with scene seeds 7001+ — scene seeds are never used in training
(training tiles come from ``training_sample`` seeds >= 1,000,000, a different renderer
entry point). Half the scenes are 16-bit 4-band products. ``--snow C`` renders the same
scenes in winter (snow and sea ice over a fraction C of the ground, tops and water; give it
its own ``--out``). It runs ``ccount detect`` and ``ccount eval`` as a user would and prints
the overall and per-GSD metrics.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CCOUNT = [sys.executable, "-m", "detector"]


def sh(args: list[str]) -> None:
    subprocess.run(args, check=True, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("/tmp/ccount-testset"))
    p.add_argument("--seeds", type=int, nargs="+", default=[7001])
    p.add_argument("--ports", nargs="+", default=["rajin", "vostochny", "dunai"])
    p.add_argument("--gsds", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6])
    p.add_argument("--model", type=Path, default=ROOT / "models" / "ccount-centernet.pt")
    p.add_argument("--size", type=int, default=1600)
    p.add_argument("--snow", type=float, default=0.0, help="winter test set: snow/ice cover 0..1")
    args = p.parse_args(argv)
    truth, pred = args.out / "truth", args.out / "pred"
    scenes: list[Path] = []
    for seed in args.seeds:
        for i, port in enumerate(args.ports):
            for j, gsd in enumerate(args.gsds):
                winter = f"_snow{args.snow:g}" if args.snow else ""
                d = truth / f"{port}_{gsd:.1f}_{seed}{winter}"
                if not any(d.glob("*.tif")):
                    extra = ["--bits", "16", "--bands", "4"] if (i + j) % 2 else []
                    extra += ["--snow", str(args.snow)] if args.snow else []
                    sh([*CCOUNT, "synth", "scene", "--port", port, "--seed", str(seed * 10 + j),
                        "--gsd", str(gsd), "--size", str(args.size), str(args.size),
                        "--out", str(d), *extra])  # fmt: skip
                scenes += sorted(d.glob("*.tif"))
    flat = truth / "all"
    flat.mkdir(parents=True, exist_ok=True)
    for s in scenes:  # eval pairs <scene>.detections.geojson with <scene>.geojson in one folder
        for src in (s, s.with_suffix(".geojson")):
            link = flat / src.name
            if not link.exists():
                link.symlink_to(src.resolve())
    sh([*CCOUNT, "detect", *map(str, scenes), "--out", str(pred), "--model", str(args.model),
        "--no-progress"])  # fmt: skip
    report = args.out / "eval.json"
    sh([*CCOUNT, "eval", str(pred), str(flat), "--json", str(report)])
    data = json.loads(report.read_text())
    print(json.dumps(data.get("overall", data), indent=1)[:3000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
