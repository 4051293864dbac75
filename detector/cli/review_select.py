"""``ccount review select DETECT_DIR --budget N --out ROUND``: pick what to review."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "pick the most doubtful review units of a detect/run folder and write a review round"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("detect_dir", type=Path, metavar="DETECT_DIR",
                   help="a ccount detect or ccount run output folder")  # fmt: skip
    p.add_argument("--budget", type=int, required=True, metavar="N",
                   help="candidate decisions to spend (review units are added until full)")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, metavar="ROUND", help="new round folder")
    p.add_argument("--strategy", default="mix", choices=("mix", "uncertain", "random"),
                   help="mix (default): doubt + spread + random control; uncertain; random")  # fmt: skip
    p.add_argument("--holdout-share", type=float, default=0.2, metavar="S",
                   help="share of the budget for random hold-out units (default 0.2)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scenes", type=Path, default=None, metavar="DIR",
                   help="find the scenes here (default: the paths the counts files record)")  # fmt: skip
    p.add_argument("--model", type=Path, default=None, metavar="PATH",
                   help="weights (default: the model the detect run used)")  # fmt: skip
    p.add_argument("--verifier", type=Path, default=None, metavar="PATH",
                   help="a --verify run's verifier file (default: where the run had it)")  # fmt: skip
    p.add_argument("--unit-px", type=int, default=256, metavar="PX",
                   help="review unit side in model pixels (default 256, ~100 m)")  # fmt: skip
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def run(args: argparse.Namespace) -> int:
    from ..review.select import SelectConfig, select_round

    config = SelectConfig(
        budget=args.budget, strategy=args.strategy, holdout_share=args.holdout_share,
        seed=args.seed, unit_px=args.unit_px, model=args.model, scenes_dir=args.scenes,
        device=args.device, verifier=args.verifier,
    )  # fmt: skip
    config.check()
    log = print if args.verbose else None
    rnd = select_round(args.detect_dir, args.out, config, log=log)
    units = list(rnd.units.values())
    for split in ("train", "holdout"):
        us = [u for u in units if u.split == split]
        n = sum(1 for c in rnd.candidates.values() if rnd.units[c.unit_id].split == split)
        print(f"{split}: {len(us)} units, {n} candidates")
    print(f"round written to {rnd.path}")
    return 0
