"""``ccount review simulate ROUND --truth DIR``: answer a round from truth files."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "answer every pending review unit from truth GeoJSON, as a reviewer would (tests, measuring)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("round", type=Path, metavar="ROUND", help="a review round folder")
    p.add_argument("--truth", type=Path, required=True, metavar="DIR",
                   help="folder with truth <scene>.geojson (ccount synth)")  # fmt: skip
    p.add_argument("--error-rate", type=float, default=0.0, metavar="E",
                   help="share of decisions answered wrongly (default 0)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from ..review.simulate import simulate_round

    s = simulate_round(args.round, args.truth, error_rate=args.error_rate, seed=args.seed)
    print(f"{s.units} units complete: {s.accepted} accepted, {s.rejected} rejected, "
          f"{s.kind_fixed} kinds fixed, {s.moved} moved, {s.added} added, {s.flipped} flipped")  # fmt: skip
    return 0
