"""``ccount review labels ROUND --out LABELS``: the reviewed train units as a label set."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "write the reviewed train units as a label set for ccount train --labels (loss masked)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("round", type=Path, metavar="ROUND", help="a review round folder")
    p.add_argument("--out", type=Path, required=True, metavar="LABELS", help="label set folder")


def run(args: argparse.Namespace) -> int:
    from ..review.labels import round_labels

    s = round_labels(args.round, args.out)
    print(f"{s['containers']} containers in {s['units']} reviewed units of {s['scenes']} "
          f"scenes written to {args.out}")  # fmt: skip
    return 0
