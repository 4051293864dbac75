"""``ccount info SCENE... [--json] [--bands 1,2,3] [--gsd G]``: describe scenes.

Per scene: size, bands, dtype, CRS, GSD, lon/lat footprint bounds, nodata/alpha, overviews,
tiled/striped block shape, acquisition time, port and intensity stretch. A scene that fails
prints its one-line error and the command goes on; the exit code is 2 if any failed.
"""

from __future__ import annotations

import json
import sys

from ..errors import CountError
from ._detect_options import parse_bands

__all__ = ["HELP", "configure", "run", "scene_summary"]

HELP = "describe scene files: size, bands, CRS, GSD, footprint, masks, time, port, stretch"


def configure(parser) -> None:
    parser.add_argument("scenes", nargs="+", metavar="SCENE", help="GeoTIFF/COG scene files")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    parser.add_argument("--bands", default=None, help="1-based bands to use, e.g. 1,2,3 or 1")
    parser.add_argument(
        "--gsd", type=float, default=None, metavar="G",
        help="pixel size in metres for scenes without a CRS (pixel grid read as local metres)",
    )  # fmt: skip


def scene_summary(scene) -> dict:
    """A JSON-ready description of a :class:`detector.imagery.raster.Scene`."""
    lon0, lat0, lon1, lat1 = scene.footprint.bounds if not scene.footprint.is_empty else (None,) * 4
    return {
        "scene": scene.id,
        "file": str(scene.path),
        "width": scene.width,
        "height": scene.height,
        "band_count": scene.band_count,
        "bands": list(scene.bands),
        "dtype": scene.dtype,
        "crs": f"EPSG:{scene.epsg}"
        if scene.epsg
        else (scene.crs.to_string() if scene.crs else None),
        "gsd_m": round(scene.gsd_m, 4),
        "footprint_lonlat": None if lon0 is None else [lon0, lat0, lon1, lat1],
        "nodata": scene.nodata,
        "alpha_band": scene.alpha_band,
        "mask": scene.mask_kind,
        "overviews": list(scene.overviews),
        "layout": "tiled" if scene.tiled else "striped",
        "block_shape": list(scene.block_shape),
        "acquired": scene.acquired.strftime("%Y-%m-%dT%H:%M:%SZ") if scene.acquired else None,
        "port": scene.port,
        "view": None if scene.view is None else scene.view.to_dict(),
        "stretch": scene.stretch.to_dict(),
        "stretch_from": scene.stretch_from,
    }


def _text(s: dict) -> str:
    fp = s["footprint_lonlat"]
    fp_txt = (
        "n/a (no CRS)"
        if fp is None
        else f"lon {fp[0]:.5f}..{fp[2]:.5f}, lat {fp[1]:.5f}..{fp[3]:.5f}"
    )
    lines = [
        f"{s['file']}",
        f"  size       {s['width']} x {s['height']} px, {s['band_count']} band(s) {s['dtype']}, "
        f"using bands {','.join(map(str, s['bands']))}",
        f"  crs        {s['crs'] or 'none (local metres)'}, GSD {s['gsd_m']:.3f} m",
        f"  footprint  {fp_txt}",
        f"  mask       {s['mask']} (nodata {s['nodata']}, alpha band {s['alpha_band']})",
        f"  layout     {s['layout']}, blocks {s['block_shape'][0]} x {s['block_shape'][1]}, "
        f"overviews {s['overviews'] or 'none'}",
        f"  acquired   {s['acquired'] or 'unknown'}",
        f"  port       {s['port'] or 'unknown'}",
        "  view       "
        + (
            "unknown (taken as nadir)"
            if s["view"] is None
            else f"{s['view']['incidence_deg']:g} deg from nadir, satellite at azimuth "
            f"{s['view']['azimuth_deg']:g} deg ({s['view']['source']})"
        ),
        "  stretch    "
        + ", ".join(
            f"b{b}: {lo:g}..{hi:g}"
            for b, lo, hi in zip(s["bands"], s["stretch"]["low"], s["stretch"]["high"], strict=True)
        )
        + f" (2-98 % of the {s['stretch_from']})",
    ]
    return "\n".join(lines)


def run(args) -> int:
    from ..imagery.raster import open_scene

    bands = parse_bands(args.bands)
    summaries, failed = [], 0
    for path in args.scenes:
        try:
            scene = open_scene(path, bands=bands, gsd_m=args.gsd)
        except CountError as e:
            failed += 1
            msg = " ".join(str(e).split())
            print(f"ccount info: error: {msg}", file=sys.stderr)
            continue
        s = scene_summary(scene)
        summaries.append(s)
        if not args.json:
            print(_text(s))
    if args.json:
        print(json.dumps(summaries, indent=2))
    return 2 if failed else 0
