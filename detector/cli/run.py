"""``ccount run IMAGERY_DIR --voyages CSV --out DIR``: detect, reconcile, report; resumable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._detect_options import add_cluster_options, add_detect_options, cluster_config, detect_config

__all__ = ["HELP", "configure", "run"]

HELP = "detect every scene of a folder, reconcile with the voyage log, write the report (resumable)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("imagery", type=Path, metavar="IMAGERY_DIR",
                   help="folder of GeoTIFF scenes (searched recursively)")  # fmt: skip
    p.add_argument("--voyages", type=Path, required=True, metavar="CSV",
                   help="voyage log (voyage,ship,rajin_date), e.g. labels/voyages.csv")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="run folder")
    p.add_argument("--assumptions", type=Path, default=None, metavar="FILE",
                   help="JSON laid over labels/munitions_assumptions.json")  # fmt: skip
    add_detect_options(p)
    add_cluster_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def print_summary(summary) -> None:
    for line in summary.lines():
        print(line)


def run(args: argparse.Namespace) -> int:
    from ..run.batch import RunConfig
    from ..run.batch import run as run_all

    config = RunConfig(
        imagery_dir=args.imagery,
        voyages_path=args.voyages,
        out_dir=args.out,
        detect=detect_config(args),
        assumptions_path=args.assumptions,
        progress=not args.no_progress,
        cluster=cluster_config(args),
    )
    summary = run_all(config)
    print_summary(summary)
    if not summary.ok:
        print(f"ccount run: {len(summary.failed)} scene(s) failed", file=sys.stderr)
        return 2  # partial failure: the exit-code convention of detector.cli.main
    return 0
