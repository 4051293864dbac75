"""``ccount train --out PATH [--steps N] [--batch-size B] [--seed S] [--device D] ...``.

Trains the container detector on synthetic tiles generated on the fly (and, with
``--labels DIR``, on label sets), then writes a weights file with its metadata. ``--init``
starts from existing weights (fine-tuning). The default recipe is the one that made the
shipped ``models/ccount-centernet.pt`` (see ``scripts/train.py`` and ``models/MODEL_CARD.md``).
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "train the container detector on synthetic tiles (and label sets); write weights"


def configure(parser) -> None:
    from ..model.tiers import TIERS_OUTPUTS
    from ..model.train import TrainConfig

    d = TrainConfig(out=Path("-"))
    parser.add_argument(
        "--out", required=True, type=Path, metavar="PATH", help="weights file to write"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=d.steps,
        metavar="N",
        help=f"optimizer steps (default {d.steps})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=d.batch_size,
        metavar="B",
        help=f"tiles per step (default {d.batch_size})",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=d.size_px,
        metavar="PX",
        help=f"training tile size in pixels, multiple of 32 (default {d.size_px})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=d.seed,
        metavar="S",
        help="run seed: samples, init, order (default 0)",
    )
    parser.add_argument(
        "--lr", type=float, default=d.lr, help=f"peak learning rate (default {d.lr})"
    )
    parser.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="auto picks CUDA when present",
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
        default=d.label_fraction,
        metavar="F",
        help="share of each batch from --labels (default 0.5)",
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=d.pool_size,
        metavar="N",
        help=f"synthetic samples kept in memory (default {d.pool_size})",
    )
    parser.add_argument(
        "--refresh",
        type=int,
        default=d.refresh_per_step,
        metavar="N",
        help=f"new samples per step (default {d.refresh_per_step})",
    )
    parser.add_argument(
        "--val-samples",
        type=int,
        default=d.val_samples,
        metavar="N",
        help="held-out synthetic samples scored at the end (0: none)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=d.threads,
        metavar="N",
        help=f"CPU threads for torch (default {d.threads}: safe on a shared machine; the shipped "
        "recipe, scripts/train.py, uses 2 on an idle one: ~1.45x faster there, much slower "
        "on a busy one)",
    )
    parser.add_argument(
        "--gen-workers",
        type=int,
        default=d.gen_workers,
        metavar="N",
        help="processes rendering synthetic samples ahead, same samples either way (default: "
        "0 on CPU, where they would take the model's cores; on CUDA the cores but one, 1 to 8)",
    )
    parser.add_argument(
        "--tiers-output",
        choices=TIERS_OUTPUTS,
        default=d.tiers_output,
        help=f"what the tiers channel learns (default {d.tiers_output}: stack tiers, as "
        "shipped; log_shadow_m: the stack's shadow length, turned into tiers with the "
        "scene's sun -- experimental, it has not learned in the trials on the model card)",
    )
    parser.add_argument(
        "--snow",
        type=float,
        default=d.snow,
        metavar="P",
        help=f"fraction of synthetic tiles drawn in winter, snow and sea ice (default {d.snow}; "
        "the shipped recipe, scripts/train.py, uses 0.2)",
    )
    parser.add_argument(
        "--ema",
        type=float,
        default=d.ema,
        metavar="DECAY",
        help="save an exponential moving average of the weights with this decay per step, "
        f"e.g. 0.999 (default {d.ema}: the last weights)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")  # fmt: skip


def run(args) -> int:
    from .._io import check_output_file
    from ..model.train import TrainConfig, train

    check_output_file(args.out)  # before training, not after it

    config = TrainConfig(
        out=args.out,
        steps=args.steps,
        batch_size=args.batch_size,
        size_px=args.size,
        lr=args.lr,
        seed=args.seed,
        device=args.device,
        init=args.init,
        labels=args.labels,
        label_fraction=args.label_fraction,
        pool_size=args.pool,
        refresh_per_step=args.refresh,
        val_samples=args.val_samples,
        threads=args.threads,
        gen_workers=args.gen_workers,
        tiers_output=args.tiers_output,
        snow=args.snow,
        ema=args.ema,
    )

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result = train(config, log=None if args.quiet else log)
    val = result.meta.metrics.get("synthetic_val", {})
    print(
        f"wrote {result.path} sha256 {result.meta.state_sha256[:16]} "
        f"steps {config.steps} in {result.seconds:.0f}s on {result.device}"
        + (f"; held-out F1 {val['f1']:.3f}, count error {val['count_error']:+.3f}" if val else "")
    )
    return 0
