"""Measure the review loop on a shifted domain: a rendering family the model never trained on.

Usage (from the repository root)::

    .venv/bin/python scripts/eval_review.py [--out /tmp/ccount-review-eval] [--budget 500]
        [--minutes 20] [--family oblique] [--quick]

``--family`` (default ``oblique``, the family in no training recipe; until 2026-12-06 the
study used ``flat``, which the shipped weights have trained on since 2026-12-04): the same
port layouts drawn by another renderer (``ccount synth scene --family F``). The script builds
a small world of it (scenes + truth), detects it with the shipped model as a user would, and
measures on the hold-out units of a review round (drawn at random, the same units for every
strategy with the same seed; scored against the truth files):

1. the shipped model;
2. ``mix``: one round of at most ``--budget`` simulated decisions (hold-out included), then a
   fine-tune from the shipped model on the reviewed train units (loss masked outside them) of
   at most ``--minutes`` CPU minutes (steps sized from a timed probe);
3. ``random``: the same budget spent by the random strategy;
4. the ceiling: a fine-tune, same steps, on full truth labels of every scene of the family,
   less the hold-out units (their area is masked out);

plus each model's F1 on whole held-out scenes of the family (``shifted_test``: never
reviewed nor trained on) and on the original classic test set (``scripts/eval_detector.py``'s
scenes: ports x GSDs, seeds 7001+) before and after. Prints a table and writes
``OUT/eval_review.json``. ``--quick``: a tiny world, budget and fine-tune (minutes; the
numbers mean nothing) for the smoke test.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # this checkout's detector package, as the subprocesses use
    sys.path.insert(0, str(ROOT))
CCOUNT = [sys.executable, "-m", "detector"]
SHIPPED = ROOT / "models" / "ccount-centernet.pt"


def sh(args: list) -> str:
    res = subprocess.run([str(a) for a in args], cwd=ROOT, capture_output=True, text=True)
    if res.returncode:
        sys.stderr.write(res.stdout[-2000:] + res.stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(map(str, args))}")
    return res.stdout


def settings(quick: bool, args) -> dict:
    if quick:
        return dict(ports=["rajin"], gsds=[0.5], seeds=[8001, 8002], size=512, budget=60,
                    classic_ports=["rajin"], classic_gsds=[0.4], classic_size=400,
                    test_seeds=[8101], steps=3, probe=2, batch=2, crop=128, lr=5e-4,
                    unit_px=256)  # fmt: skip
    return dict(ports=["rajin", "vostochny", "dunai"], gsds=[0.4, 0.6], seeds=[8001],
                test_seeds=[8101],
                size=1400, budget=args.budget, classic_ports=["rajin", "vostochny", "dunai"],
                classic_gsds=[0.3, 0.4, 0.5, 0.6], classic_size=1600, steps=args.max_steps,
                probe=10, batch=8, crop=256, lr=args.lr, unit_px=args.unit_px)  # fmt: skip


def build_world(out: Path, s: dict, family: str) -> tuple[Path, Path, Path]:
    """Scenes + truth of ``family`` in ``out/<family>`` (reviewed), other scenes of it in
    ``out/<family>_test`` (never reviewed nor trained on: the domain's hold-out) and the
    classic test set in ``out/classic``."""
    shifted, shifted_test, classic = out / family, out / f"{family}_test", out / "classic"
    for fam, d, ports, gsds, size, seeds in (
        (family, shifted, s["ports"], s["gsds"], s["size"], s["seeds"]),
        (family, shifted_test, s["ports"], s["gsds"], s["size"], s["test_seeds"]),
        ("classic", classic, s["classic_ports"], s["classic_gsds"], s["classic_size"], [7001]),
    ):
        for seed in seeds:
            for port in ports:
                for j, gsd in enumerate(gsds):
                    tag = f"{port}_{gsd:.1f}_{seed}"
                    if (d / tag).is_dir() and any((d / tag).glob("*.tif")):
                        continue
                    sh([*CCOUNT, "synth", "scene", "--port", port, "--seed", seed * 10 + j,
                        "--gsd", gsd, "--size", size, size, "--family", fam,
                        "--out", d / tag])  # fmt: skip
        all_dir = d / "all"  # scenes and truth side by side, as ccount eval wants them
        all_dir.mkdir(parents=True, exist_ok=True)
        for f in sorted(d.glob("*_*_*/*")):
            if not (all_dir / f.name).exists():
                (all_dir / f.name).symlink_to(f.resolve())
    return shifted / "all", shifted_test / "all", classic / "all"


def scenes_f1(model: Path, scenes: Path, work: Path, tag: str = "classic") -> dict:
    """P/R/F1 and count error of ``model`` on the scenes + truth in ``scenes``."""
    pred = work / f"{tag}_pred"
    sh([*CCOUNT, "detect", *sorted(scenes.glob("*.tif")), "--out", pred, "--model", model,
        "--no-progress"])  # fmt: skip
    sh([*CCOUNT, "eval", pred, scenes, "--json", work / f"{tag}_eval.json"])
    o = json.loads((work / f"{tag}_eval.json").read_text())["overall"]
    return {k: o.get(k) for k in ("precision", "recall", "f1", "count_error_pct")}


def fine_tune(labels: Path, out_pt: Path, s: dict, steps: int) -> float:
    t0 = time.perf_counter()
    sh([*CCOUNT, "train", "--init", SHIPPED, "--labels", labels, "--out", out_pt, "--steps",
        steps, "--batch-size", s["batch"], "--size", s["crop"], "--lr", s["lr"], "--device",
        "cpu", "--val-samples", 0, "--quiet"])  # fmt: skip
    return (time.perf_counter() - t0) / 60.0


def ceiling_labels(rnd_path: Path, scenes: Path, out: Path, unit_px: int) -> Path:
    """Full truth labels of every scene in ``scenes`` (the reviewed family's), less the
    hold-out units of the round: the reviewed-set format with ``reviewed`` = every unit
    square of the grid but those."""
    from detector.imagery.raster import open_scene
    from detector.imagery.reader import SceneReader
    from detector.labels.io import read_geojson, write_geojson
    from detector.model.weights import canonical_gsd_m
    from detector.review.labels import _lonlat
    from detector.review.round import Round

    rnd = Round.open(rnd_path)
    hold = [u for u in rnd.units.values() if u.split == "holdout"]
    out.mkdir(parents=True, exist_ok=True)
    for tif in sorted(scenes.glob("*.tif")):
        scene = open_scene(tif)
        with SceneReader(scene, target_gsd_m=canonical_gsd_m()) as r:
            g = r.grid
        crs = scene.crs.to_string()
        ring = _lonlat(crs)
        squares = []
        for row in range(g.height // unit_px):
            for col in range(g.width // unit_px):
                c0, r0, c1, r1 = (
                    col * unit_px,
                    row * unit_px,
                    (col + 1) * unit_px,
                    (row + 1) * unit_px,
                )
                (x0, y0), (x1, y1) = g.transform @ (c0, r1), g.transform @ (c1, r0)
                if any(
                    u.scene == scene.id and u.contains((x0 + x1) / 2, (y0 + y1) / 2) for u in hold
                ):
                    continue
                squares.append((x0, y0, x1, y1))
        from detector.review.simulate import truth_boxes

        corners, kinds = truth_boxes(scenes, scene.id, crs)
        feats = []
        for c, k in zip(corners, kinds, strict=True):
            cx, cy = c.mean(axis=0)
            if any(x0 <= cx <= x1 and y0 <= cy <= y1 for x0, y0, x1, y1 in squares):
                feats.append({"type": "Feature",
                              "properties": {"type": "container", "kind": str(k), "score": 1.0,
                                             "tiers": 1, "visible": True},
                              "geometry": {"type": "Polygon", "coordinates": [ring(c)]}})  # fmt: skip
        _, props = read_geojson(scenes / f"{scene.id}.geojson")
        write_geojson(out / f"{scene.id}.geojson", feats, {
            "scene": scene.id, "crs": crs, "scene_path": str(tif.resolve()),
            "reviewed": [ring([(a, b), (c, b), (c, d), (a, d)]) for a, b, c, d in squares],
        })  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("/tmp/ccount-review-eval"))
    p.add_argument("--budget", type=int, default=500, help="decisions per round (<= 500)")
    p.add_argument("--minutes", type=float, default=20.0, help="CPU minutes per fine-tune")
    p.add_argument("--max-steps", type=int, default=1500, help="fine-tune steps at most")
    p.add_argument("--steps", type=int, default=None,
                   help="fine-tune steps (default: sized by a timed probe, which counts the"
                        " start-up as training time and so undershoots --minutes)")  # fmt: skip
    p.add_argument("--lr", type=float, default=5e-4, help="fine-tune peak learning rate")
    p.add_argument("--unit-px", type=int, default=128,
                   help="review unit side in model px (128: ~25 containers in a dense unit)")  # fmt: skip
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--family", default="oblique",
                   help="the shifted domain: a rendering family (default oblique, in no recipe)")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="tiny smoke run (numbers mean nothing)")
    args = p.parse_args(argv)
    s = settings(args.quick, args)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    shifted, shifted_test, classic = build_world(out, s, args.family)
    det = out / f"{args.family}_det"
    if not any(det.glob("*.counts.json")):
        sh([*CCOUNT, "detect", *sorted(shifted.glob("*.tif")), "--out", det, "--model", SHIPPED,
            "--no-progress"])  # fmt: skip
    # fine-tune steps: a timed probe, so a fine-tune stays within --minutes
    probe_dir = out / "probe"
    rounds: dict[str, Path] = {}
    for strategy in ("mix", "random"):
        rnd = out / f"round_{strategy}"
        if rnd.exists():
            shutil.rmtree(rnd)
        sh([*CCOUNT, "review", "select", det, "--budget", s["budget"], "--out", rnd, "--strategy",
            strategy, "--seed", args.seed, "--unit-px", s["unit_px"]])  # fmt: skip
        sh([*CCOUNT, "review", "simulate", rnd, "--truth", shifted])
        sh([*CCOUNT, "review", "labels", rnd, "--out", out / f"labels_{strategy}"])
        rounds[strategy] = rnd
    if args.steps is None:
        t_probe = fine_tune(out / "labels_mix", probe_dir / "probe.pt", s, s["probe"])
        per_step = t_probe / s["probe"]  # minutes, start-up included: conservative
        steps = max(1, min(s["steps"], int(args.minutes * 0.9 / per_step)))
    else:
        per_step, steps = None, int(args.steps)
    labels = {k: out / f"labels_{k}" for k in rounds}
    labels["ceiling"] = ceiling_labels(rounds["mix"], shifted, out / "labels_ceiling", s["unit_px"])
    models, minutes = {"shipped": SHIPPED}, {}
    for name, lab in labels.items():
        models[name] = out / f"{name}.pt"
        minutes[name] = fine_tune(lab, models[name], s, steps)
    rows = {}
    for name, model in models.items():
        rnd = out / f"gain_{name}"
        if rnd.exists():
            shutil.rmtree(rnd)
        base = rounds["random" if name == "random" else "mix"]
        shutil.copytree(base, rnd)
        sh([*CCOUNT, "review", "gain", rnd, "--before", SHIPPED, "--after", model, "--truth",
            shifted, "--seed", args.seed])  # fmt: skip
        g = json.loads((rnd / "gain.json").read_text())
        work = out / f"work_{name}"
        work.mkdir(exist_ok=True)
        rows[name] = {
            "holdout": g["metrics"]["after"], "holdout_ci90": g["metrics"]["after_ci90"],
            "delta_f1_ci90": g["metrics"]["delta_ci90"]["f1"], "cost": g["cost"],
            "holdout_units": g["holdout_units"], "holdout_containers": g["holdout_containers"],
            "classic": scenes_f1(model, classic, work), "train_minutes": minutes.get(name),
            "shifted_test": scenes_f1(model, shifted_test, work, "shifted_test"),
        }  # fmt: skip
    f1 = {k: r["holdout"]["f1"] for k, r in rows.items()}
    gap = f1["ceiling"] - f1["shipped"]
    tf1 = {k: r["shifted_test"]["f1"] for k, r in rows.items()}
    tgap = tf1["ceiling"] - tf1["shipped"]
    doc = {
        "quick": args.quick, "family": args.family, "settings": s, "fine_tune_steps": steps,
        "probe_minutes_per_step": per_step, "rows": rows,
        "gap_closed_mix": (f1["mix"] - f1["shipped"]) / gap if gap > 0 else None,
        "gap_closed_random": (f1["random"] - f1["shipped"]) / gap if gap > 0 else None,
        "mix_beats_random": f1["mix"] > f1["random"],
        "shifted_test_gap_closed_mix": (tf1["mix"] - tf1["shipped"]) / tgap if tgap > 0 else None,
        "shifted_test_gap_closed_random": (
            (tf1["random"] - tf1["shipped"]) / tgap if tgap > 0 else None
        ),
        "shifted_test_mix_beats_random": tf1["mix"] > tf1["random"],
        "classic_f1_drop": {k: rows["shipped"]["classic"]["f1"] - r["classic"]["f1"]
                            for k, r in rows.items()},
    }  # fmt: skip
    (out / "eval_review.json").write_text(json.dumps(doc, indent=1))
    print(f"{'model':<9} {'holdout F1':>10} {'90% CI':>15} {'count err':>9} {'kind acc':>8} "
          f"{'classic F1':>10} {'test F1':>12} {'test count':>10} {'decisions':>9} "
          f"{'minutes':>7}")  # fmt: skip
    for name, r in rows.items():
        h, ci = r["holdout"], r["holdout_ci90"]["f1"]
        ka = "-" if h["kind_accuracy"] is None else f"{h['kind_accuracy']:.3f}"
        mins = "-" if r["train_minutes"] is None else f"{r['train_minutes']:.1f}"
        dec = r["cost"]["decisions"] if name in ("mix", "random") else "-"
        print(f"{name:<9} {h['f1']:>10.3f} {f'[{ci[0]:.3f}, {ci[1]:.3f}]':>15} "
              f"{h['count_error']:>9.3f} {ka:>8} {r['classic']['f1']:>10.3f} "
              f"{r['shifted_test']['f1']:>12.3f} {r['shifted_test']['count_error_pct']:>+9.1f}% {dec:>9} "
              f"{mins:>7}")  # fmt: skip
    gc = doc["gap_closed_mix"]
    tc = doc["shifted_test_gap_closed_mix"]
    print(
        f"held-out {args.family} scenes: gap closed by mix {'-' if tc is None else f'{tc:.2f}'}; "
        f"mix beats random: {doc['shifted_test_mix_beats_random']}"
    )
    print(f"hold-out units: gap closed by mix: {'-' if gc is None else f'{gc:.2f}'}; mix beats random: "
          f"{doc['mix_beats_random']}; written to {out / 'eval_review.json'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
