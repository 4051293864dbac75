"""Choose the detection score threshold of a weights file on a validation set, never a test set.

Usage (from the repository root)::

    .venv/bin/python scripts/calibrate_threshold.py [--model models/ccount-centernet.pt]
        [--out /tmp/ccount-calib] [--seeds 8001 8002] [--lookalike-seeds 10 11] [--write]

A retrained model's scores are calibrated differently from its predecessor's (hard negatives
make it more cautious), so the threshold belongs to the weights. The validation set is its
own: port scenes ``ccount synth scene --seed <seed>*10+j`` (each of ``--seeds``) in every family of the shipped
recipe (``--families``; relief, in no recipe, stays a family the model has never seen), at
GSD 0.35 and 0.55 m (test scenes use seeds 7001+ and GSD 0.3-0.6; training scenes 50000+),
half of them 16-bit 4-band, and the look-alike scenes of ``scripts/eval_lookalikes.py`` at
``--lookalike-seeds`` (its reported seeds are 0-2). ``ccount detect`` runs once at a low
floor; each threshold keeps the detections scoring at least it (the decoder drops a peak
only inside a *stronger* detection, so this equals detecting at that threshold).

The chosen threshold maximises the validation F1 pooled over families, minus
``--fp-weight`` times the false containers per look-alike scene (a false container on a bus
depot costs as much as that many points of F1 on ports). ``--write`` stores it in the
weights' metadata (``score_thresh``), which ``ccount detect`` uses when ``--score-thresh`` is
not given; the state dict, and so its hash, is unchanged. ``--tta`` calibrates the threshold
of runs with the mirrored passes instead (``ccount detect --tta``, whose averaged heatmap
scores lower), stored as ``score_thresh_tta``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
CCOUNT = [sys.executable, "-m", "detector"]
PORTS = ("rajin", "vostochny", "dunai")
GSDS = (0.35, 0.55)
#: validation seeds: 8001's scenes are all under a high sun (52-64 degrees), 8002's at 21-23
#: and 45: the model's scores run lower under a low sun, where long shadows darken the tops,
#: so a set of one sun only sets a threshold that counts wrong under the other (docs/training.md)
SEEDS = (8001, 8002)
FLOOR = 0.15


def sh(args: list[str]) -> None:
    subprocess.run(args, check=True, cwd=ROOT)


def render_ports(out: Path, families, seed: int, size: int) -> list[tuple[str, Path]]:
    scenes = []
    for fam in families:
        for i, port in enumerate(PORTS):
            for j, gsd in enumerate(GSDS):
                d = out / "ports" / f"{fam}_{port}_{gsd:.2f}_{seed}"
                if not any(d.glob("*.tif")):
                    extra = ["--bits", "16", "--bands", "4"] if (i + j) % 2 else []
                    sh([*CCOUNT, "synth", "scene", "--port", port, "--seed", str(seed * 10 + j),
                        "--gsd", str(gsd), "--size", str(size), str(size), "--family", fam,
                        "--out", str(d), *extra])  # fmt: skip
                scenes += [(fam, p) for p in sorted(d.glob("*.tif"))]
    return scenes


def _pred(pred: Path, tif: Path) -> Path:
    """Detections of ``tif`` (scene names repeat across families and seeds: one folder each)."""
    return pred / _key(tif.parent) / f"{tif.stem}.detections.geojson"


def _key(folder: Path) -> str:
    return "_".join(folder.parts[-2:])


def detect(paths: list[Path], pred: Path, model: Path, threads: int, tta: bool = False) -> None:
    todo = [p for p in paths if not _pred(pred, p).is_file()]
    for folder in sorted({p.parent for p in todo}):
        sh([*CCOUNT, "detect", *(str(p) for p in todo if p.parent == folder),
            "--out", str(pred / _key(folder)), "--model", str(model),
            "--score-thresh", str(FLOOR), "--threads", str(threads), "--no-progress",
            *(["--tta"] if tta else [])])  # fmt: skip


def sweep(scenes, pred: Path, lookalikes, thresholds) -> list[dict]:
    from detector.labels.conditions import condition_bins
    from detector.labels.evaluate import Tally, evaluate_scene, load_containers
    from detector.labels.io import read_containers, read_geojson

    loaded = []
    for fam, tif in scenes:
        truth = load_containers(tif.with_suffix(".geojson"), truth=True)
        p = load_containers(_pred(pred, tif), truth=False, crs=truth.crs)
        sun = condition_bins(read_geojson(tif.with_suffix(".geojson"))[1]).get("sun_elevation")
        loaded.append((fam, p, truth, sun))
    la_scores = [read_containers(_pred(pred, Path(r["file"]))).score for r in lookalikes]
    rows = []
    for t in thresholds:
        by_fam: dict[str, Tally] = {}
        by_sun: dict[str, Tally] = {}
        for fam, p, truth, sun in loaded:
            res = evaluate_scene(p.scoring_at_least(t), truth)["all"]
            by_fam[fam] = by_fam.get(fam, Tally()) + res
            if sun is not None:
                by_sun[sun] = by_sun.get(sun, Tally()) + res
        pooled = sum(by_fam.values(), Tally()).metrics()
        fp_la = [int((s >= t).sum()) for s in la_scores]
        rows.append({
            "thresh": round(float(t), 3),
            "f1": pooled["f1"], "precision": pooled["precision"], "recall": pooled["recall"],
            "count_error_pct": pooled["count_error_pct"],
            "families": {f: {k: m[k] for k in ("f1", "count_error_pct")}
                         for f, m in ((f, v.metrics()) for f, v in by_fam.items())},
            "sun": {b: {k: m[k] for k in ("f1", "count_error_pct")}
                    for b, m in ((b, v.metrics()) for b, v in sorted(by_sun.items()))},
            "lookalike_false_per_scene": round(float(np.mean(fp_la)), 2) if fp_la else 0.0,
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    from eval_lookalikes import render_scenes

    from detector._io import atomic_write_text
    from detector.model.config import SHIPPED_DATA
    from detector.model.weights import weights_id
    from detector.synth.families.registry import FAMILIES
    from detector.synth.lookalike_scenes import LOOKALIKE_SCENES

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=ROOT / "models" / "ccount-centernet.pt")
    p.add_argument("--out", type=Path, default=Path("/tmp/ccount-calib"))
    p.add_argument(
        "--seeds", type=int, nargs="+", default=list(SEEDS),
        help="validation seeds (default 8001 8002: their scenes' sun spans 21-64 degrees)",
    )  # fmt: skip
    p.add_argument("--size", type=int, default=1200)
    p.add_argument("--lookalike-seeds", type=int, nargs="*", default=[10, 11])
    p.add_argument(
        "--families", nargs="+", default=list(SHIPPED_DATA["families"]), choices=FAMILIES,
        help="default: the shipped recipe's (a family kept out of training stays unseen)",
    )  # fmt: skip
    p.add_argument("--fp-weight", type=float, default=0.005, help="F1 points per false container")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--write", action="store_true", help="store the threshold in --model")
    p.add_argument("--tta", action="store_true",
                   help="calibrate for ccount detect --tta (stored as score_thresh_tta)")  # fmt: skip
    args = p.parse_args(argv)
    scenes = [
        sc for seed in args.seeds for sc in render_ports(args.out, args.families, seed, args.size)
    ]
    lookalikes = []
    for s in args.lookalike_seeds:
        lookalikes += render_scenes(args.out / f"lookalikes_{s}", args.families,
                                    list(LOOKALIKE_SCENES), 320.0, s)  # fmt: skip
    # keyed by the network, not the file name: candidates often share one (m.pt)
    tag = "_tta" if args.tta else ""
    pred = args.out / f"pred_{args.model.stem}_{weights_id(args.model)}{tag}"
    detect([t for _, t in scenes] + [Path(r["file"]) for r in lookalikes], pred, args.model,
           args.threads, args.tta)  # fmt: skip
    rows = sweep(scenes, pred, lookalikes, np.round(np.arange(FLOOR, 0.701, 0.01), 3))
    best = max(rows, key=lambda r: r["f1"] - args.fp_weight * r["lookalike_false_per_scene"])
    print(f"{'thresh':>6} {'F1':>6} {'P':>6} {'R':>6} {'count%':>7} "
          + " ".join(f"{f:>13}" for f in args.families) + "  false/look-alike  by sun")  # fmt: skip
    for r in rows[::2] if len(rows) > 30 else rows:
        fams = " ".join(f"{r['families'][f]['f1']:.3f}/{r['families'][f]['count_error_pct']:+5.1f}"
                        for f in args.families)  # fmt: skip
        mark = "  <- chosen" if r is best else ""
        print(f"{r['thresh']:>6.2f} {r['f1']:>6.3f} {r['precision']:>6.3f} {r['recall']:>6.3f} "
              f"{r['count_error_pct']:>+7.1f} {fams} {r['lookalike_false_per_scene']:>8}  "
              + " ".join(f"{b} {m['f1']:.3f}/{m['count_error_pct']:+5.1f}" for b, m in r["sun"].items())
              + mark)  # fmt: skip
    print(f"chosen: score_thresh {best['thresh']} (F1 {best['f1']}, count {best['count_error_pct']:+}"
          f" %, {best['lookalike_false_per_scene']} false per look-alike scene)")  # fmt: skip
    atomic_write_text(args.out / f"calibration_{args.model.stem}{tag}.json",
                      json.dumps({"model": str(args.model), "chosen": best, "sweep": rows}, indent=1))  # fmt: skip
    if args.write:
        from detector.model.weights import set_score_thresh

        set_score_thresh(args.model, best["thresh"], tta=args.tta)
        print(f"wrote score_thresh{tag} {best['thresh']} into {args.model}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
