"""``ccount review import ROUND FILE... [--complete] [--dry-run]``.

Reads reviews made in another tool (Label Studio JSON export, CVAT 1.1 XML, YOLO-OBB label
folder, GeoJSON, an edited copy of the queue GeoPackage) and records every difference with
the round as a journalled action (``"by": "import:<format>"``). Everything is checked first:
a bad file changes nothing (one line naming it, exit 2). A file exported before the round
changed in its units (in the browser, by another tool) is refused unless ``--force``: it
would undo that review.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "import reviews from Label Studio, CVAT, YOLO-OBB, GeoJSON or an edited GeoPackage"


def configure(parser) -> None:
    parser.add_argument("round", type=Path, metavar="ROUND", help="review round folder")
    parser.add_argument("files", type=Path, nargs="+", metavar="FILE",
                        help="export file(s) or YOLO-OBB label folder(s)")  # fmt: skip
    parser.add_argument(
        "--complete", action="store_true",
        help="the files are finished reviews: accept what is still pending in each unit they "
        "cover and mark the unit complete",
    )  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="list the actions, apply nothing")
    parser.add_argument(
        "--force", action="store_true",
        help="import even when the round changed in the file's units after the export (the "
        "file wins)",
    )  # fmt: skip


def run(args) -> int:
    from ..review.formats.exchange import import_reviews
    from ..review.round import Round

    rnd = Round.open(args.round)
    res = import_reviews(
        rnd, args.files, complete=args.complete, dry_run=args.dry_run, force=args.force
    )
    counts = ", ".join(f"{n} {k}" for k, n in sorted(res.counts().items())) or "no changes"
    verb = "would apply" if args.dry_run else "applied"
    print(f"{verb} {len(res.actions)} actions from {res.files} files, {res.units} units: {counts}")
    if args.dry_run or getattr(args, "verbose", 0):
        for a in res.actions:
            print(f"  unit {a['unit']} {a['action']} cand {a.get('cand')}")
    return 0
