"""``ccount munitions``: the rounds-of-munitions range for a number of containers."""

from __future__ import annotations

import argparse
import json

HELP = "rounds-of-munitions range for a number of containers, from editable assumptions"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--containers", type=float, required=True, metavar="N", help="number of containers"
    )
    p.add_argument(
        "--assumptions",
        metavar="FILE",
        help="JSON laid over labels/munitions_assumptions.json (may hold only changed figures)",
    )


def run(args: argparse.Namespace) -> int:
    from ..reconcile.munitions import load_assumptions, munitions_summary

    summary = munitions_summary(args.containers, load_assumptions(args.assumptions))
    print(json.dumps(summary, indent=2))
    return 0
