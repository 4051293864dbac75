"""``ccount review select|serve|export|import|simulate|labels|gain``: the annotation-review loop.

Each subcommand lives in its own module ``detector.cli.review_<name>`` exposing ``HELP``,
``configure(parser)`` and ``run(args) -> int`` (like the top-level commands); a subcommand
whose module is not there yet is left out of ``--help``.
"""

from __future__ import annotations

import argparse
import importlib

__all__ = ["HELP", "SUBCOMMANDS", "configure", "run"]

HELP = "review doubtful detections (browser, Label Studio, CVAT, QGIS), fine-tune, measure"
SUBCOMMANDS = ("select", "serve", "export", "import", "simulate", "labels", "gain")


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", metavar="SUBCOMMAND", required=True)
    for name in SUBCOMMANDS:
        modname = f"{__package__}.review_{name}"
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name == modname:
                continue  # subcommand not built yet
            raise
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        p.add_argument("-v", "--verbose", action="count", default=0, help="more detail; tracebacks")
        mod.configure(p)
        p.set_defaults(_review_run=mod.run)


def run(args: argparse.Namespace) -> int:
    return args._review_run(args)
