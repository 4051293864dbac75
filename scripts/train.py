"""Recipe that produces the shipped detector weights and their model card.

Usage (from the repository root)::

    .venv/bin/python scripts/train.py                 # full recipe -> models/ccount-centernet.pt
    .venv/bin/python scripts/train.py --steps 200     # a quick try (writes the same files!)
    .venv/bin/python scripts/train.py --card-only     # rewrite models/MODEL_CARD.md from the weights

The recipe is :class:`detector.model.train.TrainConfig`'s defaults with seed 0: 6000 steps of
16 synthetic 256 px tiles (made on the fly, a pool of 384 refreshed 3 per step), AdamW
lr 3e-3, cosine decay, bfloat16 autocast where the CPU supports it, ONE torch thread by
default: on a machine shared with other work, two OpenMP threads on two cores spin at every
barrier whenever one is preempted and run 5-10x slower than one thread (measured); on an
idle 2-core machine ``--threads 2`` is ~1.5x faster. It takes about 40-60 minutes on 2
CPU cores; a few minutes on a GPU. Equivalent CLI::

    ccount train --out models/ccount-centernet.pt --seed 0 --threads 1

Same seed + machine + thread count -> the same weights (the model card records the generator
version, code version, hardware and hashes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detector._io import atomic_write_text  # noqa: E402
from detector.model.card import render_model_card  # noqa: E402
from detector.model.train import TrainConfig, train  # noqa: E402
from detector.model.weights import read_meta  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    d = TrainConfig(out=Path("-"))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "models" / "ccount-centernet.pt")
    p.add_argument("--card", type=Path, default=ROOT / "models" / "MODEL_CARD.md")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    p.add_argument("--card-only", action="store_true", help="only rewrite the card")
    args = p.parse_args(argv)
    if not args.card_only:
        config = TrainConfig(
            out=args.out, steps=args.steps, seed=args.seed, device=args.device, threads=args.threads
        )
        train(config, log=lambda m: print(m, flush=True))
    meta = read_meta(args.out)
    atomic_write_text(args.card, render_model_card(args.out, meta))
    print(f"wrote {args.card}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
