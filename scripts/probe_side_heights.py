"""Study (issue 17, item 3): stack heights from the walls an off-nadir view shows, against
the heights ``--heights shadow`` gives today, at the true tops. Not used by ``ccount``.

Usage (from the repository root)::

    .venv/bin/python scripts/probe_side_heights.py [--families oblique photo flat]
        [--seeds 82000 ... 82007] [--off-nadir 20] [--colour chroma|rgb]
        [--work /tmp/ccount-side] [--json FILE]

Each dev seed's scene (``random_scene_spec``, ports in turn) is rendered in each family with
the satellite ``--off-nadir`` degrees from the vertical. A stack ``h`` m high is seen with
the wall facing the satellite ``h * tan(incidence)`` m long beside its top, towards the
satellite, on every line along that direction that crosses the top (the argument of
:mod:`detector.detect.heights` with the satellite in the sun's place). Five profiles per top
walk out from its edge towards the satellite; the wall ends where the colour comes back to
the ground's (the median beyond the longest wall: 4.5 tiers), for 1 px, below half the wall's
own difference from the ground. ``--colour chroma`` compares r, g, b over their sum (a wall
foot in a neighbour's shadow stays ground-coloured), ``rgb`` the values. A profile that meets
another top or leaves the image is dropped; three good profiles make a measurement, their
median the wall's length. Prints, per family and per what today's heights rest on (their
``basis``), the stacks the walls measured and both MAEs (tiers, whole tiers).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
PORTS = ("vostochny", "rajin", "dunai")
TALLEST_TIERS = 4.5


def render(family: str, seed: int, off_nadir: float, work: Path) -> tuple[Path, Path]:
    """(tif, truth geojson) of seed's scene in ``family`` seen ``off_nadir`` degrees off."""
    from detector.synth.export import write_scene
    from detector.synth.scene import render_scene
    from detector.synth.world import random_scene_spec

    port = PORTS[seed % 3]
    out = work / family / f"{port}_{seed}_on{off_nadir:g}"
    if not list(out.glob("*.geojson")):
        spec = replace(random_scene_spec(port, seed), family=family, off_nadir_deg=off_nadir)
        out.mkdir(parents=True, exist_ok=True)
        write_scene(render_scene(spec), out)
    geo = next(out.glob("*.geojson"))
    return geo.with_suffix(".tif"), geo


def wall_lengths_px(image, valid, dets, labels, view_azimuth_deg, max_px, chroma, step=0.5):
    """Median wall length (px; NaN where not measured) beside each box, towards the
    satellite at ``view_azimuth_deg``; ``image`` float32 [C, H, W] (the first 3 bands)."""
    from detector.detect.profiles import anti_sun_unit, nan_reduce, profile_origins, sample_at

    n = len(dets)
    toward = view_azimuth_deg + 180.0  # profiles run along anti_sun_unit(toward): at the satellite
    ux, uy = anti_sun_unit(toward)
    ox, oy, t_out, _ = profile_origins(dets, np.arange(n), toward, 5)
    reach = max_px + 1.5
    tau = np.arange(0.0, reach + 4.0 + 1e-9, step)
    fx = ox[..., None] + (t_out[..., None] + tau) * ux
    fy = oy[..., None] + (t_out[..., None] + tau) * uy
    other = sample_at(labels, fx, fy, 0)
    mine = (np.arange(n) + 1)[:, None, None]
    blocked = (other != 0) & (other != mine) | ~sample_at(valid, fx, fy, 0).astype(bool)
    c = np.stack([sample_at(b, fx, fy, 1) for b in image[:3]], -1)  # [n, P, T, 3]
    if chroma:
        c = c / np.maximum(c.sum(-1, keepdims=True), 1e-3)
    far = tau >= reach
    cf = np.where((~blocked[..., far])[..., None], c[..., far, :], np.nan)
    ground = np.stack([nan_reduce(np.nanmedian, cf[..., k]) for k in range(3)], -1)
    d = np.linalg.norm(c - ground[..., None, :], axis=-1)  # [n, P, T]
    spread = nan_reduce(
        np.nanmedian, np.where(~blocked[..., far], d[..., far], np.nan).reshape(n, -1)
    )
    near = (tau >= 0.5) & (tau <= 1.5)
    wall = nan_reduce(np.nanmedian, np.where(~blocked[..., near], d[..., near], np.nan))
    noise = np.maximum(2.5 * spread[:, None], 0.02 if chroma else 0.04)
    clear = wall > 2 * noise
    thr = np.maximum(noise, 0.5 * wall)
    is_ground = d < thr[..., None]
    for j in range(1, int(round(1.0 / step)) + 1):  # ground for 1 px
        is_ground[..., :-j] &= d[..., j:] < thr[..., None]
    is_ground &= tau >= 0.5
    end = np.where(is_ground.any(-1), np.argmax(is_ground, -1), len(tau))
    first_block = np.where(blocked.any(-1), np.argmax(blocked, -1), len(tau))
    good = clear & (end < np.minimum(first_block, np.searchsorted(tau, reach)))
    length = tau[np.clip(end, 0, len(tau) - 1)] - 0.5 * step
    med = nan_reduce(np.nanmedian, np.where(good, length, np.nan))
    return np.where(good.sum(-1) >= 3, med, np.nan)


