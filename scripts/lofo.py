"""Leave-one-family-out: for each rendering family, a model trained without it, tested on it.

Usage (from the repository root)::

    .venv/bin/python scripts/lofo.py [--out imagery/generated/lofo] [--steps 3000]
        [--max-minutes 50] [--layouts v2] [--hold-out classic flat ...] [--eval-samples 192]
        [--colour tone|chroma|randconv] [--train-on classic flat relief]

The held-out family's score predicts how a model does on imagery nobody here made. For each
family F of the registry but those in no training (``oblique``,
:data:`detector.synth.families.registry.HELD_OUT`), or of ``--hold-out`` (which may name
them: ``--hold-out oblique`` trains on the others and scores on it): ``ccount train
--families <the others, or those of ``--train-on`` but F, weight 1 each> --layouts L --out
<out>/lofo-F.pt`` then ``scripts/eval_families.py``'s evaluation
of that model on F's test patches. Training runs in resumable chunks: each call works for
at most ``--max-minutes`` in all (the checkpoint ``<out>/lofo-F.pt.ckpt`` is written every
``--checkpoint-every`` seconds and at the end), then exits 0; run it again (e.g. in the
background, ``nohup ... &``, or from cron) until it prints the table. Finished models and
their scores are kept (``<out>/lofo.json``), so a call never redoes work. A family whose
others are no family (only one registered) is skipped.

Each model is also scored on the families it trained on (same patches, same budget): the
gap between those and the held-out family is what the unseen look costs, apart from how
long the study trains. A finished model scored before that was added gets it on the next
call (no retraining).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _train_args(args, held: str, others: list[str], out: Path) -> list[str]:
    ckpt = Path(f"{out}.ckpt")
    if ckpt.is_file():  # continue: the checkpoint carries the recipe
        return ["train", "--resume", str(ckpt)]
    mix = ",".join(f"{f}=1" for f in others)
    a = ["train", "--out", str(out), "--families", mix, "--layouts", args.layouts,
         "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--size", str(args.size),
         "--seed", str(args.seed), "--val-samples", str(args.val_samples), "--device", args.device]  # fmt: skip
    if args.pool is not None:
        a += ["--pool", str(args.pool)]
    if args.colour != "tone":
        a += ["--colour", args.colour]
    return a


def main(argv: list[str] | None = None) -> int:
    from eval_families import evaluate, format_table

    from detector._io import atomic_write_text
    from detector.cli.main import main as ccount
    from detector.model.config import COLOURS
    from detector.synth.families.registry import FAMILIES, HELD_OUT

    trainable = [f for f in FAMILIES if f not in HELD_OUT]
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "imagery" / "generated" / "lofo")
    p.add_argument("--hold-out", nargs="+", default=trainable, choices=FAMILIES)
    p.add_argument(
        "--train-on", nargs="+", default=None, choices=FAMILIES, metavar="FAMILY",
        help="families to train on (default: every other one but oblique); the held-out one "
        "is dropped",
    )  # fmt: skip
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--pool", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-samples", type=int, default=0)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--layouts", choices=("v1", "v2"), default="v2")
    p.add_argument(
        "--colour",
        choices=COLOURS,
        default="tone",
        help="ccount train --colour",
    )
    p.add_argument("--max-minutes", type=float, default=50.0, help="work budget of this call")
    p.add_argument("--checkpoint-every", type=float, default=300.0, metavar="S")
    p.add_argument("--eval-samples", type=int, default=192)
    p.add_argument("--eval-size", type=int, default=256)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    state_path = args.out / "lofo.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {"families": {}}
    t0 = time.monotonic()
    for held in args.hold_out:
        others = [f for f in (args.train_on or trainable) if f != held]
        if not others:
            print(f"lofo: {held}: no other family to train on; skipped")
            continue
        if held in state["families"] and state["families"][held]["trained_on"] != others:
            print(f"lofo: {held}: {args.out} holds a model trained on "
                  f"{state['families'][held]['trained_on']}; use another --out")  # fmt: skip
            return 2
        if held in state["families"]:
            done = state["families"][held]
            if "trained_scores" not in done and Path(done["model"]).is_file():
                rep = evaluate(Path(done["model"]), others, samples=args.eval_samples,
                               size_px=args.eval_size, layouts=args.layouts)  # fmt: skip
                done["trained_scores"] = {f: rep["families"][f]["overall"] for f in others}
                atomic_write_text(state_path, json.dumps(state, indent=1) + "\n")
            continue
        out = args.out / f"lofo-{held}.pt"
        left = args.max_minutes - (time.monotonic() - t0) / 60
        if left <= 0:
            print("lofo: this call's time is spent; run it again to go on")
            return 0
        if not out.is_file() or Path(f"{out}.ckpt").is_file():
            a = _train_args(args, held, others, out)
            rc = ccount([*a, "--max-minutes", f"{max(left, 1e-4):.6g}", "--checkpoint-every",
                         str(args.checkpoint_every), "--quiet"])  # fmt: skip
            if rc != 0:
                return rc
            if Path(f"{out}.ckpt").is_file():
                print(f"lofo: {held}: training continues in the next call ({out}.ckpt)")
                return 0
        report = evaluate(out, [held, *others], samples=args.eval_samples,
                          size_px=args.eval_size, layouts=args.layouts)  # fmt: skip
        state["families"][held] = {
            "trained_on": others,
            "model": str(out),
            **report["families"][held],
            "trained_scores": {f: report["families"][f]["overall"] for f in others},
        }
        atomic_write_text(state_path, json.dumps(state, indent=1) + "\n")
    done = {"families": {f: state["families"][f] for f in args.hold_out if f in state["families"]}}
    print(format_table(done))
    print(
        f"{'held out':10} {'F1':>6} {'count':>7}   same model on its training families (F1, count)"
    )
    for held, d in done["families"].items():
        m = d["overall"]
        seen = ", ".join(f"{f} {v['f1']:.3f} {v['count_error']:+.3f}"
                         for f, v in d.get("trained_scores", {}).items())  # fmt: skip
        print(f"{held:10} {m['f1']:>6.3f} {m['count_error']:>+7.3f}   {seen}")
    print(f"wrote {state_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
