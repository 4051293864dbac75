"""``ccount demo [--out DIR]``: synthesize a small world and run everything on it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "the main job on a small synthetic world (no arguments needed): shipments table + report"


def configure(p: argparse.ArgumentParser) -> None:
    from ..run.demo import DEMO_FIRST, DEMO_SEED
    from ._detect_options import add_detect_options

    p.add_argument("--out", type=Path, default=Path("demo_out"), metavar="DIR",
                   help="output folder (default: demo_out)")  # fmt: skip
    p.add_argument("--first", type=int, default=DEMO_FIRST, metavar="K",
                   help=f"voyages of labels/voyages.csv to simulate (default: {DEMO_FIRST})")  # fmt: skip
    p.add_argument("--seed", type=int, default=DEMO_SEED, metavar="N",
                   help=f"world seed (default: {DEMO_SEED})")  # fmt: skip
    add_detect_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..run.demo import demo
    from ._detect_options import detect_config
    from ._print import print_shipments
    from .run import print_summary

    if args.first < 1:
        raise ConfigError(f"--first {args.first}: simulate at least one voyage")
    res = demo(args.out, first=args.first, seed=args.seed, detect=detect_config(args),
               progress=not args.no_progress)  # fmt: skip
    print_summary(res.summary)
    print()
    print(f"Shipments (world seed {args.seed}; 'true' = the simulated load):")
    print_shipments(res.run_dir / "shipments.csv", res.run_dir / "totals.json", truth=res.truth)
    print()
    print(f"report: {(res.run_dir / 'report.html').resolve()}")
    if not res.summary.ok:
        print(f"ccount demo: {len(res.summary.failed)} scene(s) failed", file=sys.stderr)
        return 2  # partial failure: the exit-code convention of detector.cli.main
    return 0
