"""Export a round to, and import reviews from, the formats of other tools.

:func:`export_round` writes ``labelstudio``, ``cvat``, ``yolo-obb``, ``geojson`` or ``gpkg``
into a folder; :func:`import_reviews` reads files of any of those (the format is told by the
file: a folder or ``.txt`` is YOLO-OBB, ``.xml`` CVAT, ``.gpkg`` a GeoPackage queue, a JSON
list of tasks Label Studio, a FeatureCollection GeoJSON), checks everything, then applies the
differences as journalled actions (``"by": "import:<format>"``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..._io import atomic_write_text, check_output_dir
from ...errors import ReviewError
from ..round import Round
from .diff import FileReview, apply_actions, plan_actions

__all__ = [
    "EXPORT_FORMATS",
    "EXPORT_RECORD",
    "ImportResult",
    "export_round",
    "import_reviews",
    "read_review",
]

EXPORT_FORMATS = ("labelstudio", "cvat", "yolo-obb", "geojson", "gpkg")
#: Written beside every export: the round, the format and the journal length at export, so
#: an import from that folder can refuse a file that would undo later review.
EXPORT_RECORD = "ccount_export.json"


@dataclass(frozen=True)
class ImportResult:
    """What an import did: ``actions`` applied (the journal's new lines, in order) and the
    number of files and units read."""

    files: int
    units: int
    actions: tuple[dict, ...]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.actions:
            out[a["action"]] = out.get(a["action"], 0) + 1
        return out


def export_round(rnd: Round, fmt: str, out: str | os.PathLike) -> list[Path]:
    """Write the round in ``fmt`` (one of :data:`EXPORT_FORMATS`) into the folder ``out``."""
    from .cvat import export_cvat
    from .geo import export_geojson, export_gpkg
    from .labelstudio import export_labelstudio
    from .yolo_obb import export_yolo_obb

    writers = {
        "labelstudio": export_labelstudio,
        "cvat": export_cvat,
        "yolo-obb": export_yolo_obb,
        "geojson": export_geojson,
        "gpkg": export_gpkg,
    }
    if fmt not in writers:
        raise ReviewError(f"export format {fmt!r}; expected one of {EXPORT_FORMATS}")
    out = check_output_dir(out)
    if out.resolve() == rnd.path.resolve():
        raise ReviewError(f"{out}: is the round folder itself; export to another folder")
    try:
        written = writers[fmt](rnd, out)
        sidecar = {"round": str(rnd.path.resolve()), "format": fmt,
                   "journal_n": len(rnd.journal())}  # fmt: skip
        atomic_write_text(out / EXPORT_RECORD, json.dumps(sidecar, indent=1) + "\n")
        return [*written, out / EXPORT_RECORD]
    except OSError as e:
        if isinstance(e, ReviewError):
            raise
        from ..._io import output_error

        raise output_error(out, e) from e


def sniff(path: Path) -> str:
    """The format of an import file (see the module docstring)."""
    if path.is_dir() or path.suffix.lower() == ".txt":
        return "yolo-obb"
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return "cvat"
    if suffix == ".gpkg":
        return "gpkg"
    if suffix in (".json", ".geojson"):
        try:
            with open(path, encoding="utf-8") as fh:
                head = fh.read(4096).lstrip()
        except (OSError, UnicodeDecodeError) as e:
            raise ReviewError(f"{path}: cannot read ({e})") from None
        if head.startswith("["):
            return "labelstudio"
        if head.startswith("{"):
            try:
                data = json.loads(path.read_text())
            except ValueError as e:
                raise ReviewError(f"{path}: not valid JSON ({e})") from None
            if isinstance(data, dict) and data.get("type") == "FeatureCollection":
                return "geojson"
    raise ReviewError(
        f"{path}: not a file ccount review import reads (Label Studio JSON export, CVAT XML, "
        "YOLO-OBB label folder, GeoJSON, GeoPackage queue)"
    )


def read_review(rnd: Round, path: str | os.PathLike) -> FileReview:
    """One import file as a :class:`FileReview` (nothing applied)."""
    from .cvat import read_cvat
    from .geo import read_geojson_review, read_gpkg_review
    from .labelstudio import read_labelstudio
    from .yolo_obb import read_yolo_obb

    path = Path(path)
    if not path.exists():
        raise ReviewError(f"{path}: file not found")
    readers = {"labelstudio": read_labelstudio, "cvat": read_cvat, "yolo-obb": read_yolo_obb,
               "geojson": read_geojson_review, "gpkg": read_gpkg_review}  # fmt: skip
    fmt = sniff(path)
    review = readers[fmt](rnd, path)
    if review.journal_n is None:
        n = _recorded_journal_n(rnd, path, fmt)
        if n is not None:
            review = replace(review, journal_n=n)
    return review


def _recorded_journal_n(rnd: Round, path: Path, fmt: str) -> int | None:
    """The journal length :data:`EXPORT_RECORD` beside ``path`` (or one folder up, for a
    YOLO ``labels`` folder) gives, when it records an export of this round in ``fmt``."""
    base = path if path.is_dir() else path.parent
    for folder in (base, base.parent):
        rec = folder / EXPORT_RECORD
        try:
            data = json.loads(rec.read_text())
        except (OSError, ValueError):
            continue
        if (isinstance(data, dict) and data.get("format") == fmt
                and data.get("round") == str(rnd.path.resolve())
                and isinstance(data.get("journal_n"), int)):  # fmt: skip
            return data["journal_n"]
    return None


def import_reviews(
    rnd: Round, files: Sequence[str | os.PathLike], *, complete: bool = False,
    dry_run: bool = False, force: bool = False,
) -> ImportResult:  # fmt: skip
    """Read every file, plan the actions, then (unless ``dry_run``) apply them in order.
    ``complete``: also accept what is still pending in each covered unit and complete it;
    ``force``: import a file even when the round changed in its units after the export."""
    if not files:
        raise ReviewError("review import: no files given")
    reviews = [read_review(rnd, f) for f in files]
    actions = plan_actions(rnd, reviews, complete=complete, force=force)
    if not dry_run:
        apply_actions(rnd, actions)
    return ImportResult(len(reviews), sum(len(r.units) for r in reviews), tuple(actions))
