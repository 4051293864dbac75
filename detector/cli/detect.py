"""``ccount detect SCENE... --out DIR``: detect, locate and count containers in scenes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError

__all__ = ["HELP", "configure", "run", "parse_bands"]

HELP = "detect containers and ship hulls in scenes; write detections (GeoJSON, GPKG) and counts"


def parse_bands(text: str | None) -> tuple[int, ...] | None:
    """``"1,2,3"`` -> ``(1, 2, 3)``; None stays None. Raises :class:`ConfigError`."""
    if text is None:
        return None
    try:
        bands = tuple(int(b) for b in text.split(",") if b.strip())
    except ValueError:
        raise ConfigError(
            f"--bands {text!r}: expected comma-separated band numbers, e.g. 1,2,3"
        ) from None
    if len(bands) not in (1, 3) or min(bands) < 1:
        raise ConfigError(f"--bands {text!r}: select 1 or 3 bands numbered from 1, e.g. 1,2,3")
    return bands


def _ships(ships: list[dict]) -> str:
    """ "Angara, 2 unknown ships" style summary."""
    if not ships:
        return "no ship"
    names = [s["name"] for s in ships if s["name"] != "unknown"]
    unknown = len(ships) - len(names)
    if unknown:
        names.append(f"{unknown} unknown ship{'s' if unknown > 1 else ''}")
    return ", ".join(names)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenes", nargs="+", type=Path, metavar="SCENE", help="GeoTIFF scene files")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    p.add_argument("--model", type=Path, default=None, metavar="PATH",
                   help="weights file (default: models/ccount-centernet.pt)")  # fmt: skip
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="compute device; auto picks CUDA when present (default: auto)")  # fmt: skip
    p.add_argument(
        "--tile",
        type=int,
        default=512,
        metavar="N",
        help="tile size in model pixels (default: 512)",
    )
    p.add_argument(
        "--overlap", type=int, default=64, metavar="N", help="tile overlap in pixels (default: 64)"
    )
    p.add_argument(
        "--batch-size", type=int, default=8, metavar="N", help="tiles per batch (default: 8)"
    )
    p.add_argument("--bands", default=None, metavar="B,B,B",
                   help="1-based bands to use (1 or 3), e.g. 1,2,3 (default: the RGB bands)")  # fmt: skip
    p.add_argument("--aoi", action="store_true", help="only process tiles inside the port AOI")
    p.add_argument("--score-thresh", type=float, default=0.42, metavar="F",
                   help="minimum detection score, 0..1 (default: 0.42, tuned on validation scenes)")  # fmt: skip
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads for the model (default: all cores)")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..detect import DetectConfig, detect_scenes

    config = DetectConfig(
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
    outcomes = detect_scenes(args.scenes, args.out, config, progress=not args.no_progress)
    bad = [o for o in outcomes if not o.ok]
    for o in outcomes:
        if o.ok:
            t = o.counts["totals"]
            ships = _ships(o.counts["ships"])
            print(
                f"{o.scene_id}: {t['visible']} containers visible ({t['by_kind']['20ft']} x 20ft, "
                f"{t['by_kind']['40ft']} x 40ft), est. {t['est']:.0f} with tiers; {ships}; "
                f"{o.counts['timing_s']['total']:.1f} s on {o.counts['device']}"
            )
    print(f"{len(outcomes) - len(bad)} of {len(outcomes)} scenes done; outputs in {args.out}")
    if bad:
        for o in bad:
            print(f"ccount detect: error: {o.error}", file=sys.stderr)
        print(f"ccount detect: {len(bad)} scene(s) failed", file=sys.stderr)
        return 2
    return 0
