"""Measure the shipped detector on a held-out synthetic test set.

Usage (from the repository root)::

    .venv/bin/python scripts/eval_detector.py [--out /tmp/ccount-testset] [--seeds 7001 7002]
        [--model models/ccount-centernet.pt] [--size 1600] [--snow 0.5] [--family flat]

The test set is ``ccount synth scene`` output for ports rajin, vostochny and dunai at GSD
0.3, 0.4, 0.5 and 0.6 m, with scene seeds 7001+ — scene seeds are never used in training
(training tiles come from ``training_sample`` seeds >= 1,000,000, a different renderer
entry point). Half the scenes are 16-bit 4-band products. ``--snow C`` renders the same
scenes in winter (snow and sea ice over a fraction C of the ground, tops and water; give it
its own ``--out``). ``--family`` renders the same layouts in another rendering family
(``ccount synth scene --family``; default classic, the test set's first family; the default
``--out`` gets the family's name). It runs ``ccount detect`` and ``ccount eval`` as a user
would and prints the overall, per-GSD and per-region metrics.
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
    p.add_argument("--out", type=Path, default=None, help="default /tmp/ccount-testset[-FAMILY]")
    p.add_argument("--seeds", type=int, nargs="+", default=[7001])
    p.add_argument("--ports", nargs="+", default=["rajin", "vostochny", "dunai"])
    p.add_argument("--gsds", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6])
    p.add_argument("--model", type=Path, default=ROOT / "models" / "ccount-centernet.pt")
    p.add_argument("--size", type=int, default=1600)
    p.add_argument("--snow", type=float, default=0.0, help="winter test set: snow/ice cover 0..1")
    p.add_argument("--family", default="classic", help="rendering family of the scenes")
    args = p.parse_args(argv)
    if args.out is None:
        fam = "" if args.family == "classic" else f"-{args.family}"
        args.out = Path(f"/tmp/ccount-testset{fam}")
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
                    extra += ["--family", args.family] if args.family != "classic" else []
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
    by_gsd: dict[float, list[int]] = {}
    for sc in data["scenes"]:
        gsd = json.loads(Path(sc["truth"]).read_text())["properties"]["gsd_m"]
        t = by_gsd.setdefault(round(float(gsd), 1), [0, 0, 0, 0, 0])
        for i, k in enumerate(("tp", "fp", "fn", "pred_visible", "truth_visible")):
            t[i] += sc[k]
    print(f"{args.family}: F1 by GSD (m)")
    for gsd, (tp, fp, fn, pv, tv) in sorted(by_gsd.items()):
        f1 = 2 * tp / max(2 * tp + fp + fn, 1)
        print(f"  {gsd:.1f}: F1 {f1:.3f}  P {tp / max(tp + fp, 1):.3f}  R {tp / max(tp + fn, 1):.3f}"
              f"  count {100 * (pv - tv) / max(tv, 1):+.1f} %")  # fmt: skip
    print("  by region: " + ", ".join(f"{r} {m['f1']}" for r, m in data["by_region"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
