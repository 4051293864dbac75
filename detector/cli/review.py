"""``ccount review SUBCOMMAND``: the annotation-review loop.

Each subcommand lives in its own module ``detector.cli.review_<name>`` exposing ``HELP``,
``configure(parser)`` and ``run(args) -> int`` (like the top-level commands); a subcommand
whose module is not there yet is left out of ``--help``.
"""

from __future__ import annotations

import argparse
import importlib

__all__ = ["HELP", "SUBCOMMANDS", "configure", "run"]

HELP = "the review loop: select doubtful areas, review, export/import, labels, measure the gain"

SUBCOMMANDS = ("select", "serve", "export", "import", "simulate", "labels", "gain")


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="review_command", metavar="SUBCOMMAND", required=True)
    for name in SUBCOMMANDS:
        modname = f"{__package__}.review_{name}"
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name == modname:
                continue  # not built yet
            raise
        s = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        s.add_argument("-v", "--verbose", action="count", default=0, help="more detail; tracebacks")
        mod.configure(s)
        s.set_defaults(_review_run=mod.run)


def run(args: argparse.Namespace) -> int:
    return int(args._review_run(args) or 0)
