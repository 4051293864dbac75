"""``ccount detect SCENE... --out DIR``: detect, locate and count containers in scenes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._detect_options import add_cluster_options, add_detect_options, cluster_config, detect_config

__all__ = ["HELP", "configure", "run"]

HELP = "detect containers and ship hulls in scenes; write detections (GeoJSON, GPKG) and counts"


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
    add_detect_options(p)
    add_cluster_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from .._io import check_output_dir
    from ..detect.finish import check_output_names
    from ..detect.pipeline import detect_scenes

    config = detect_config(args)
    config.check()
    check_output_names(args.scenes)
    check_output_dir(args.out)  # before any scene is computed
    cluster = cluster_config(args)
    if cluster is None:
        outcomes = detect_scenes(args.scenes, args.out, config, progress=not args.no_progress)
    else:
        from ..run.cluster import detect_on_cluster

        outcomes = detect_on_cluster(
            args.scenes, args.out, config, cluster, progress=not args.no_progress
        )
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
