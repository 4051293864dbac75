"""``ccount train --out PATH [--steps N] [--batch-size B] [--seed S] [--device D] ...``.

Trains the container detector on synthetic tiles generated on the fly (and, with
``--labels DIR``, on label sets), then writes a weights file with its metadata. ``--init``
starts from existing weights (fine-tuning). The default recipe is the one that made the
shipped ``models/ccount-centernet.pt`` (see ``scripts/train.py`` and ``models/MODEL_CARD.md``).

Long trainings run in resumable chunks: the whole training state goes to ``<out>.ckpt`` (or
``--checkpoint PATH``) every ``--checkpoint-every`` seconds and when a chunk ends
(``--stop-after-steps N``, ``--max-minutes M``: exit 0; Ctrl-C: exit 130);
The synthetic tiles are those of the shipped weights unless told otherwise (four rendering
families, the v2 terminal layouts and hard negatives, 20 % winter:
:data:`detector.model.config.SHIPPED_DATA`); ``--families classic=1 --layouts v1 --snow 0``
is the plain generator (all recorded in the weights and the model card). A fine-tune
(``--init W``) draws them as ``W``'s own recipe did (the data options it does not give:
:func:`detector.model.config.recipe_data`), so it keeps the variation ``W`` last trained
on, look-alike settings' weights included.
``ccount train --resume CKPT`` continues it (the checkpoint carries the other options; one
given that would change the result is an error naming the fields, exit 2) and gives the
weights of the uninterrupted run. A finished run removes its checkpoint.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "train the container detector on synthetic tiles (and label sets); write weights"


def configure(parser) -> None:
    from ..model.config import COLOURS, SHIPPED_DATA, TrainConfig
    from ..model.tiers import TIERS_OUTPUTS

    d = TrainConfig(out=Path("-"))
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="PATH",
        help="weights file to write (required, except with --resume: the checkpoint's)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        metavar="N",
        help=f"optimizer steps (default {d.steps})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="B",
        help=f"tiles per step (default {d.batch_size})",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=None,
        metavar="PX",
        help=f"training tile size in pixels, multiple of 32 (default {d.size_px})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="S",
        help="run seed: samples, init, order (default 0)",
    )
    parser.add_argument(
        "--lr", type=float, default=None, help=f"peak learning rate (default {d.lr})"
    )
    parser.add_argument(
        "--device",
        default=None,
        choices=("auto", "cpu", "cuda"),
        help="auto (default) picks CUDA when present",
    )
    parser.add_argument(
        "--init",
        type=Path,
        default=None,
        metavar="PATH",
        help="start from these weights (fine-tune)",
    )
    parser.add_argument(
        "--labels",
        type=Path,
        default=None,
        metavar="DIR",
        help="label sets (GeoJSON truth/reviewed + scenes, or COCO json) to mix in",
    )
    parser.add_argument(
        "--label-fraction",
        type=float,
        default=None,
        metavar="F",
        help="share of each batch from --labels (default 0.5)",
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=None,
        metavar="N",
        help=f"synthetic samples kept in memory (default {d.pool_size})",
    )
    parser.add_argument(
        "--refresh",
        type=int,
        default=None,
        metavar="N",
        help=f"new samples per step (default {d.refresh_per_step})",
    )
    parser.add_argument(
        "--val-samples",
        type=int,
        default=None,
        metavar="N",
        help="held-out synthetic samples scored at the end (0: none)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help=f"CPU threads for torch (default {d.threads}: safe on a shared machine; the shipped "
        "recipe, scripts/train.py, uses 2 on an idle one: ~1.45x faster there, much slower "
        "on a busy one)",
    )
    parser.add_argument(
        "--gen-workers",
        type=int,
        default=None,
        metavar="N",
        help="processes rendering synthetic samples ahead, same samples either way (default: "
        "0 on CPU, where they would take the model's cores; on CUDA the cores but one, 1 to 8)",
    )
    parser.add_argument(
        "--tiers-output",
        choices=TIERS_OUTPUTS,
        default=None,
        help=f"what the tiers channel learns (default {d.tiers_output}: stack tiers, as "
        "shipped; log_shadow_m: the stack's shadow length, turned into tiers with the "
        "scene's sun -- experimental, it has not learned in the trials on the model card)",
    )
    parser.add_argument(
        "--snow",
        type=float,
        default=None,
        metavar="P",
        help="fraction of synthetic tiles drawn in winter, snow and sea ice "
        f"(default {SHIPPED_DATA['snow']}, as shipped)",
    )
    parser.add_argument(
        "--deep-snow",
        type=float,
        default=None,
        metavar="P",
        help="fraction of the winter tiles whose container tops carry deep snow, white edge "
        "to edge with the joints between boxes gone (default 0, as shipped; a study: "
        "docs/training.md)",
    )
    parser.add_argument(
        "--families",
        default=None,
        metavar="MIX",
        help="rendering-family mix of the synthetic tiles, NAME=WEIGHT,... (default "
        f"{','.join(f'{k}={v:g}' for k, v in SHIPPED_DATA['families'].items())}, as shipped; classic=1: the plain generator)",
    )
    parser.add_argument(
        "--layouts",
        default=None,
        choices=("v1", "v2"),
        help=f"layout generator (default {SHIPPED_DATA['layouts']}, as shipped: terminal "
        "layouts, occlusion and hard negatives such as bus depots, see "
        "detector.synth.terminal; v1: the plain one)",
    )
    parser.add_argument(
        "--setting-weights",
        default=None,
        metavar="MIX",
        help="weights of v2 layout settings, NAME=WEIGHT,... replacing theirs in "
        "detector.synth.terminal.WEIGHTS_V2 (which sum to 1: yard 0.17, town 0.05, field "
        "0.04, carpark 0, ...), then renormalised; e.g. town=0.12,carpark=0.06",
    )
    parser.add_argument(
        "--colour",
        choices=COLOURS,
        default=None,
        help="photometric jitter of training tiles: tone (default, as shipped: gamma, gain, "
        "offset), chroma (also hue +-30 degrees, saturation 0.4-1.6, one tile in ten grey) or "
        "randconv (chroma, then half the tiles through a random convolution: texture varies)",
    )
    parser.add_argument(
        "--widths",
        default=None,
        metavar="W2,W4,W8,W16,W32",
        help="encoder channels at strides 2-32 of a model trained from scratch (default "
        "16,32,64,96,128; the shipped weights: 16,32,96,192,320, scripts/train.py); wider deep "
        "stages add parameters at little cost a pixel",
    )
    parser.add_argument(
        "--heads",
        default=None,
        metavar="NAMES",
        help="with --init: train only the readout of these outputs (e.g. hull,bridge); every "
        "other weight is frozen, so the other outputs stay the init weights' bit for bit",
    )
    parser.add_argument(
        "--loss-weights",
        default=None,
        metavar="MIX",
        help="weights of loss terms, NAME=WEIGHT,... replacing theirs in "
        "detector.model.losses.LOSS_WEIGHTS (heatmap 1, offset 1, size 1, angle 1, tiers 0.2, "
        "hull 1, bridge 0.5); e.g. hull=3",
    )
    parser.add_argument(
        "--slot-negatives",
        type=float,
        default=None,
        metavar="K",
        help="weigh the heatmap's background up to 1+K times at the empty slots beside "
        "containers (across their axis), where most false containers sit (default 0, as "
        "shipped; detector.model.slots)",
    )
    parser.add_argument(
        "--ema",
        type=float,
        default=None,
        metavar="DECAY",
        help="save an exponential moving average of the weights with this decay per step, "
        f"e.g. 0.999 (default {d.ema}: the last weights)",
    )
    chunks = parser.add_argument_group(
        "chunks", "long trainings in resumable chunks: same weights as one uninterrupted run"
    )
    chunks.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="CKPT",
        help="continue the run of this checkpoint; other options may be left out (it carries "
        "them); one that would change the result is an error",
    )
    chunks.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        metavar="PATH",
        help="checkpoint file (default: the --resume file, else <out>.ckpt); removed when "
        "the run finishes",
    )
    chunks.add_argument(
        "--checkpoint-every",
        type=float,
        default=d.checkpoint_every_s,
        metavar="S",
        help=f"write the checkpoint every S seconds (default {d.checkpoint_every_s:g}) and "
        "at the end of a chunk",
    )
    chunks.add_argument(
        "--stop-after-steps",
        type=int,
        default=None,
        metavar="N",
        help="end this chunk after N more steps (checkpoint written; exit 0)",
    )
    chunks.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        metavar="M",
        help="end this chunk after the step that passes M minutes (checkpoint written; exit 0)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")  # fmt: skip


# option -> TrainConfig field, for the options that are part of the recipe
_OPTIONS = {
    "steps": "steps", "batch_size": "batch_size", "size": "size_px", "seed": "seed",
    "lr": "lr", "device": "device", "init": "init", "labels": "labels",
    "label_fraction": "label_fraction", "pool": "pool_size", "refresh": "refresh_per_step",
    "val_samples": "val_samples", "threads": "threads", "gen_workers": "gen_workers",
    "tiers_output": "tiers_output", "snow": "snow", "deep_snow": "deep_snow", "ema": "ema",
    "families": "families", "layouts": "layouts", "setting_weights": "setting_weights",
    "loss_weights": "loss_weights", "colour": "colour", "heads": "heads",
    "slot_negatives": "slot_negatives",
}  # fmt: skip


def _from_checkpoint(path: Path) -> tuple[dict, Path | None]:
    """(TrainConfig fields from the checkpoint's config, its weights path)."""
    import dataclasses

    from ..model.checkpoint import read_checkpoint
    from ..model.config import TrainConfig

    payload = read_checkpoint(path)
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    fields = {k: v for k, v in payload["config"].items() if k in names}
    for k in ("init", "labels"):
        if fields.get(k) is not None:
            fields[k] = Path(fields[k])
    out = payload.get("out")
    return fields, None if out is None else Path(out)


def run(args) -> int:
    from .._io import check_output_file
    from ..errors import ConfigError
    from ..model.checkpoint import checkpoint_path
    from ..model.config import SHIPPED_DATA
    from ..model.train import TrainConfig, train

    given = {field: getattr(args, opt) for opt, field in _OPTIONS.items()}
    given = {k: v for k, v in given.items() if v is not None}
    if "families" in given:
        from ..synth.mixes import parse_mix

        given["families"] = parse_mix(given["families"])
    if "setting_weights" in given:
        from ..synth.mixes import parse_mix

        given["setting_weights"] = parse_mix(given["setting_weights"], option="--setting-weights")
    if "loss_weights" in given:
        from ..model.losses import parse_loss_weights

        given["loss_weights"] = parse_loss_weights(given["loss_weights"])
    if args.widths is not None:
        from ..model.net import parse_widths

        if args.init is not None:
            raise ConfigError("--widths: not with --init (the init weights' architecture is used)")
        given["arch_kwargs"] = {"widths": parse_widths(args.widths)}
    drawn_as_init = False
    if args.resume is not None:  # the checkpoint carries its recipe
        fields, out = _from_checkpoint(args.resume)
    elif args.init is not None:  # a fine-tune keeps the synthetic data its init trained on
        from ..model.config import DATA_OPTIONS, recipe_data
        from ..model.weights import read_meta

        fields, out = recipe_data(read_meta(args.init).recipe), None
        drawn_as_init = not set(DATA_OPTIONS) <= set(given)  # some options not given
    else:
        fields, out = dict(SHIPPED_DATA), None
    out = args.out or out
    if out is None:
        raise ConfigError("--out PATH is required (the weights file to write)")
    check_output_file(out)  # before training, not after it
    check_output_file(checkpoint_path(out, args.checkpoint, args.resume))

    config = TrainConfig(
        **{**fields, **given},
        out=out,
        checkpoint=args.checkpoint,
        checkpoint_every_s=args.checkpoint_every,
        stop_after_steps=args.stop_after_steps,
        max_minutes=args.max_minutes,
    )

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if drawn_as_init and not args.quiet:
        from ..model.config import describe_data

        log(f"synthetic tiles as {args.init} was trained on: {describe_data(config)}")

    result = train(config, log=None if args.quiet else log, resume=args.resume)
    if not result.finished:
        print(
            f"stopped at step {result.steps_done}/{config.steps}; checkpoint {result.checkpoint}; "
            f"continue with: ccount train --resume {result.checkpoint}"
        )
        return 0
    val = result.meta.metrics.get("synthetic_val", {})
    print(
        f"wrote {result.path} sha256 {result.meta.state_sha256[:16]} "
        f"steps {config.steps} in {result.seconds:.0f}s on {result.device}"
        + (f"; held-out F1 {val['f1']:.3f}, count error {val['count_error']:+.3f}" if val else "")
    )
    if result.meta.recipe.get("score_thresh_inherited"):
        print(f"detection threshold {result.meta.score_thresh:g} inherited from {config.init}, not "
              f"recalibrated: scripts/calibrate_threshold.py --model {result.path} --write")  # fmt: skip
    return 0
