"""YOLO-OBB (Ultralytics oriented boxes): images, label text files and ``data.yaml``.

Export (``DIR/``): ``images/<unit>.png``, ``labels/<unit>.txt`` (one line per box:
``class x1 y1 x2 y2 x3 y3 x4 y4``, the 4 corners in chip pixels divided by the chip's
width/height; class 0 = 20ft, 1 = 40ft; an empty file for a unit with no box),
``train.txt`` / ``val.txt`` (image lists: the round's train and hold-out units) and
``data.yaml`` (``path``, ``train``, ``val``, ``names``).

Import: a folder with ``labels/`` (or the ``labels`` folder itself, or one ``.txt``
file); each ``<unit>.txt`` is the reviewed state of that unit. The format has no ids, so
boxes are matched to the unit's candidates by centre (one to one, each within half the
candidate's length); an optional 10th column (a confidence) is ignored.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from ..._io import atomic_write_text
from ...errors import ReviewError
from ..round import KINDS, Round
from .diff import FileBox, FileReview, exported_candidates
from .geometry import crs_to_chip

__all__ = ["export_yolo_obb", "read_yolo_obb"]


def export_yolo_obb(rnd: Round, out: Path) -> list[Path]:
    """Write ``images/``, ``labels/``, ``train.txt``, ``val.txt``, ``data.yaml``."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    lists: dict[str, list[str]] = {"train": [], "holdout": []}
    for unit in rnd.ordered_units():
        chip = rnd.chips[unit.unit_id]
        w, h = chip.size_px
        shutil.copyfile(rnd.chip_png(unit.unit_id), out / "images" / f"{unit.unit_id}.png")
        lines = []
        for c in exported_candidates(rnd, unit.unit_id):
            px = crs_to_chip(chip.affine, np.asarray(c.corners)) / [w, h]
            nums = " ".join(f"{v:.9f}" for v in px.reshape(-1))
            lines.append(f"{KINDS.index(c.kind)} {nums}")
        atomic_write_text(out / "labels" / f"{unit.unit_id}.txt", "".join(s + "\n" for s in lines))
        lists[unit.split].append(f"./images/{unit.unit_id}.png")
    atomic_write_text(out / "train.txt", "".join(s + "\n" for s in lists["train"]))
    atomic_write_text(out / "val.txt", "".join(s + "\n" for s in lists["holdout"]))
    names = "".join(f"  {i}: {k}\n" for i, k in enumerate(KINDS))
    atomic_write_text(
        out / "data.yaml",
        f"# ccount review round {rnd.path.name}: oriented container boxes (YOLO-OBB)\n"
        f"path: {out.resolve()}\ntrain: train.txt\nval: val.txt\nnames:\n{names}",
    )
    return [out / "data.yaml", out / "train.txt", out / "val.txt", out / "images", out / "labels"]


def _label_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    folder = path / "labels" if (path / "labels").is_dir() else path
    files = sorted(p for p in folder.glob("*.txt") if not p.name.startswith("."))
    if folder == path:  # a bare labels folder: image lists do not belong there
        files = [p for p in files if p.name not in ("train.txt", "val.txt", "classes.txt")]
    if not files:
        raise ReviewError(f"{path}: no YOLO-OBB label files (labels/<unit>.txt)")
    return files


def read_yolo_obb(rnd: Round, path: Path) -> FileReview:
    """The reviewed units of a YOLO-OBB label folder (see the module docstring)."""
    units, boxes = [], []
    for f in _label_files(Path(path)):
        try:
            unit = int(f.stem)
        except ValueError:
            unit = None
        if unit is None or unit not in rnd.units:
            raise ReviewError(f"{f}: file name is not a review unit of {rnd.path}")
        units.append(unit)
        w, h = rnd.chips[unit].size_px
        try:
            text = f.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise ReviewError(f"{f}: cannot read ({e})") from None
        for n, line in enumerate(text.splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            where = f"{f.name} line {n}"
            try:
                cls = int(parts[0])
                vals = [float(v) for v in parts[1:9]]
            except ValueError:
                raise ReviewError(f"{f}: line {n}: expected 'class x1 y1 ... x4 y4'") from None
            if len(parts) not in (9, 10) or len(vals) != 8:
                raise ReviewError(f"{f}: line {n}: expected 9 numbers, got {len(parts)}")
            if cls not in range(len(KINDS)):
                raise ReviewError(f"{f}: line {n}: class {cls}; expected 0 (20ft) or 1 (40ft)")
            if not all(map(math.isfinite, vals)):
                raise ReviewError(f"{f}: line {n}: coordinates must be finite")
            px = np.asarray(vals).reshape(4, 2) * [w, h]
            boxes.append(FileBox(unit, KINDS[cls], tuple(map(tuple, px.tolist())), None, None,
                                 where))  # fmt: skip
    return FileReview("yolo-obb", Path(path), tuple(units), tuple(boxes), "geometry")
