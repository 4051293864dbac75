"""``ccount review gain ROUND --before OLD.pt --after NEW.pt``: measure a fine-tune."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "before/after on the round's hold-out units (P/R/F1, count error, kind, intervals, cost)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("round", type=Path, metavar="ROUND", help="a review round folder")
    p.add_argument("--before", type=Path, required=True, metavar="OLD.pt")
    p.add_argument("--after", type=Path, required=True, metavar="NEW.pt")
    p.add_argument("--truth", type=Path, default=None, metavar="DIR",
                   help="score against truth <scene>.geojson instead of the review")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def format_gain(doc: dict) -> str:
    m = doc["metrics"]
    rows = ["metric              before   after    delta    delta 90% CI"]
    for k in ("precision", "recall", "f1", "count_error", "count_error_signed", "kind_accuracy"):
        b, a, d = m["before"][k], m["after"][k], m["delta"][k]
        ci = m["delta_ci90"][k]

        def f(v):
            return "   -   " if v is None else f"{v:7.3f}"

        ci_s = "-" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"
        rows.append(f"{k:<18} {f(b)}  {f(a)}  {f(d)}  {ci_s}")
    c = doc["cost"]
    spd = c["seconds_per_decision"]
    rows.append(f"hold-out: {doc['holdout_units']} units, {doc['holdout_containers']} containers; "
                f"cost: {c['decisions']} decisions ({c['edits']} edits, {c['additions']} "
                f"additions), {'-' if spd is None else f'{spd:.1f}'} s/decision")  # fmt: skip
    g = doc["gain_per_100_decisions"]
    rows.append(f"F1 gain per 100 decisions: {'-' if g is None else f'{g:+.4f}'}")
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    from ..review.gain import GAIN_NAME, round_gain

    doc = round_gain(args.round, args.before, args.after, truth_dir=args.truth,
                     device=args.device, seed=args.seed)  # fmt: skip
    print(format_gain(doc))
    print(f"written to {Path(args.round) / GAIN_NAME}")
    return 0
