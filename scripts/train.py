"""Recipe that produces the shipped detector weights and their model card.

Usage (from the repository root)::

    .venv/bin/python scripts/train.py                   # both stages -> models/ccount-centernet.pt
    .venv/bin/python scripts/train.py --stage 2         # only stage 2, from the stage-1 file
    .venv/bin/python scripts/train.py --card-only       # rewrite models/MODEL_CARD.md

The shipped recipe (weights of 2026-12-05 "four-wide", the defaults: ``--widths
16,32,96,192,320 --families classic=1,flat=1,photo=1,relief=1 --layouts v2 --stage2-winter
0.3 --stage2-setting-weights town=0.12,field=0.08,carpark=0.06 --stage2-loss-weights none
--threads 1``):

Stage 1: a network with encoder widths 16, 32, 96, 192, 320 (3.0 M parameters; the
weights before had 16, 32, 64, 96, 128, 1.1 M), 6000 steps of 16 synthetic 256 px tiles
made on the fly
(``detector.synth.training_sample``, a pool of 384 refreshed 3 per step), each tile drawn in
one of four rendering families in equal shares (classic, flat, photo, relief:
``detector.synth.families``; the fifth, oblique, is held out as the unseen benchmark) on the
v2 layouts (terminal layouts, spreaders over stacks,
containers on chassis and flat cars, deck patterns and hatch covers, and 35 % look-alike
settings labelled as background: bus depots, truck parks, rail yards, bulk carriers, town
blocks, greenhouses and solar rows; ``detector.synth.terminal``), 20 % of the tiles in
winter (snow and sea ice in every family, ``detector.synth.weather``,
``detector.synth.families.flat_snow``), AdamW lr 3e-3, cosine decay, bfloat16 autocast
where the CPU supports it, seed 0, ONE torch thread. Equivalent CLI::

    ccount train --out WORK/stage1.pt --steps 6000 --snow 0.2 --seed 0 --threads 1 \
        --families classic=1,flat=1,photo=1,relief=1 --layouts v2 --widths 16,32,96,192,320

Stage 2: 60 whole synthetic port scenes, drawn in the same family mix, 30 % of them in
winter (``scripts/make_finetune_set.py --families ... --winter 0.3``, scene seeds
50000-50059; the test set uses 70000+), become a label set, and the stage-1 weights are
fine-tuned on half label windows, half synthetic tiles for 6000 steps at lr 1e-3 with the
default loss weights (the narrower weights before these weighted the hull and bridge terms
twice, ``--stage2-loss-weights hull=2,bridge=1``, to name more ships; the wider network
names as many without it: 112 against 113 of 205). The
synthetic tiles of stage 2 draw town blocks (car parks), fields (solar rows, greenhouses)
and car terminals more often than stage 1 (``--setting-weights town=0.12,field=0.08,
carpark=0.06`` against 0.05 / 0.04 / 0 of ``detector.synth.terminal.WEIGHTS_V2``: 44 % of
the tiles look-alike-only instead of 35 %), the settings the false boxes of the previous
weights sat on. Whole scenes carry what tiles lack (long stretches of water with waves,
piers, rail yards, the scene-wide stretch). Equivalent CLI::

    ccount train --init WORK/stage1.pt --labels WORK/finetune-winter0.3 --steps 6000 \
        --lr 1e-3 --snow 0.2 --seed 0 --threads 1 --families classic=1,flat=1,photo=1,relief=1 \
        --layouts v2 --setting-weights town=0.12,field=0.08,carpark=0.06 \
        --out models/ccount-centernet.pt

then ``scripts/calibrate_threshold.py --model models/ccount-centernet.pt --write``
(validation scenes only, seeds 8001 and 8002: their sun spans 21-64 degrees) stores the
detection threshold in the file (0.39; 0.41 when it was calibrated on seed 8001 alone, all under
a high sun).

Both stages of the shipped weights were trained at commit 7146e67. Since then the families
gained a fifth (oblique, in no recipe) and two modules were split; the training samples of
the recipe are the same (SHA-256 over 60 stage-1 samples at 7146e67 and at the commit that
shipped the weights, docs/training.md) and so are the stage-2 scenes, so this script reproduces both
stages, but re-runs stage 1 (its generator version, a hash of ``detector/synth``, differs).
The narrower weights of 2026-12-05 ("four-hull"): commit 7146e67 with ``--widths
16,32,64,96,128 --stage2-loss-weights hull=2,bridge=1``. The weights of 2026-12-04 (three
families, default loss weights): commit 7d4ffaf with
``--families classic=1,flat=1,photo=1 --widths 16,32,64,96,128``; of 2026-12-03 (no
winter scenes in stage 2, the flat family without winter, no setting weights): commit
d066646 with its defaults (and ``--widths 16,32,64,96,128``).

Time: the shipped weights took 128 min (stage 1) and 146 min (stage 2) on one thread of an
AMD EPYC shared with other work (0.7 steps/s at the end); the narrower network of the
weights before took ~50 min a stage on an Intel Xeon (2.0-2.2 steps/s). Run it in chunks
across sessions if need be (below). One thread because two stall at every OpenMP barrier
when anything else takes a core (5-10x slower on a busy machine), and thread count changes
the weights.

``--families classic=1 --layouts v1 --threads 2`` is the previous recipe (classic family
only, no hard negatives: the weights before 2026-12-03, in git history).

Same seeds + machine + thread count -> the same weights (the model card records the
generator version, code version, hardware and hashes).

Resumable: each stage keeps a training checkpoint (``imagery/generated/stage1.ckpt``,
``stage2.ckpt``; every ``--checkpoint-every`` seconds, default 300, and when a chunk ends;
see ``detector.model.checkpoint``), so a run that is killed, interrupted (Ctrl-C) or ended by
``--max-minutes M`` continues when the script is run again with the same options, and gives
the weights an uninterrupted run gives, bit for bit. A re-run skips a stage whose weights
file is already complete for the same recipe (its recipe and ``steps_done`` in the
metadata), resumes a stage that has a checkpoint, and starts the others; ``--restart``
ignores both. The checkpoints are removed when their stage finishes; commit the weights and
card, never a checkpoint. For example, in chunks of at most 50 minutes::

    .venv/bin/python scripts/train.py --max-minutes 50     # again until it writes the card
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import make_finetune_set  # noqa: E402

from detector._io import atomic_write_text  # noqa: E402
from detector.errors import CountError  # noqa: E402
from detector.model.card import render_model_card  # noqa: E402
from detector.model.config import COLOURS  # noqa: E402
from detector.model.losses import parse_loss_weights  # noqa: E402
from detector.model.net import parse_widths  # noqa: E402
from detector.model.provenance import generator_version  # noqa: E402
from detector.model.train import TrainConfig, train  # noqa: E402
from detector.model.weights import read_meta  # noqa: E402
from detector.synth.mixes import parse_mix  # noqa: E402

GENERATED = ROOT / "imagery" / "generated"
STAGE1_STEPS = 6000
STAGE2_STEPS = 6000
STAGE2_SCENES = make_finetune_set.SCENES  # whole scenes of stage 2 (see --help)
STAGE2_LR = 1e-3
THREADS = 1  # see the docstring
FAMILIES = "classic=1,flat=1,photo=1,relief=1"
LAYOUTS = "v2"
SNOW = 0.2
STAGE2_LOSS_WEIGHTS = "none"  # the library's loss weights (the four-hull weights: hull=2,bridge=1)
WIDTHS = "16,32,96,192,320"  # encoder widths (3.0 M parameters)
STAGE2_WINTER = 0.3  # share of stage-2 scenes in winter (see --help)
# look-alike settings stage 2's tiles draw more often (detector.synth.terminal.WEIGHTS_V2)
STAGE2_SETTINGS = "town=0.12,field=0.08,carpark=0.06"
MARKER = "\n<!-- measured: kept by --card-only -->\n"


def _mix_or_none(text: str | None, parse):
    """``parse(text)``, or None for no text or ``none`` (the library's defaults)."""
    return None if text is None or text.strip().lower() == "none" else parse(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "models" / "ccount-centernet.pt")
    p.add_argument("--card", type=Path, default=ROOT / "models" / "MODEL_CARD.md")
    p.add_argument("--stage1", type=Path, default=None, help="default: WORK/stage1.pt")
    p.add_argument(
        "--work",
        type=Path,
        default=GENERATED,
        help="stage-1 weights, checkpoints and the stage-2 scenes (default imagery/generated;"
        " give another recipe its own)",
    )
    p.add_argument("--stage", choices=("1", "2", "all"), default="all")
    p.add_argument("--steps", type=int, default=STAGE1_STEPS, help="stage-1 steps")
    p.add_argument("--stage2-steps", type=int, default=STAGE2_STEPS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--threads", type=int, default=THREADS, help="torch CPU threads")
    p.add_argument("--snow", type=float, default=SNOW, help="fraction of winter tiles")
    p.add_argument(
        "--deep-snow",
        type=float,
        default=0.0,
        metavar="P",
        help="share of the winter tiles (both stages) whose tops carry deep snow (ccount train "
        "--deep-snow; default 0, as shipped)",
    )
    p.add_argument(
        "--stage2-winter",
        type=float,
        default=STAGE2_WINTER,
        metavar="P",
        help=f"share of the stage-2 scenes in winter (default {STAGE2_WINTER}, as shipped; "
        "the weights of 2026-12-03 used 0)",
    )
    p.add_argument(
        "--stage2-scenes",
        type=int,
        default=STAGE2_SCENES,
        metavar="N",
        help=f"whole scenes stage 2 fine-tunes on (scene seeds 50000 up; default {STAGE2_SCENES},"
        " as shipped; more: more layouts, suns and products at the same steps)",
    )
    p.add_argument(
        "--stage2-setting-weights",
        default=STAGE2_SETTINGS,
        metavar="MIX",
        help="weights of these v2 layout settings in stage 2's synthetic tiles (ccount train "
        f"--setting-weights; default {STAGE2_SETTINGS}, as shipped; 'none': the shares of "
        "WEIGHTS_V2, as the weights of 2026-12-03)",
    )
    p.add_argument(
        "--stage2-loss-weights",
        default=STAGE2_LOSS_WEIGHTS,
        metavar="MIX",
        help="weights of loss terms in stage 2 (ccount train --loss-weights; default "
        f"{STAGE2_LOSS_WEIGHTS}, as shipped: detector.model.losses.LOSS_WEIGHTS; hull=2,bridge=1:"
        " the narrower four-hull weights of 2026-12-05)",
    )
    p.add_argument(
        "--families",
        default=FAMILIES,
        metavar="MIX",
        help=f"rendering-family mix (default {FAMILIES}, as shipped; classic=1,flat=1,photo=1:"
        " the weights of 2026-12-04; classic=1: before)",
    )
    p.add_argument(
        "--layouts",
        choices=("v1", "v2"),
        default=LAYOUTS,
        help="layout generator (default v2, as shipped: terminal layouts and hard negatives; "
        "v1: the previous)",
    )
    p.add_argument(
        "--colour",
        choices=COLOURS,
        default="tone",
        help="photometric jitter of both stages (ccount train --colour; default tone, as shipped)",
    )
    p.add_argument(
        "--widths",
        default=WIDTHS,
        metavar="W2,W4,W8,W16,W32",
        help=f"stage 1's encoder widths (ccount train --widths; default {WIDTHS}, as shipped; "
        "16,32,64,96,128: the weights before); stage 2 inherits them",
    )
    p.add_argument("--card-only", action="store_true", help="only rewrite the card")
    p.add_argument("--max-minutes", type=float, default=None, help="end this chunk after M min")
    p.add_argument("--checkpoint-every", type=float, default=300.0, metavar="S")
    p.add_argument("--restart", action="store_true", help="ignore checkpoints and done stages")
    args = p.parse_args(argv)
    log = lambda m: print(m, flush=True)  # noqa: E731
    try:
        families = None if args.families is None else parse_mix(args.families)
        boost = _mix_or_none(
            args.stage2_setting_weights, lambda t: parse_mix(t, option="--setting-weights")
        )
        loss_w = _mix_or_none(args.stage2_loss_weights, parse_loss_weights)
        arch = {} if args.widths is None else {"widths": parse_widths(args.widths)}
    except CountError as e:
        print(f"train.py: error: {e}", file=sys.stderr)
        return 2
    work = args.work
    args.stage1 = args.stage1 or work / "stage1.pt"
    common = dict(
        seed=args.seed, device=args.device, threads=args.threads, snow=args.snow,
        deep_snow=args.deep_snow, max_minutes=args.max_minutes, checkpoint_every_s=args.checkpoint_every,
        layouts=args.layouts,
        families=families, colour=args.colour,
    )  # fmt: skip
    stages = []
    if not args.card_only and args.stage in ("1", "all"):
        config = TrainConfig(
            out=args.stage1,
            steps=args.steps,
            checkpoint=work / "stage1.ckpt",
            arch_kwargs=arch,
            **common,
        )
        stages.append((config, None))
    if not args.card_only and args.stage in ("2", "all"):
        winter = args.stage2_winter  # its own folder: scenes already there are not re-rendered
        labels = work / ("finetune" if not winter else f"finetune-winter{winter:g}")
        if args.stage2_scenes != STAGE2_SCENES:
            labels = labels.with_name(f"{labels.name}-n{args.stage2_scenes}")
        scenes = ["--out", str(labels), "--winter", str(winter), "--n", str(args.stage2_scenes)]
        if args.families is not None:
            scenes += ["--families", args.families]
        config = TrainConfig(
            out=args.out,
            steps=args.stage2_steps,
            lr=STAGE2_LR,
            init=args.stage1,
            labels=labels,
            label_fraction=0.5,
            checkpoint=work / "stage2.ckpt",
            setting_weights=boost,
            loss_weights=loss_w,
            **common,
        )
        stages.append((config, lambda: make_finetune_set.main(scenes)))
    for config, prepare in stages:
        if not args.restart and _complete(config):
            log(f"{config.out}: complete for this recipe; stage skipped (--restart retrains)")
            continue
        if prepare is not None:
            prepare()
        resume = config.checkpoint if config.checkpoint.is_file() and not args.restart else None
        try:
            result = train(config, log=log, resume=resume)
        except CountError as e:
            print(f"train.py: error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # train() wrote its checkpoint before letting it through
            print(f"train.py: interrupted; run again to go on from {config.checkpoint}",
                  file=sys.stderr)  # fmt: skip
            return 130
        if not result.finished:
            log(f"stage stopped at step {result.steps_done}/{config.steps}: run again to go on")
            return 0
    meta = read_meta(args.out)
    # the hand-measured section (test set, speed, memory) below MARKER survives a rewrite
    kept = args.card.read_text().partition(MARKER)[2] if args.card.exists() else ""
    card = render_model_card(args.out, meta) + (MARKER + kept if kept else "")
    atomic_write_text(args.card, card)
    print(f"wrote {args.card}", flush=True)
    return 0


def _complete(config: TrainConfig) -> bool:
    """Whether ``config.out`` holds finished weights of this recipe (and no checkpoint of a
    newer run waits beside it)."""
    if not Path(config.out).is_file() or config.checkpoint.is_file():
        return False
    try:
        recipe = read_meta(config.out).recipe
    except CountError:
        return False
    want = {**config.recipe(), "generator": generator_version(), "steps_done": config.steps}
    return all(recipe.get(k) == v for k, v in want.items() if k != "gen_workers")


if __name__ == "__main__":
    sys.exit(main())
