"""``ccount report RUN_DIR``: render RUN_DIR/report.html again from the run's files."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "render the self-contained HTML report of a run folder"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a `ccount run` folder")
    p.add_argument("--quicklooks", type=int, default=12, metavar="N",
                   help="scenes to show with their detections (default: 12)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from ..report.html import write_report
    from ..run.state import run_lock

    with run_lock(args.run_dir, create=False):  # no `ccount run` may write it meanwhile
        path = write_report(args.run_dir, max_quicklooks=max(0, args.quicklooks))
    print(f"report: {path}")
    return 0
