"""``ccount review export ROUND --to labelstudio|cvat|yolo-obb|geojson|gpkg --out DIR``.

Writes the round's review units and boxes for another tool (see
:mod:`detector.review.formats`): Label Studio tasks + config, CVAT 1.1 XML + images,
YOLO-OBB labels + data.yaml, GeoJSON per scene, or an editable copy of the queue GeoPackage.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["HELP", "configure", "run"]

HELP = "export a review round for Label Studio, CVAT, YOLO-OBB, GeoJSON or QGIS (GeoPackage)"


def configure(parser) -> None:
    from ..review.formats.exchange import EXPORT_FORMATS

    parser.add_argument("round", type=Path, metavar="ROUND", help="review round folder")
    parser.add_argument("--to", required=True, choices=EXPORT_FORMATS, dest="fmt",
                        help="format to write")  # fmt: skip
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder to write")


def run(args) -> int:
    from ..review.formats.exchange import export_round
    from ..review.round import Round

    rnd = Round.open(args.round)
    written = export_round(rnd, args.fmt, args.out)
    n_boxes = sum(1 for c in rnd.candidates.values() if c.status != "rejected")
    print(f"wrote {args.fmt} export of {len(rnd.units)} units ({n_boxes} boxes) to {args.out}")
    for p in written:
        print(f"  {p}")
    return 0
