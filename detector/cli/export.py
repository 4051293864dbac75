"""``ccount export --format onnx|torchscript --out PATH [--model PATH] [--fixed-size H W]``.

Writes the detector network (BatchNorm folded) for use outside this package; the weights'
metadata travels in the file. See :mod:`detector.model.export`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "export the detector network to ONNX or TorchScript"


def configure(parser) -> None:
    parser.add_argument(
        "--format", required=True, choices=("onnx", "torchscript"), dest="fmt", help="output format"
    )
    parser.add_argument("--out", required=True, type=Path, metavar="PATH", help="file to write")
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="PATH",
        help="weights file (default: the shipped model)",
    )
    parser.add_argument(
        "--fixed-size", type=int, nargs=2, default=None, metavar=("H", "W"),
        help="ONNX only: fix the input height and width (default: dynamic)",
    )  # fmt: skip


def run(args) -> int:
    from ..model.export import export_model

    fixed = tuple(args.fixed_size) if args.fixed_size else None
    path = export_model(args.out, fmt=args.fmt, weights=args.model, fixed_hw=fixed)
    print(f"wrote {path} ({args.fmt})")
    return 0
