"""False containers on look-alike scenes: the model must reject buses, trucks, boxcars,
hatch covers, roofs, greenhouses and solar panels by itself.

Usage (from the repository root)::

    .venv/bin/python scripts/eval_lookalikes.py [--out /tmp/ccount-lookalikes]
        [--model models/ccount-centernet.pt] [--families classic flat ...] [--size-m 320]
        [--scenes bus_depot truck_park ...] [--seed 0] [--json FILE] [--tta] [--verify V]

Each scene of :data:`detector.synth.lookalike_scenes.LOOKALIKE_SCENES` (bus depot of 50
buses, truck park, rail yard of boxcars and tank cars, bulk carrier at berth, town blocks,
solar/greenhouse field) is rendered in every rendering family of the registry (default) as
an 8-bit GeoTIFF ``--size-m`` metres square (320 m: 10.24 ha) at GSD 0.3, 0.4 or 0.5 m
(rotating over the scenes), placed in open sea far from every port AOI (the AOI cannot help). It then runs
``ccount detect`` on them as a user would (``--verify V``: with the crop verifier ``V``,
predictions in ``<out>/pred-verify``); every detection is a false container. Prints a
table (false containers per scene and per hectare) and writes ``<out>/lookalikes.json``.
Scene seeds ``LOOKALIKE_SEED_BASE + seed * 100 + k`` are never used in training.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CCOUNT = [sys.executable, "-m", "detector"]
LOOKALIKE_SEED_BASE = 600_000
GSDS = (0.3, 0.4, 0.5)
EPSG = 32652  # UTM 52N; scenes sit in the sea east of Korea, no port AOI near


def render_scenes(out: Path, families, scenes, size_m: float, seed: int) -> list[dict]:
    """Write one GeoTIFF per (scene, family) under ``out/scenes``; return their records."""
    from affine import Affine

    from detector.imagery import write_geotiff
    from detector.synth.lookalike_scenes import LookalikeScene
    from detector.synth.training import training_sample

    rows = []
    (out / "scenes").mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(scenes):
        gsd = GSDS[(k + seed) % len(GSDS)]
        size_px = max(int(round(size_m / gsd)), 32)
        for fam in families:
            path = out / "scenes" / f"{name}_{fam}.tif"
            s = LOOKALIKE_SEED_BASE + seed * 100 + k
            ts = training_sample(s, size_px=size_px, out_gsd_m=gsd, family=fam,
                                 compose=LookalikeScene(name))  # fmt: skip
            assert len(ts.containers) == 0, name  # a look-alike scene holds no container
            img = np.clip(np.round(ts.image * 255), 1, 255).astype(np.uint8)
            transform = Affine(gsd, 0, 560_000 + 2000 * k, 0, -gsd, 4_200_000)
            write_geotiff(path, img, transform=transform, crs=f"EPSG:{EPSG}")
            area_ha = (size_px * gsd) ** 2 / 1e4
            rows.append({"scene": name, "family": fam, "seed": s, "gsd_m": gsd, "size_px": size_px,
                         "area_ha": round(area_ha, 2), "file": str(path)})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    from detector.synth.families.registry import FAMILIES
    from detector.synth.lookalike_scenes import LOOKALIKE_SCENES

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("/tmp/ccount-lookalikes"))
    p.add_argument("--model", type=Path, default=ROOT / "models" / "ccount-centernet.pt")
    p.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    p.add_argument("--scenes", nargs="+", default=list(LOOKALIKE_SCENES), choices=LOOKALIKE_SCENES)
    p.add_argument("--size-m", type=float, default=320.0, help="scene side in metres (320: ~10 ha)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="default <out>/lookalikes.json")
    p.add_argument("--tta", action="store_true", help="detect with the mirrored passes "
                   "(ccount detect --tta, at the weights' threshold for it)")  # fmt: skip
    p.add_argument("--verify", type=Path, default=None, metavar="V",
                   help="detect with --verify --verifier V (the crop verifier)")  # fmt: skip
    args = p.parse_args(argv)
    rows = render_scenes(args.out, args.families, args.scenes, args.size_m, args.seed)
    pred = args.out / ("pred" if args.verify is None else "pred-verify")
    verify = [] if args.verify is None else ["--verify", "--verifier", str(args.verify)]
    subprocess.run([*CCOUNT, "detect", *(r["file"] for r in rows), "--out", str(pred),
                    "--model", str(args.model), "--no-progress",
                    *(["--tta"] if args.tta else []), *verify], check=True, cwd=ROOT)  # fmt: skip
    for r in rows:
        counts = json.loads((pred / f"{Path(r['file']).stem}.counts.json").read_text())
        r["false_containers"] = int(counts["totals"]["visible"])
        r["false_per_ha"] = round(r["false_containers"] / r["area_ha"], 3)
    summary = {}
    for fam in args.families:
        sel = [r for r in rows if r["family"] == fam]
        n = sum(r["false_containers"] for r in sel)
        summary[fam] = {
            "scenes": len(sel),
            "false_per_scene": round(n / max(len(sel), 1), 2),
            "false_per_ha": round(n / max(sum(r["area_ha"] for r in sel), 1e-9), 3),
            "worst": max(sel, key=lambda r: r["false_containers"])["scene"] if sel else None,
        }
    report = {
        "model": str(args.model),
        "verifier": str(args.verify or ""),
        "size_m": args.size_m,
        "scenes": rows,
        "by_family": summary,
    }
    out_json = args.json or args.out / "lookalikes.json"
    from detector._io import atomic_write_text

    atomic_write_text(out_json, json.dumps(report, indent=1) + "\n")
    print(f"{'scene':18} " + " ".join(f"{f:>9}" for f in args.families) + "   (false containers)")
    for name in args.scenes:
        got = {r["family"]: r for r in rows if r["scene"] == name}
        print(f"{name:18} " + " ".join(f"{got[f]['false_containers']:>9}" for f in args.families))
    print(
        f"{'per scene':18} "
        + " ".join(f"{summary[f]['false_per_scene']:>9}" for f in args.families)
    )
    print(f"{'per ha':18} " + " ".join(f"{summary[f]['false_per_ha']:>9}" for f in args.families))
    print(f"wrote {out_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
