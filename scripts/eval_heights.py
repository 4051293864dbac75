"""Stack heights from shadows (detect.heights) on held-out synthetic scenes, by family.

Usage (from the repository root)::

    .venv/bin/python scripts/eval_heights.py [--families classic flat photo] [--scenes 3]
        [--seed 81000] [--work /tmp/ccount-heights] [--oracle] [--json out.json]

For each family, ``ccount synth scene`` scenes (ports in turn, seeds from ``--seed`` up,
skipping scenes whose sun is outside 20-70 deg, or ``--sun MIN MAX``; the same seeds in every family, so the same
layouts) are written to ``--work`` and run through ``ccount detect`` (the shipped model, or ``--model``). A
detection matches a visible true top within 1.25 m. Per family: stack-height MAE in tiers
of the heights written (``tiers_est``) and of the network's tier head (``tiers_net``), the
MAE of the shadow-measured ones alone, coverage of the 90 % intervals
(``tiers_low <= truth <= tiers_high``), share measured by shadow vs prior (and why), and
per scene the sun from the shadows alone vs the truth (scenes with >= 20 visible single-tier
containers), stacks, MAE and 90 % cover by what their height rests on (``by_basis``: shadow, a
height step, or the block, rail or stowage prior) and by true region (``by_region``: deck, quay, yard, rail), and the factor a reconciler would still need on the matched stacks (true
containers / estimated, overall and by region, for the heights and for the tier head).
``--no-time`` ignores the acquisition time (the sun from the shadows alone), ``--no-view``
the satellite's direction in the scene's tags (heights as if seen at nadir). ``--oracle`` measures at the true tops instead of detections (the height
measurement alone, no detector). Prints a table, writes the JSON.
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
PORTS = ("vostochny", "rajin", "dunai")
MATCH_M = 1.25


def spec_sun(port: str, seed: int) -> float:
    """The sun's elevation over the scene ``random_scene_spec(port, seed)`` would render,
    without rendering it (the same centre and time as :func:`render_scene`)."""
    from detector.imagery.sun import sun_position
    from detector.synth.portmap import port_map
    from detector.synth.scene import _lonlat  # the point render_scene takes the sun at
    from detector.synth.world import random_scene_spec

    spec = random_scene_spec(port, seed)
    pm = port_map(port, centre_xy_m=spec.centre_xy_m, gsd_m=spec.gsd_m, width=spec.width,
                  height=spec.height)  # fmt: skip
    return sun_position(spec.acquired, *_lonlat(pm))[0]


def render(
    family: str, port: str, seed: int, work: Path, sun: tuple[float, float] = (20.0, 70.0)
) -> tuple[Path, Path, dict] | None:
    """(tif, truth geojson, truth properties), cached; None when the sun's elevation is
    outside ``sun`` (checked before rendering)."""
    from detector.labels.io import read_geojson
    from detector.synth.export import write_scene
    from detector.synth.scene import render_scene
    from detector.synth.world import random_scene_spec

    out = work / family / f"{port}_{seed}"
    done = list(out.glob("*.geojson"))
    if not done and not sun[0] - 0.5 <= spec_sun(port, seed) <= sun[1] + 0.5:
        return None
    if not done:
        spec = replace(random_scene_spec(port, seed), family=family)
        out.mkdir(parents=True, exist_ok=True)
        write_scene(render_scene(spec), out)
        done = list(out.glob("*.geojson"))
    geo = done[0]
    props = read_geojson(geo)[1]
    if not sun[0] <= props["sun_elevation_deg"] <= sun[1]:
        return None
    return geo.with_suffix(".tif"), geo, props


def oracle(tif: Path, geo: Path, sun_meta: dict | None, use_view: bool = True):
    """Heights at the true visible tops: (truth tiers, Heights, sun record, the tops as
    :class:`~detector.detections.Detections` in the model frame, their true regions)."""
    from detector.detect.shadows import scene_heights
    from detector.detections import Detections
    from detector.imagery.raster import open_scene
    from detector.imagery.reader import SceneReader
    from detector.imagery.scene import CANONICAL_GSD_M
    from detector.labels.io import read_containers

    t = read_containers(geo)
    t_vis = np.nonzero(t.visible)[0]
    scene = open_scene(tif)
    with SceneReader(scene, target_gsd_m=CANONICAL_GSD_M) as r:
        grid = r.grid
    inv = ~grid.transform
    c = t.corners_m[t_vis]
    px, py = inv * (c[..., 0].ravel(), c[..., 1].ravel())
    px, py = np.reshape(px, (-1, 4)), np.reshape(py, (-1, 4))
    e1 = np.hypot(px[:, 1] - px[:, 0], py[:, 1] - py[:, 0])
    e2 = np.hypot(px[:, 2] - px[:, 1], py[:, 2] - py[:, 1])
    ang = np.where(e1 >= e2, np.arctan2(py[:, 1] - py[:, 0], px[:, 1] - px[:, 0]),
                   np.arctan2(py[:, 2] - py[:, 1], px[:, 2] - px[:, 1])) % np.pi  # fmt: skip
    n = len(t_vis)
    dets = Detections(px.mean(1), py.mean(1), np.maximum(e1, e2), np.minimum(e1, e2), ang,
                      t.kind[t_vis], np.ones(n), np.ones(n))  # fmt: skip
    sh = scene_heights(scene, grid, dets, sun_meta, region=t.region[t_vis],
                       view=scene.view if use_view else None)  # fmt: skip
    return t.tiers[t_vis], sh.heights, sh.sun, dets, t.region[t_vis]


def detected(tif: Path, geo: Path, out: Path, detector, config, no_time: bool):
    """Run detect on ``tif``; (matched truth tiers, matched predicted props, counts sun)."""
    from detector.detect.pipeline import detect_scene
    from detector.labels.io import read_containers, read_geojson
    from detector.labels.match import match_centres

    outcome = detect_scene(detector, tif, out, config)
    if not outcome.ok:
        raise SystemExit(outcome.error)
    t = read_containers(geo)
    vis = np.nonzero(t.visible)[0]
    p = read_containers(outcome.detections_path)
    feats = [f["properties"] for f in read_geojson(outcome.detections_path)[0]
             if f["properties"].get("type") == "container"]  # fmt: skip
    pi, ti, _ = match_centres(np.c_[p.x_m, p.y_m], np.c_[t.x_m[vis], t.y_m[vis]],
                              max_dist=MATCH_M)  # fmt: skip
    props = [{**feats[i], "truth_region": t.region[vis][j]} for i, j in zip(pi, ti, strict=True)]
    return t.tiers[vis][ti], props, outcome.counts["sun"]


def _by_basis(truth, est, inside, basis) -> dict:
    """{basis: [stacks, MAE, 90 % cover]}: what the heights rest on (detect.heights
    ``BASES``): "shadow" (measured), "step" (a measured height carried across height
    steps), "block" (its block's measured stacks), "rail" or "stowage" (1-4); ``inside``
    whether each truth lies in its interval."""
    from detector.detect.heights import BASES

    return {b: [int((basis == b).sum()), round(float(np.abs(est - truth)[basis == b].mean()), 3),
                round(float(inside[basis == b].mean()), 3)]
            for b in BASES if (basis == b).any()}  # fmt: skip


def _by_region(truth, est, src, region) -> dict:
    """{region: [stacks, MAE, mean true tiers, mean estimate, share measured by shadow]} of
    the true region (deck, quay, yard, rail): where the error sits, and whether the
    estimates lean one way there (what a reconciler would otherwise absorb in a factor)."""
    out = {}
    for g in np.unique(region):
        m = region == g
        out[str(g)] = [int(m.sum()), round(float(np.abs(est - truth)[m].mean()), 3),
                       round(float(truth[m].mean()), 2), round(float(est[m].mean()), 2),
                       round(float((src[m] == "shadow").mean()), 2)]  # fmt: skip
    return out


def summarise(rows: list[dict]) -> dict:
    if not rows:
        return {}
    truth = np.array([r["truth"] for r in rows], float)
    est = np.array([r["est"] for r in rows], float)
    lo = np.array([r["low"] for r in rows], float)
    hi = np.array([r["high"] for r in rows], float)
    src = np.array([r["source"] for r in rows])
    net = np.array([np.nan if r.get("net") is None else r["net"] for r in rows], float)
    sh = src == "shadow"
    inside = (lo <= truth + 1e-6) & (truth <= hi + 1e-6)
    out = {
        "stacks": len(rows),
        "mae": float(np.abs(est - truth).mean()),
        "mae_rounded": float(np.abs(np.clip(np.round(est), 1, 4) - truth).mean()),
        "coverage90": float(inside.mean()),
        "share_shadow": float(sh.mean()),
        "mae_shadow": float(np.abs(est[sh] - truth[sh]).mean()) if sh.any() else None,
        "coverage_shadow": float(inside[sh].mean()) if sh.any() else None,
        "mae_prior": float(np.abs(est[~sh] - truth[~sh]).mean()) if (~sh).any() else None,
        "by_basis": _by_basis(truth, est, inside, np.array([r.get("basis") for r in rows])),
        "reasons": {str(k): int(v) for k, v in zip(*np.unique(
            [r["reason"] for r in rows if r["source"] == "prior"] or [""], return_counts=True),
            strict=True)},
    }  # fmt: skip
    if np.isfinite(net).any():
        out["mae_net"] = float(np.nanmean(np.abs(np.clip(net, 1, 4) - truth)))
        out["factor_net"] = float(truth.sum() / np.clip(net, 1, 4).sum())
    reg = np.array([r.get("region") for r in rows])
    if all(g is not None for g in reg):
        # the factor a reconciler would still need: true containers / estimated, matched stacks
        out["factor_heights"] = float(truth.sum() / est.sum())
        out["by_region"] = _by_region(truth, est, src, reg)
        out["factor_heights_by_region"] = {
            str(g): round(float(truth[reg == g].sum() / est[reg == g].sum()), 3)
            for g in np.unique(reg)
        }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--families", nargs="+", default=["classic", "flat", "photo"])
    ap.add_argument("--scenes", type=int, default=3, help="scenes per family")
    ap.add_argument("--seed", type=int, default=81000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ccount-heights"))
    ap.add_argument("--oracle", action="store_true", help="measure at the true tops")
    ap.add_argument("--no-time", action="store_true",
                    help="ignore the acquisition time: the sun from the shadows only")  # fmt: skip
    ap.add_argument("--no-view", action="store_true",
                    help="ignore the satellite's direction in the tags: heights as at nadir")  # fmt: skip
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--model", type=Path, default=None, help="weights (default: the shipped)")
    ap.add_argument("--sun", type=float, nargs=2, default=(20.0, 70.0), metavar=("MIN", "MAX"),
                    help="only scenes whose sun elevation (deg) is in this range, e.g. 20 35")  # fmt: skip
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    detector = config = None
    if not args.oracle:
        from detector.detect.pipeline import DetectConfig, load_detector

        config = DetectConfig(
            device="cpu",
            model_path=args.model,
            heights="shadow",
            sun_source="shadows" if args.no_time else "auto",
            view_source="nadir" if args.no_view else "tags",
        )
        detector = load_detector(config)
    report: dict = {"families": {}, "scenes": []}
    for fam in args.families:
        rows: list[dict] = []
        seed, done = args.seed, 0
        while done < args.scenes and seed < args.seed + 60:
            port = PORTS[(seed - args.seed) % len(PORTS)]
            r = render(fam, port, seed, args.work, tuple(args.sun))
            seed += 1
            if r is None:
                continue
            tif, geo, props = r
            meta = None if args.no_time else {"elevation_deg": props["sun_elevation_deg"],
                                               "azimuth_deg": props["sun_azimuth_deg"]}  # fmt: skip
            if args.oracle:
                truth, h, sun, _, reg = oracle(tif, geo, meta, not args.no_view)
                srows = [dict(truth=float(truth[i]), est=float(h.tiers_est[i]),
                              low=float(h.tiers_low[i]), high=float(h.tiers_high[i]),
                              source=str(h.source[i]), reason=str(h.reason[i]),
                              basis=str(h.basis[i]), region=str(reg[i]))
                         for i in range(len(truth))]  # fmt: skip
            else:
                out = args.work / "detect" / fam
                truth, props_p, sun = detected(tif, geo, out, detector, config, args.no_time)
                srows = [dict(truth=float(t), est=q["tiers_est"], low=q["tiers_low"],
                              high=q["tiers_high"], source=q["height_source"],
                              reason=q.get("height_note") or "", net=q.get("tiers_net"),
                              basis=q.get("height_basis"),
                              region=q["truth_region"])
                         for t, q in zip(truth, props_p, strict=True)]  # fmt: skip
            ones = int((np.asarray(truth) == 1).sum())
            shadow_sun = (sun or {}).get("shadows") or {}
            rec = {
                "family": fam, "scene": geo.stem, "seed": seed - 1,
                "sun_truth": [props["sun_elevation_deg"], props["sun_azimuth_deg"]],
                "sun_shadows": [shadow_sun.get("elevation_deg"), shadow_sun.get("azimuth_deg")],
                "sun_source": (sun or {}).get("source"), "single_tier_truth": ones,
                "off_nadir_deg": props.get("off_nadir_deg"), **summarise(srows),
            }  # fmt: skip
            report["scenes"].append(rec)
            rows += srows
            done += 1
            print(f"{fam:8s} {geo.stem:28s} sun {props['sun_elevation_deg']:5.1f}/"
                  f"{props['sun_azimuth_deg']:5.1f} shadows {rec['sun_shadows']} "
                  f"n={rec.get('stacks', 0)} mae={rec.get('mae', float('nan')):.2f} "
                  f"cov={rec.get('coverage90', float('nan')):.2f} "
                  f"shadow={rec.get('share_shadow', float('nan')):.2f}", flush=True)  # fmt: skip
        report["families"][fam] = summarise(rows)
        el = [
            abs(s["sun_shadows"][0] - s["sun_truth"][0])
            for s in report["scenes"]
            if s["family"] == fam and s["single_tier_truth"] >= 20 and s["sun_shadows"][0]
        ]
        report["families"][fam]["sun_elev_abs_err"] = el
    print(f"\n{'family':8s} {'stacks':>6s} {'MAE':>5s} {'MAEr':>5s} {'cov90':>5s} "
          f"{'shadow':>6s} {'MAEsh':>5s} {'MAEpr':>5s} {'MAEnet':>6s}  sun elev |err|")  # fmt: skip
    for fam, s in report["families"].items():
        if not s.get("stacks"):
            continue
        f = lambda v: "  -  " if v is None or not math.isfinite(v) else f"{v:5.2f}"  # noqa: E731
        print(f"{fam:8s} {s['stacks']:6d} {f(s['mae'])} {f(s['mae_rounded'])} "
              f"{f(s['coverage90'])} {f(s['share_shadow']):>6s} {f(s['mae_shadow'])} "
              f"{f(s['mae_prior'])} {f(s.get('mae_net')):>6s}  "
              f"{[round(e, 1) for e in s['sun_elev_abs_err']]}")  # fmt: skip
        print(f"{'':8s} by basis [stacks, MAE, cover90]: {s['by_basis']}")
        if "by_region" in s:
            print(f"{'':8s} by region [stacks, MAE, truth, est, measured]: {s['by_region']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
