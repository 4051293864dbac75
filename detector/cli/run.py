"""``ccount run IMAGERY_DIR --voyages CSV --out DIR``: detect, reconcile, report; resumable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["HELP", "configure", "run", "add_detect_options", "detect_config"]

HELP = "detect every scene of a folder, reconcile with the voyage log, write the report (resumable)"


def add_detect_options(p: argparse.ArgumentParser) -> None:
    """The options ``ccount detect`` takes for the model and tiling: same names, and the
    defaults of :class:`detector.detect.DetectConfig` (so they cannot drift apart)."""
    from ..detect import DetectConfig

    d = DetectConfig()
    p.add_argument("--model", type=Path, default=None, metavar="PATH",
                   help="weights file (default: models/ccount-centernet.pt)")  # fmt: skip
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d.device,
                   help=f"compute device; auto picks CUDA when present (default: {d.device})")  # fmt: skip
    p.add_argument("--tile", type=int, default=d.tile_px, metavar="N",
                   help=f"tile size in model pixels (default: {d.tile_px})")  # fmt: skip
    p.add_argument("--overlap", type=int, default=d.overlap_px, metavar="N",
                   help=f"tile overlap in pixels (default: {d.overlap_px})")  # fmt: skip
    p.add_argument("--batch-size", type=int, default=d.batch_size, metavar="N",
                   help=f"tiles per batch (default: {d.batch_size})")  # fmt: skip
    p.add_argument("--bands", default=None, metavar="B,B,B",
                   help="1-based bands to use (1 or 3), e.g. 1,2,3 (default: the RGB bands)")  # fmt: skip
    p.add_argument("--aoi", action="store_true", help="only process tiles inside the port AOI")
    p.add_argument("--score-thresh", type=float, default=d.score_thresh, metavar="F",
                   help=f"minimum detection score, 0..1 (default: {d.score_thresh})")  # fmt: skip
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads for the model (default: all cores)")  # fmt: skip


def detect_config(args: argparse.Namespace):
    from ..detect import DetectConfig
    from .detect import parse_bands

    return DetectConfig(
        model_path=args.model,
        device=args.device,
        tile_px=args.tile,
        overlap_px=args.overlap,
        batch_size=args.batch_size,
        bands=parse_bands(args.bands),
        aoi_only=args.aoi,
        score_thresh=args.score_thresh,
        num_threads=args.threads,
    )


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("imagery", type=Path, metavar="IMAGERY_DIR",
                   help="folder of GeoTIFF scenes (searched recursively)")  # fmt: skip
    p.add_argument("--voyages", type=Path, required=True, metavar="CSV",
                   help="voyage log (voyage,ship,rajin_date), e.g. labels/voyages.csv")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="run folder")
    p.add_argument("--assumptions", type=Path, default=None, metavar="FILE",
                   help="JSON laid over labels/munitions_assumptions.json")  # fmt: skip
    add_detect_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def print_summary(summary) -> None:
    for line in summary.lines():
        print(line)


def run(args: argparse.Namespace) -> int:
    from ..run import RunConfig
    from ..run import run as run_all

    config = RunConfig(
        imagery_dir=args.imagery,
        voyages_path=args.voyages,
        out_dir=args.out,
        detect=detect_config(args),
        assumptions_path=args.assumptions,
        progress=not args.no_progress,
    )
    summary = run_all(config)
    print_summary(summary)
    if not summary.ok:
        print(f"ccount run: {len(summary.failed)} scene(s) failed", file=sys.stderr)
        return 1
    return 0
