"""Entry point of the ``ccount`` console script.

Each command lives in its own module ``detector.cli.<name>`` exposing ``HELP`` (one line),
``configure(parser)`` and ``run(args) -> int``. Command modules import heavy libraries
(torch, rasterio) inside ``run`` so ``ccount --help`` stays fast. Any :class:`CountError`
becomes one line on stderr and exit code 2; ``-v`` shows the traceback.

Exit codes, the same for every command (:data:`EXIT_OK`, :data:`EXIT_ERROR`,
:data:`EXIT_INTERRUPTED`):

- 0: success;
- 2: bad input (a scene, a voyage log, an option; also argparse's usage errors), an output
  that cannot be written (:class:`~detector.errors.OutputError`: a folder below a file, a
  read-only folder, a full disk), or a partial failure (``detect``/``run``/``demo``: some
  scenes failed; the others' outputs are written);
- 130: interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback

from ..errors import CountError

__all__ = ["main", "build_parser", "COMMANDS", "EXIT_OK", "EXIT_ERROR", "EXIT_INTERRUPTED"]

EXIT_OK = 0
EXIT_ERROR = 2  # bad input, output error, partial failure
EXIT_INTERRUPTED = 130

COMMANDS = (
    "info",
    "synth",
    "train",
    "detect",
    "eval",
    "export",
    "reconcile",
    "munitions",
    "report",
    "run",
    "demo",
    "review",
)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="ccount",
        description="Count shipping containers in satellite imagery of ports and estimate "
        "per-shipment volumes.",
    )
    parser.add_argument("--version", action="version", version=f"ccount {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f".{name}", __package__)
        except ModuleNotFoundError as e:
            if e.name == f"{__package__}.{name}":
                continue  # command not built yet
            raise
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        p.add_argument("-v", "--verbose", action="count", default=0, help="more detail; tracebacks")
        mod.configure(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose = getattr(args, "verbose", 0)
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._run(args) or 0)
    except CountError as e:
        if verbose:
            traceback.print_exc()
        msg = " ".join(str(e).split())  # always one line
        print(f"ccount {args.command}: error: {msg}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"ccount {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
