"""What a detection threshold rule would score on labelled scenes, without writing it anywhere.

Usage (from the repository root)::

    .venv/bin/python scripts/eval_thresholds.py --truth DIR [DIR ...] --work W
        [--model M] [--rules 0.41 0.39 sun:50:0.35:0.42] [--floor 0.3] [--tta] [--verify V]

Each ``--truth`` folder holds scenes (``*/<scene>.tif`` beside ``<scene>.geojson``, as
``scripts/eval_detector.py`` and ``scripts/calibrate_threshold.py`` leave them). ``ccount
detect`` runs once per folder at ``--floor`` (kept in ``W``); a rule then keeps the
detections scoring at least its threshold (the decoder drops a peak only inside a stronger
detection, so this equals detecting at that threshold). Each prediction folder records the
network that made it (``model.id``, :func:`detector.model.weights.weights_id`); another
model's ``--model`` on the same ``W`` is an error, not a silent reuse (``--tta``: detect
with the mirrored passes, a model of its own; ``--verify V``: with the crop verifier ``V``
at its own verifier threshold, so a rule's threshold applies to the boxes it kept). Rules: a number (one threshold), or
``sun:E:LOW:HIGH``: LOW for a scene whose sun (its truth header's, as the acquisition time
gives it) is below E degrees, HIGH at or above. Prints, per folder and rule, F1 and count
error pooled, by sun bin and by GSD (:mod:`detector.labels.conditions`), with their 90 %
bootstrap intervals over the folder's scenes (:mod:`detector.labels.spread`), and each rule's
F1 against a base scored on the same scenes, paired (the difference, its 90 % interval and
the share of resamples in which the rule scores higher): the first rule, or ``--base-work
B --base-rule R``, predictions another run of this script left in ``B`` (another model, or
the plain pass against ``--tta``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rule_threshold(rule: str, sun: float | None) -> float:
    """The threshold ``rule`` gives a scene whose sun is ``sun`` degrees (None: unknown, the
    high one)."""
    if not rule.startswith("sun:"):
        return float(rule)
    _, edge, low, high = rule.split(":")
    return float(low) if sun is not None and sun < float(edge) else float(high)


def same_model(pred: Path, model_id: str) -> bool:
    """Whether the prediction folder ``pred`` is ``model_id``'s (stamping it when new or from
    before the stamp)."""
    stamp = pred / "model.id"
    if stamp.is_file():
        return stamp.read_text().strip() == model_id
    pred.mkdir(parents=True, exist_ok=True)
    stamp.write_text(model_id + "\n")
    return True


def scenes_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*/*.tif") if p.parent.name not in ("all", "pred"))


def base_tallies(folder: Path, tifs: list[Path], loaded: list, rule: str | None) -> list:
    """Per-scene tallies of the predictions in ``folder`` (another run's) at ``rule`` (default
    0.39), against the truth already ``loaded`` for ``tifs``."""
    from detector.labels.evaluate import evaluate_scene, load_containers

    out = []
    for t, (_, truth, sun, _) in zip(tifs, loaded, strict=True):
        p = load_containers(folder / f"{t.stem}.detections.geojson", truth=False, crs=truth.crs)
        out.append(evaluate_scene(p.scoring_at_least(rule_threshold(rule or "0.39", sun)),
                                  truth)["all"])  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    from detector.errors import LabelError
    from detector.labels.conditions import condition_bins
    from detector.labels.evaluate import Tally, evaluate_scene, load_containers
    from detector.labels.io import read_geojson
    from detector.labels.spread import scenes_text
    from detector.model.weights import weights_id

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--truth", type=Path, nargs="+", required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "ccount-centernet.pt")
    ap.add_argument("--rules", nargs="+", default=["0.41", "0.39", "sun:50:0.35:0.42"])
    ap.add_argument("--floor", type=float, default=0.3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tta", action="store_true", help="detect with the mirrored passes "
                    "(ccount detect --tta; give it its own --work)")  # fmt: skip
    ap.add_argument("--verify", type=Path, default=None, metavar="V",
                    help="detect with --verify --verifier V (give it its own --work)")  # fmt: skip
    ap.add_argument(
        "--base-work",
        type=Path,
        default=None,
        help="compare each rule, paired, with the predictions in this --work ...",
    )
    ap.add_argument("--base-rule", default=None, help="... kept at this rule (default: 0.39)")
    args = ap.parse_args(argv)
    model_id = weights_id(args.model) + ("-tta" if args.tta else "")
    verify = []
    if args.verify is not None:
        from detector.model.weights import file_sha256

        model_id += f"-verify-{file_sha256(args.verify)[:12]}"
        verify = ["--verify", "--verifier", str(args.verify)]
    for folder in args.truth:
        tifs = scenes_of(folder)
        pred = args.work / f"{folder.parent.name}_{folder.name}"
        if not same_model(pred, model_id):
            print(f"eval_thresholds.py: error: {pred}: predictions of another model than "
                  f"{args.model}; give it its own --work", file=sys.stderr)  # fmt: skip
            return 2
        todo = [t for t in tifs if not (pred / f"{t.stem}.detections.geojson").is_file()]
        if todo:
            subprocess.run([sys.executable, "-m", "detector", "detect", *map(str, todo),
                            "--out", str(pred), "--model", str(args.model), "--score-thresh",
                            str(args.floor), "--threads", str(args.threads), "--no-progress",
                            *(["--tta"] if args.tta else []), *verify],
                           check=True, cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
        loaded = []
        for t in tifs:
            geo = t.with_suffix(".geojson")
            truth = load_containers(geo, truth=True)
            p = load_containers(pred / f"{t.stem}.detections.geojson", truth=False, crs=truth.crs)
            head = read_geojson(geo)[1]
            loaded.append((p, truth, head.get("sun_elevation_deg"), condition_bins(head)))
        print(f"{folder} ({len(loaded)} scenes)")
        base = None
        if args.base_work is not None:
            try:
                base = base_tallies(args.base_work / pred.name, tifs, loaded, args.base_rule)
            except LabelError as e:
                print(f"eval_thresholds.py: error: {e}", file=sys.stderr)
                return 2
        for rule in args.rules:
            total, split, per_scene = Tally(), {"sun_elevation": {}, "gsd": {}}, []
            for p, truth, sun, bins in loaded:
                res = evaluate_scene(p.scoring_at_least(rule_threshold(rule, sun)), truth)["all"]
                total = total + res
                per_scene.append(res)
                for name, tallies in split.items():
                    b = bins.get(name, "?")
                    tallies[b] = tallies.get(b, Tally()) + res
            m = total.metrics()
            parts = {
                name: "  ".join(
                    f"{b} {v.metrics()['f1']:.3f}/{v.metrics()['count_error_pct']:+.1f}"
                    for b, v in sorted(tallies.items())
                )
                for name, tallies in split.items()
            }
            print(f"  {rule:>18}: F1 {m['f1']:.3f} P {m['precision']:.3f} R {m['recall']:.3f} "
                  f"count {m['count_error_pct']:+.1f} %   by sun {parts['sun_elevation']}   "
                  f"by GSD {parts['gsd']}", flush=True)  # fmt: skip
            print(f"  {'':>18}  90 % over the scenes: {scenes_text(per_scene, base)}", flush=True)
            base = per_scene if base is None else base
    return 0


if __name__ == "__main__":
    sys.exit(main())
