"""The shipped model on held-out training patches of each rendering family.

Usage (from the repository root)::

    .venv/bin/python scripts/eval_families.py [--families classic flat photo]
        [--seeds 500 564] [--model models/ccount-centernet.pt]

Renders ``training_sample(seed, family=F)`` for seeds 500..563 (256 px at 0.4 m; training
uses seeds >= 1,000,000) and scores the model's tile output against each patch's truth
(:func:`detector.model.validate.validate`: a match within 1.25 m, one to one). Prints one
line per family: F1, precision, recall, count error and the number of true containers.
The README's family numbers come from this script.
"""

from __future__ import annotations

import argparse
import time

import torch

from detector.model.validate import validate
from detector.model.weights import canonical_gsd_m, load_model
from detector.synth.families import FAMILIES
from detector.synth.training import training_sample


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    p.add_argument("--seeds", type=int, nargs=2, default=(500, 564), metavar=("FIRST", "END"))
    p.add_argument("--model", default=None, help="weights file (default: the shipped model)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, meta = load_model(args.model)
    gsd = canonical_gsd_m()
    for fam in args.families:
        t = time.perf_counter()
        samples = [training_sample(s, family=fam, out_gsd_m=gsd) for s in range(*args.seeds)]
        m = validate(model, samples, gsd_m=gsd, tiers_output=meta.tiers_output)
        print(
            f"{fam}: F1 {m.f1:.3f} (P {m.precision:.3f}, R {m.recall:.3f}), count "
            f"{100 * m.count_error:+.1f} %, {m.n_truth} true containers, "
            f"{len(samples)} patches, {time.perf_counter() - t:.0f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
