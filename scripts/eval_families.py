"""A model on each rendering family's test patches, by GSD bin and by region.

Usage (from the repository root)::

    .venv/bin/python scripts/eval_families.py [--model models/ccount-centernet.pt]
        [--families classic flat ...] [--samples 192] [--size 256] [--layouts v2]
        [--json /tmp/ccount-families.json]

Every family of the registry (default) draws the same fixed test layouts, patch seeds
``FAMILY_TEST_SEED_BASE + i`` (below the training seeds, apart from the validation ones),
at native GSD 0.3-0.6 m resampled to the model's GSD. The model runs on each patch
(:func:`detector.model.validate.score_detections`: a match is a centre within 1.25 m);
metrics are pooled per family overall, per native-GSD bin (0.3-0.4, 0.4-0.5, 0.5-0.6 m)
and per region of the patch's setting (deck, quay, yard, rail; look-alike and other
settings only count false containers: their F1 and count columns print "-" when the group
holds under 20 true containers). F1, count error ((predicted - true) / true) and
kind accuracy (20ft/40ft of the matches). Prints a table, writes the JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FAMILY_TEST_SEED_BASE = 500_000
BINS = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6))
REGIONS = ("deck", "quay", "yard", "rail", "other")


def gsd_bin(gsd_m: float) -> str:
    k = int(np.clip(np.floor((gsd_m - 0.3) / 0.1 + 1e-9), 0, len(BINS) - 1))
    return f"{BINS[k][0]:.1f}-{BINS[k][1]:.1f}"


def predict(model, samples, *, tiers_output: str, batch_size: int = 16):
    """(predictions, truths) per sample, inside the patch, in patch pixels."""
    import torch

    from detector.model.decode import decode
    from detector.model.tiers import tiers_from_output

    preds, truths = [], []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            x = torch.from_numpy(np.stack([s.image for s in chunk]).astype(np.float32))
            for s, p in zip(chunk, decode(model(x)), strict=True):
                h, w = s.image.shape[1:]
                p = replace(p, tiers=tiers_from_output(p.tiers, tiers_output, s.sun_elevation_deg))
                inside = (p.cx >= 0) & (p.cx < w) & (p.cy >= 0) & (p.cy < h)
                preds.append(p.select(inside))
                truths.append(s.containers)
    return preds, truths


def evaluate(model_path: Path, families, *, samples: int, size_px: int, layouts: str) -> dict:
    from detector.model.validate import score_detections
    from detector.model.weights import load_model
    from detector.synth.terminal import REGION_OF
    from detector.synth.training import training_sample

    model, meta = load_model(model_path, device="cpu")
    match_px = 1.25 / meta.gsd_m
    out: dict = {"model": str(model_path), "layouts": layouts, "samples": samples,
                 "size_px": size_px, "seeds": f"{FAMILY_TEST_SEED_BASE}..{FAMILY_TEST_SEED_BASE + samples - 1}",
                 "families": {}}  # fmt: skip
    for fam in families:
        test = [training_sample(FAMILY_TEST_SEED_BASE + i, size_px=size_px, out_gsd_m=meta.gsd_m,
                                family=fam, layouts=layouts) for i in range(samples)]  # fmt: skip
        preds, truths = predict(model, test, tiers_output=meta.tiers_output)

        def score(sel, preds=preds, truths=truths):
            m = score_detections(
                [preds[i] for i in sel], [truths[i] for i in sel], match_px=match_px
            )
            d = m.as_dict()
            return {k: d[k] for k in ("n_truth", "n_pred", "precision", "recall", "f1",
                                      "count_error", "kind_accuracy")} | {"patches": len(sel)}  # fmt: skip

        idx = range(len(test))
        by_gsd = {
            b: [i for i in idx if gsd_bin(test[i].native_gsd_m) == b] for b in map(_bname, BINS)
        }
        region = [REGION_OF.get(t.setting, "other") for t in test]
        by_region = {r: [i for i in idx if region[i] == r] for r in REGIONS}
        out["families"][fam] = {
            "overall": score(list(idx)),
            "by_gsd": {b: score(s) for b, s in by_gsd.items() if s},
            "by_region": {r: score(s) for r, s in by_region.items() if s},
        }
    return out


def _bname(b) -> str:
    return f"{b[0]:.1f}-{b[1]:.1f}"


def format_table(report: dict) -> str:
    lines = [f"{'family':10} {'group':10} {'patches':>7} {'truth':>6} {'pred':>6} {'F1':>6} "
             f"{'count':>7} {'kind':>6}"]  # fmt: skip
    for fam, d in report["families"].items():
        groups = [("all", d["overall"])] + list(d["by_gsd"].items()) + list(d["by_region"].items())
        for name, m in groups:
            few = m["n_truth"] < 20  # look-alike settings: only the false containers count
            f1, count = ("-", "-") if few else (f"{m['f1']:.3f}", f"{m['count_error']:+.3f}")
            lines.append(f"{fam:10} {name:10} {m['patches']:>7} {m['n_truth']:>6} {m['n_pred']:>6} "
                         f"{f1:>6} {count:>7} {m['kind_accuracy']:>6.3f}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from detector._io import atomic_write_text
    from detector.synth.families.registry import FAMILIES

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=ROOT / "models" / "ccount-centernet.pt")
    p.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    p.add_argument("--samples", type=int, default=192, help="test patches per family")
    p.add_argument("--size", type=int, default=256, help="patch size in pixels")
    p.add_argument("--layouts", choices=("v1", "v2"), default="v2")
    p.add_argument("--json", type=Path, default=Path("/tmp/ccount-families.json"))
    args = p.parse_args(argv)
    report = evaluate(args.model, args.families, samples=args.samples, size_px=args.size,
                      layouts=args.layouts)  # fmt: skip
    atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
    print(format_table(report))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
