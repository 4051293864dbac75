"""``ccount eval PRED_DIR TRUTH_DIR``: precision, recall, F1, count and TEU error vs truth."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "compare detections with truth: precision, recall, F1, count/TEU error, per region"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("pred_dir", type=Path, metavar="PRED_DIR",
                   help="folder with <scene>.detections.geojson (from ccount detect)")  # fmt: skip
    p.add_argument("truth_dir", type=Path, metavar="TRUTH_DIR",
                   help="folder with truth <scene>.geojson, or with a truth/ subfolder")  # fmt: skip
    p.add_argument("--json", type=Path, default=None, metavar="OUT",
                   help="also write the full report as JSON to OUT")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from .._io import atomic_write_text, check_output_file
    from ..labels.evaluate import evaluate_dirs, format_table

    if args.json:
        check_output_file(args.json)  # before evaluating
    report = evaluate_dirs(args.pred_dir, args.truth_dir)
    print(format_table(report))
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
        print(f"report written to {args.json}")
    return 0
