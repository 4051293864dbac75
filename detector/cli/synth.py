"""``ccount synth scene|world``: synthetic port scenes with truth, and whole synthetic worlds."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from .._io import check_output_dir
from ..errors import ConfigError

HELP = "render synthetic port scenes (GeoTIFF + truth GeoJSON) or a whole synthetic world"
PORTS = ("rajin", "vostochny", "dunai")


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", metavar="scene|world", required=True)
    s = sub.add_parser("scene", help="one scene of a port: DIR/<scene>.tif and DIR/<scene>.geojson")
    s.add_argument("--port", choices=PORTS, required=True)
    s.add_argument("--seed", type=int, required=True, help="same seed, same scene")
    s.add_argument("--out", type=Path, required=True, help="output folder")
    s.add_argument("--gsd", type=float, default=None, help="metres per pixel (default: 0.31-0.6)")
    s.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), default=None, help="pixels")
    s.add_argument(
        "--bits", type=int, choices=(8, 16), default=8, help="8-bit RGB or 11-bit in uint16"
    )
    s.add_argument(
        "--bands", type=int, choices=(3, 4), default=3, help="RGB or RGB+NIR (16-bit only)"
    )
    s.add_argument(
        "--cloud", type=float, default=0.0, help="cloud cover fraction 0..1 over the target"
    )
    s.add_argument(
        "--snow", type=float, default=0.0, help="winter: snow and sea-ice cover 0..1 (default 0)"
    )
    s.add_argument(
        "--family", default="classic", metavar="NAME",
        help="rendering family: classic (default), flat (flat-shaded), photo (photo-like), "
        "relief (a lit height field) or oblique (off-nadir prisms, pan-sharpened; in no "
        "training recipe); same layout and truth, another look",
    )  # fmt: skip
    w = sub.add_parser("world", help="voyages -> scenes/, truth/, world.json with the true loads")
    w.add_argument(
        "--voyages", type=Path, required=True, help="voyage log CSV (voyage,ship,rajin_date)"
    )
    w.add_argument("--out", type=Path, required=True, help="output folder")
    w.add_argument("--seed", type=int, default=1)
    w.add_argument("--first", type=int, default=None, metavar="K", help="only the first K voyages")
    w.add_argument(
        "--winter", type=float, default=0.0, metavar="P",
        help="chance that a December-March scene shows snow and sea ice (default 0)",
    )  # fmt: skip
    for p in (s, w):
        p.add_argument("-v", "--verbose", action="count", default=0, help="more detail; tracebacks")


def _check_scene_args(args) -> None:
    if args.gsd is not None and not 0.1 <= args.gsd <= 2.0:
        raise ConfigError(f"--gsd {args.gsd}: expected 0.1..2 metres per pixel")
    if args.size is not None and not all(64 <= v <= 20000 for v in args.size):
        raise ConfigError(f"--size {args.size[0]} {args.size[1]}: each side must be 64..20000 px")
    if args.bits == 8 and args.bands == 4:
        raise ConfigError("--bands 4 needs --bits 16 (8-bit scenes are RGB display products)")
    if not 0.0 <= args.cloud <= 1.0:
        raise ConfigError(f"--cloud {args.cloud}: expected a fraction 0..1")
    if not 0.0 <= args.snow <= 1.0:
        raise ConfigError(f"--snow {args.snow}: expected a fraction 0..1")
    from ..synth.families.registry import FAMILIES

    if args.family not in FAMILIES:
        raise ConfigError(f"--family {args.family}: expected one of {', '.join(FAMILIES)}")
    from ..synth.families.registry import refuse_weather

    refuse_weather(args.family, args.cloud, args.snow, "--family")


def run(args) -> int:
    if args.what == "scene":
        _check_scene_args(args)
        from ..synth.export import write_scene
        from ..synth.scene import render_scene
        from ..synth.world import random_scene_spec

        spec = random_scene_spec(
            args.port, args.seed, gsd_m=args.gsd, size=tuple(args.size) if args.size else None,
            bits=args.bits, bands=args.bands, cloud=args.cloud, snow=args.snow,
        )  # fmt: skip
        spec = replace(spec, family=args.family)
        check_output_dir(args.out)  # before rendering
        rs = render_scene(spec)
        tif, geo = write_scene(rs, args.out)
        print(
            f"{tif} ({rs.spec.width}x{rs.spec.height} px, {rs.spec.gsd_m} m, "
            f"{rs.containers_visible} visible / {rs.containers_total} containers)\n{geo}"
        )
        return 0
    if not 0.0 <= args.winter <= 1.0:
        raise ConfigError(f"--winter {args.winter}: expected a probability 0..1")
    if args.first is not None and args.first < 1:
        raise ConfigError(f"--first {args.first}: expected a positive number of voyages")
    if not args.voyages.is_file():
        raise ConfigError(f"{args.voyages}: voyage log not found")
    from tqdm import tqdm

    from ..labels.voyages import read_voyages
    from ..synth.world import build_world, plan_world

    voyages = read_voyages(args.voyages)
    if args.first is not None:
        voyages = voyages[: args.first]
    n = len(plan_world(voyages, args.seed, winter=args.winter)[1])
    with tqdm(total=n, desc="synth world", unit="scene", file=sys.stderr, disable=None) as bar:
        world = build_world(
            args.voyages, args.out, args.seed, first=args.first, winter=args.winter,
            progress=lambda sid: (bar.set_postfix_str(sid), bar.update(1)),
        )  # fmt: skip
    print(
        f"{args.out / 'world.json'}: {len(world['voyages'])} voyages, {len(world['scenes'])} scenes"
    )
    return 0
