"""Render a synthetic world (as ``ccount synth world``) in another rendering family.

Usage::

    python scripts/family_world.py --voyages labels/voyages.csv --out W --seed 21 --first 16 \\
        --family flat
    ccount run W/scenes --voyages V --out RUN --heights shadow     # V: the first 16 voyages
    python scripts/eval_reconcile.py W --run RUN --targets 17 -v

The same plan (voyages, loads, ships, scenes, sun) as ``ccount synth world`` with that seed:
each scene's spec gets ``family`` (:mod:`detector.synth.families`). A family that draws no
cloud or snow renders those scenes without them (counted in the last line printed). Used to
measure the reconciler on a family the detector was not trained on (issue 17).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    import detector.synth.world as world
    from detector.errors import ConfigError

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--voyages", type=Path, required=True, help="voyage log CSV")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--first", type=int, default=None, help="only the first K voyages")
    p.add_argument("--family", required=True, help="rendering family, e.g. flat or photo")
    args = p.parse_args(argv)
    render, cleared = world.render_scene, []

    def render_in_family(spec):
        try:
            return render(replace(spec, family=args.family))
        except ConfigError:  # the family draws no cloud or snow
            cleared.append(spec)
            return render(replace(spec, family=args.family, cloud=0.0, snow=0.0))

    world.render_scene = render_in_family  # build_world's own plan, drawn in the family
    try:
        w = world.build_world(args.voyages, args.out, args.seed, first=args.first)
    finally:
        world.render_scene = render
    print(f"{args.out}/world.json: {len(w['voyages'])} voyages, {len(w['scenes'])} scenes in "
          f"{args.family}; {len(cleared)} drawn without their cloud or snow")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
