"""``ccount review serve ROUND``: the built-in review page on a local server."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "serve the review page of a round; prints its URL (with the access token)"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("round", type=Path, metavar="ROUND", help="a review round folder")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    p.add_argument("--port", type=int, default=0, help="port (default: 0 = any free port)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a --host other machines can reach (prints a warning)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from ..review.server import serve

    serve(args.round, host=args.host, port=args.port, allow_remote=args.allow_remote)
    return 0
