"""Stage 2 of the shipped recipe: whole synthetic port scenes as a label set.

Usage: .venv/bin/python scripts/make_finetune_set.py [--out imagery/generated/finetune] [--n 60] [--jobs 2]
    [--families classic=1,flat=1,photo=1] [--winter 0.3]

Writes ``ccount synth scene`` output (GeoTIFF + truth GeoJSON) for scene seeds 50000+ (the
detector test set uses 70000+; training tiles use ``training_sample`` seeds >= 1,000,000),
cycling the three ports, random GSD 0.31-0.6 m, every other scene a 16-bit 4-band product.
Stage 2 fine-tunes the stage-1 weights on these with ``ccount train --init ... --labels ...``
so the model sees whole rendered port scenes (water, piers, rail, sun) as inference does.
``--families`` renders each scene in a family drawn from the mix by its seed (default: all
classic, as shipped). ``--winter P`` renders about a share P of the scenes in winter, snow
and sea ice over 0.3-0.8 of the ground (from each scene's own winter stream, so the other
scenes and every layout stay as without it; default 0, as the shipped stage 2).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detector.synth.families import pick_family  # noqa: E402
from detector.synth.mixes import parse_mix  # noqa: E402
from detector.synth.weather import draw_winter, winter_rng  # noqa: E402

PORTS = ("rajin", "vostochny", "dunai")
SEED_BASE = 50_000
SCENES = 60  # whole scenes of the shipped recipe's stage 2 (scene seeds SEED_BASE up)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "imagery" / "generated" / "finetune")
    p.add_argument("--n", type=int, default=SCENES)
    p.add_argument("--size", type=int, default=1600)
    p.add_argument("--jobs", type=int, default=2, help="scenes rendered at once")
    p.add_argument("--families", default=None, metavar="MIX", help="e.g. classic=1,flat=1")
    p.add_argument("--winter", type=float, default=0.0, help="share of winter scenes (0..1)")
    args = p.parse_args(argv)
    if not 0.0 <= args.winter <= 1.0:
        p.error(f"--winter {args.winter}: expected a share 0..1")
    mix = None if args.families is None else parse_mix(args.families)
    cmds = []
    for i in range(args.n):
        d = args.out / f"s{SEED_BASE + i}"
        if any(d.glob("*.geojson")):
            continue
        extra = ["--bits", "16", "--bands", "4"] if i % 2 else []
        if mix is not None:
            extra += ["--family", pick_family(SEED_BASE + i, mix)]
        cover = draw_winter(winter_rng(SEED_BASE + i, 0xF7), args.winter, 0.3, 0.8)
        extra += ["--snow", f"{cover:.3f}"] if cover else []
        cmds.append([sys.executable, "-m", "detector", "synth", "scene", "--port", PORTS[i % 3],
                     "--seed", str(SEED_BASE + i), "--size", str(args.size), str(args.size),
                     "--out", str(d), *extra])  # fmt: skip
    # each scene is its own seeded subprocess, so rendering them side by side changes nothing
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        list(pool.map(lambda cmd: subprocess.run(cmd, check=True, cwd=ROOT), cmds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
