"""``ccount reconcile RUN_DIR [--voyages CSV]``: per-shipment estimates from a run's counts."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "re-reconcile a run folder's counts with the voyage log (shipments.csv, totals.json)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                   help="a `ccount run` folder (or a `ccount detect --out` folder)")  # fmt: skip
    p.add_argument("--voyages", type=Path, default=None, metavar="CSV",
                   help="voyage log (default: the copy in RUN_DIR)")  # fmt: skip
    p.add_argument("--assumptions", type=Path, default=None, metavar="FILE",
                   help="JSON laid over labels/munitions_assumptions.json "
                   "(default: the run's saved assumptions)")  # fmt: skip
    p.add_argument("--no-report", action="store_true", help="do not re-render report.html")


def run(args: argparse.Namespace) -> int:
    from .._io import atomic_write_text
    from ..labels.voyages import read_voyages
    from ..reconcile.munitions import load_assumptions, saved_assumptions_json
    from ..run.batch import reconcile_run
    from ..run.state import run_lock
    from ._print import print_shipments

    voyages = assumptions = None
    if args.voyages is not None:
        voyages = read_voyages(args.voyages)
    if args.assumptions is not None:
        assumptions = load_assumptions(args.assumptions)
    with run_lock(args.run_dir, create=False):  # no `ccount run` may write it meanwhile
        paths = reconcile_run(args.run_dir, voyages=voyages, assumptions=assumptions,
                              report=not args.no_report)  # fmt: skip
        # the run folder now reflects these inputs: keep them for `ccount report`
        if args.voyages is not None:
            atomic_write_text(
                args.run_dir / "voyages.csv", args.voyages.read_text(encoding="utf-8-sig")
            )
        if assumptions is not None:
            atomic_write_text(
                args.run_dir / "assumptions.json", saved_assumptions_json(assumptions)
            )
    print_shipments(args.run_dir / "shipments.csv", args.run_dir / "totals.json")
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0
