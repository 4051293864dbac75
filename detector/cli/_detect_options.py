"""Options shared by ``ccount detect``, ``run`` and ``demo``: model, device, tiling, bands.

Defaults come from :class:`detector.detect.pipeline.DetectConfig`, so the commands cannot drift apart.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError

__all__ = [
    "add_detect_options",
    "detect_config",
    "parse_bands",
    "add_cluster_options",
    "cluster_config",
]


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


def add_detect_options(p: argparse.ArgumentParser) -> None:
    """The options ``ccount detect`` takes for the model and tiling: same names, and the
    defaults of :class:`detector.detect.pipeline.DetectConfig` (so they cannot drift apart)."""
    from ..detect.pipeline import HEIGHTS, DetectConfig

    d = DetectConfig()
    p.add_argument("--model", type=Path, default=None, metavar="PATH",
                   help="weights file (default: models/ccount-centernet.pt)")  # fmt: skip
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=d.device,
                   help=f"compute device; auto picks CUDA when present (default: {d.device})")  # fmt: skip
    p.add_argument("--tile", type=int, default=d.tile_px, metavar="N",
                   help=f"tile size in model pixels (default: {d.tile_px}; raised to hold the "
                        "overlap the model needs)")  # fmt: skip
    p.add_argument("--overlap", type=int, default=d.overlap_px, metavar="N",
                   help="tile overlap in pixels (default and minimum: twice the input context "
                        "the model needs, from its weights' metadata; 160 for the shipped model; "
                        "a smaller value is raised, with a warning)")  # fmt: skip
    p.add_argument("--batch-size", type=int, default=d.batch_size, metavar="N",
                   help=f"tiles per batch (default: {d.batch_size})")  # fmt: skip
    p.add_argument("--bands", default=None, metavar="B,B,B",
                   help="1-based bands to use (1 or 3), e.g. 1,2,3 (default: the RGB bands)")  # fmt: skip
    p.add_argument("--aoi", action="store_true", help="only process tiles inside the port AOI")
    p.add_argument("--score-thresh", type=float, default=d.score_thresh, metavar="F",
                   help="minimum detection score, 0..1 (default: the threshold calibrated for "
                        "the weights, stored in their metadata; 0.42 for files without one)")  # fmt: skip
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads for the model (default: all cores)")  # fmt: skip
    p.add_argument("--read-threads", type=int, default=None, metavar="N",
                   help="threads reading tiles ahead of the model (default: 1 on CPU, half the "
                        "cores, 2 to 8, on CUDA)")  # fmt: skip
    p.add_argument("--serial", action="store_true",
                   help="one scene at a time: less memory on batches of large scenes (default: a "
                        "scene's outputs are written while the next one is detected)")  # fmt: skip
    p.add_argument("--force", action="store_true",
                   help="also count scenes whose GSD is outside the model's supported range "
                        "(a warning goes into counts.json)")  # fmt: skip
    p.add_argument("--band-mpx", type=float, default=d.band_mpx, metavar="MPX",
                   help="scenes over MPX million pixels (in the model frame) run in row bands, "
                        "one task each, merged by tile ownership; memory is bounded by a band "
                        f"(default: {d.band_mpx:g})")  # fmt: skip
    p.add_argument("--heights", choices=HEIGHTS, default=d.heights,
                   help="stack heights (tiers_est): net = the model's tier head; shadow = "
                        "measured from the scene's shadows, else a stowage prior, with "
                        "intervals and sources (experimental, ~3 s a scene; the reconciler is "
                        f"calibrated on net) (default: {d.heights})")  # fmt: skip
    p.add_argument("--view", choices=("tags", "nadir"), default=d.view_source,
                   help="--heights shadow: where the satellite was; tags = from the product's "
                        "tags (Maxar meanSatEl/meanSatAz, Airbus INCIDENCE_ANGLE, Planet "
                        "view_angle...; nadir when they do not say), nadir = ignore them "
                        f"(default: {d.view_source})")  # fmt: skip
    p.add_argument("--tta", action="store_true",
                   help="also run mirrored tiles and average: more accurate, 4x the model work on "
                        "tiles with anything on them (--tta-floor); "
                        "uses the threshold calibrated for it when the weights hold one")  # fmt: skip
    p.add_argument("--tta-floor", type=float, default=d.tta_floor, metavar="P",
                   help="--tta: mirror only the tiles whose plain pass scores P somewhere "
                        f"(default {d.tta_floor:g}; 0 = every tile)")  # fmt: skip
    p.add_argument("--verify", action="store_true",
                   help="a second look at each box: a small crop classifier (the verifier) "
                        "drops boxes it does not see a container in; fewer look-alikes and "
                        "phantoms, counts a few %% lower; uses the verifier's own detection "
                        "threshold unless --score-thresh is given")  # fmt: skip
    p.add_argument("--verifier", type=Path, default=None, metavar="PATH",
                   help="--verify: verifier file (default: models/ccount-verifier.pt)")  # fmt: skip
    p.add_argument("--verify-thresh", type=float, default=None, metavar="Q",
                   help="--verify: keep boxes the verifier gives at least Q (default: the "
                        "file's, chosen on validation scenes)")  # fmt: skip


def detect_config(args: argparse.Namespace):
    from ..detect.pipeline import DetectConfig

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
        tta=args.tta,
        tta_floor=args.tta_floor,
        read_threads=args.read_threads,
        serial=args.serial,
        force=args.force,
        band_mpx=args.band_mpx,
        heights=args.heights,
        view_source=args.view,
        verify=args.verify,
        verifier_path=args.verifier,
        verify_thresh=args.verify_thresh,
    )


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    """``--workers N`` / ``--cluster ADDRESS|slurm``: the same work on a Dask cluster."""
    g = p.add_argument_group("cluster (Dask; default: this process)")
    x = g.add_mutually_exclusive_group()
    x.add_argument("--workers", type=int, default=None, metavar="N",
                   help="start a local cluster of N worker processes (the cores are split "
                        "between them)")  # fmt: skip
    x.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="use a running Dask scheduler (tcp://HOST:PORT), or `slurm` to start "
                        "workers through SLURM (needs the [hpc] extra, dask-jobqueue)")  # fmt: skip
    g.add_argument("--max-deaths", type=int, default=3, metavar="N",
                   help="worker deaths (crash, out of memory) during one scene before it is "
                        "marked failed (default: 3)")  # fmt: skip
    g.add_argument("--scene-timeout", type=float, default=None, metavar="S",
                   help="fail a scene still running after S seconds and restart its worker "
                        "(default: no limit)")  # fmt: skip


def cluster_config(args: argparse.Namespace):
    """The :class:`~detector.run.cluster.ClusterConfig` the flags ask for, or None (run in
    this process)."""
    if args.workers is None and args.cluster is None:
        if args.scene_timeout is not None:
            raise ConfigError("--scene-timeout needs --workers N or --cluster ADDRESS")
        return None
    from ..run.cluster import ClusterConfig

    c = ClusterConfig(workers=args.workers, address=args.cluster, max_deaths=args.max_deaths,
                      scene_timeout_s=args.scene_timeout)  # fmt: skip
    c.check()
    return c