def probe(tif: Path, geo: Path, chroma: bool) -> dict:
    """Per true visible top: true tiers, today's heights (est, basis) and the walls' tiers."""
    from eval_heights import oracle

    from detector.detect.profiles import box_labels
    from detector.detections import TIER_HEIGHT_M
    from detector.imagery.raster import open_scene
    from detector.imagery.reader import SceneReader
    from detector.imagery.scene import CANONICAL_GSD_M
    from detector.imagery.tiling import Window

    props = json.loads(geo.read_text())["properties"]
    meta = {"elevation_deg": props["sun_elevation_deg"], "azimuth_deg": props["sun_azimuth_deg"]}
    truth, heights, _, dets, _ = oracle(tif, geo, meta)
    with SceneReader(open_scene(tif), target_gsd_m=CANONICAL_GSD_M) as reader:
        grid = reader.grid
        tile = reader.read(Window(col_off=0, row_off=0, width=grid.width, height=grid.height))
    tan = math.tan(math.radians(props["off_nadir_deg"]))
    max_px = TALLEST_TIERS * TIER_HEIGHT_M * tan / grid.gsd_m
    image = tile.image.astype(np.float32)
    length = wall_lengths_px(image, tile.valid, dets, box_labels(dets, image.shape[1:]),
                             props["view_azimuth_deg"], max_px, chroma)  # fmt: skip
    side = np.clip(np.round(length * grid.gsd_m / tan / TIER_HEIGHT_M), 1, 4)
    from detector.labels.io import read_containers

    t = read_containers(geo)
    region = t.region[np.nonzero(t.visible)[0]]
    return {
        "truth": truth,
        "est": heights.tiers_est,
        "basis": heights.basis,
        "side": side,
        "region": region,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--families", nargs="+", default=["oblique", "photo", "flat"])
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(82000, 82008)))
    ap.add_argument("--off-nadir", type=float, default=20.0)
    ap.add_argument("--colour", choices=("chroma", "rgb"), default="chroma")
    ap.add_argument("--work", type=Path, default=Path("/tmp/ccount-side"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    table: dict[str, dict] = {}
    for family in args.families:
        rows = [probe(*render(family, s, args.off_nadir, args.work), args.colour == "chroma")
                for s in args.seeds]  # fmt: skip
        truth, est, side = (np.concatenate([r[k] for r in rows]) for k in ("truth", "est", "side"))
        basis = np.concatenate([r["basis"] for r in rows])
        region = np.concatenate([r["region"] for r in rows])
        got = np.isfinite(side)
        fam = {"stacks": len(truth), "measured_by_walls": int(got.sum()),
               "mae_today": round(float(np.abs(est - truth).mean()), 3)}  # fmt: skip
        for b in np.unique(basis):
            sel = got & (basis == b)
            if sel.any():
                fam[str(b)] = [int(sel.sum()), round(float(np.abs(est - truth)[sel].mean()), 3),
                               round(float(np.abs(side - truth)[sel].mean()), 3)]  # fmt: skip
        for g in np.unique(region):
            sel = got & (region == g)
            if sel.any():
                fam[f"region_{g}"] = [
                    int(sel.sum()),
                    int((region == g).sum()),
                    round(float(np.abs(est - truth)[sel].mean()), 3),
                    round(float(np.abs(side - truth)[sel].mean()), 3),
                ]
        table[family] = fam
        print(family, json.dumps(fam), flush=True)
    print(
        "per basis: [stacks the walls measured, MAE today, MAE from the walls]; per region:"
        " [stacks the walls measured, stacks, MAE today, MAE from the walls] (on those measured)"
    )
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
