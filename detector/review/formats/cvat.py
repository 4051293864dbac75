"""CVAT for images 1.1 XML: rotated boxes out, the annotation export back in.

Export (``DIR/``): ``annotations.xml`` and ``images/<unit>.png`` (the layout of CVAT's own
"CVAT for images" export: zip the folder, or create a task from ``images/`` and upload
``annotations.xml`` as "CVAT 1.1"). Labels ``20ft`` and ``40ft`` (rectangles), each with a
text attribute ``cand_id`` (empty on a box drawn in CVAT) and ``score``. A box is written as
its unrotated extent ``xtl, ytl, xbr, ybr`` about its centre and ``rotation``: degrees,
clockwise, about the centre, in [0, 360).

CVAT keeps an attribute only when the task's labels declare it: create the task with the
labels of ``cvat_labels.json`` (paste it into the label constructor's "Raw" tab).

Import: a CVAT 1.1 annotations XML; ``<image name>``'s file stem is the review unit id.
Every image in the file is a reviewed unit: its boxes are the unit's state. Boxes are
matched to candidates by ``cand_id``; a file with no ``cand_id`` attribute at all (a task
made without it) is matched by centre, as YOLO-OBB is.
"""

from __future__ import annotations

import json
import math
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ..._io import atomic_write_text
from ...errors import ReviewError
from ..round import KINDS, Round
from .diff import FileBox, FileReview, exported_candidates
from .geometry import RBox, box_from_corners, crs_to_chip

__all__ = ["export_cvat", "read_cvat"]


def _meta(rnd: Round, n: int) -> ET.Element:
    meta = ET.Element("meta")
    task = ET.SubElement(meta, "task")
    ET.SubElement(task, "name").text = f"ccount review {rnd.path.name}"
    ET.SubElement(task, "size").text = str(n)
    ET.SubElement(task, "mode").text = "annotation"
    labels = ET.SubElement(task, "labels")
    for kind, colour in zip(KINDS, ("#1f77b4", "#ff7f0e"), strict=True):
        lab = ET.SubElement(labels, "label")
        ET.SubElement(lab, "name").text = kind
        ET.SubElement(lab, "color").text = colour
        ET.SubElement(lab, "type").text = "rectangle"
        attrs = ET.SubElement(lab, "attributes")
        for name in ("cand_id", "score"):
            a = ET.SubElement(attrs, "attribute")
            ET.SubElement(a, "name").text = name
            ET.SubElement(a, "mutable").text = "False"
            ET.SubElement(a, "input_type").text = "text"
            ET.SubElement(a, "default_value").text = ""
            ET.SubElement(a, "values").text = ""
    return meta


def export_cvat(rnd: Round, out: Path) -> list[Path]:
    """Write ``annotations.xml`` and ``images/`` into ``out``; the files written."""
    units = rnd.ordered_units()
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    root.append(_meta(rnd, len(units)))
    (out / "images").mkdir(parents=True, exist_ok=True)
    for i, unit in enumerate(units):
        chip = rnd.chips[unit.unit_id]
        name = f"{unit.unit_id}.png"
        shutil.copyfile(rnd.chip_png(unit.unit_id), out / "images" / name)
        w, h = chip.size_px
        img = ET.SubElement(root, "image", id=str(i), name=name, width=str(w), height=str(h))
        for c in exported_candidates(rnd, unit.unit_id):
            b = box_from_corners(crs_to_chip(chip.affine, np.asarray(c.corners)))
            el = ET.SubElement(
                img, "box", label=c.kind, source="auto", occluded="0",
                xtl=repr(b.cx - b.length / 2), ytl=repr(b.cy - b.width / 2),
                xbr=repr(b.cx + b.length / 2), ybr=repr(b.cy + b.width / 2),
                rotation=repr(b.angle_deg % 360.0), z_order="0",
            )  # fmt: skip
            ET.SubElement(el, "attribute", name="cand_id").text = str(c.cand_id)
            ET.SubElement(el, "attribute", name="score").text = repr(float(c.score))
    labels = [
        {"name": kind, "color": colour, "type": "rectangle",
         "attributes": [{"name": name, "mutable": False, "input_type": "text",
                         "default_value": "", "values": [""]} for name in ("cand_id", "score")]}
        for kind, colour in zip(KINDS, ("#1f77b4", "#ff7f0e"), strict=True)
    ]  # fmt: skip
    atomic_write_text(out / "cvat_labels.json", json.dumps(labels, indent=1) + "\n")
    ET.indent(root)
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
    atomic_write_text(out / "annotations.xml", text + "\n")
    return [out / "annotations.xml", out / "cvat_labels.json", out / "images"]


def _unit_of(path: Path, name: str, rnd: Round) -> int:
    stem = Path(name.replace("\\", "/")).stem
    try:
        unit = int(stem)
    except ValueError:
        unit = None
    if unit is None or unit not in rnd.units:
        raise ReviewError(f"{path}: image {name!r} is not a chip of a review unit of {rnd.path}")
    return unit


def read_cvat(rnd: Round, path: Path) -> FileReview:
    """The reviewed units of a CVAT 1.1 annotations XML (see the module docstring)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        raise ReviewError(f"{path}: not a readable CVAT XML file ({e})") from None
    if root.tag != "annotations":
        raise ReviewError(f"{path}: not a CVAT annotations XML (root <{root.tag}>)")
    units, boxes, with_ids = [], [], False
    for img in root.iter("image"):
        name = img.get("name", "")
        unit = _unit_of(path, name, rnd)
        units.append(unit)
        cw, ch = rnd.chips[unit].size_px
        try:
            sx, sy = cw / float(img.get("width") or cw), ch / float(img.get("height") or ch)
        except ValueError:
            raise ReviewError(f"{path}: image {name!r}: bad width/height") from None
        for k, el in enumerate(img.iter("box")):
            where = f"image {name!r} box {k}"
            kind = el.get("label")
            if kind not in KINDS:
                raise ReviewError(f"{path}: {where}: label {kind!r}; expected one of {KINDS}")
            try:
                x0, y0 = float(el.get("xtl")), float(el.get("ytl"))
                x1, y1 = float(el.get("xbr")), float(el.get("ybr"))
                rot = float(el.get("rotation") or 0.0)
            except (TypeError, ValueError):
                raise ReviewError(f"{path}: {where}: bad xtl/ytl/xbr/ybr/rotation") from None
            if not all(map(math.isfinite, (x0, y0, x1, y1, rot))):
                raise ReviewError(f"{path}: {where}: coordinates must be finite")
            px = RBox((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, rot).corners() * [sx, sy]
            attrs = {a.get("name"): (a.text or "").strip() for a in el.iter("attribute")}
            with_ids = with_ids or "cand_id" in attrs
            ref = attrs.get("cand_id", "")
            cand = int(ref) if ref.isdigit() else None
            boxes.append(FileBox(unit, kind, tuple(map(tuple, px.tolist())), cand, None, where))
    match = "id" if with_ids or not boxes else "geometry"
    return FileReview("cvat", Path(path), tuple(units), tuple(boxes), match)
