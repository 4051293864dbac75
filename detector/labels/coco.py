"""COCO label sets (instances JSON) read as oriented container boxes; re-exported by
:mod:`detector.labels.io`, the only public entry for label files."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..detections import Detections
from ..errors import LabelError

__all__ = ["CocoImage", "read_coco"]


@dataclass(frozen=True)
class CocoImage:
    """One image of a COCO label set: file name (relative to the JSON's folder), size, and its
    container annotations as Detections in image pixels (``kind`` from the category name
    when it says 20/40 ft, else from the box's aspect ratio)."""

    file_name: str
    width: int
    height: int
    containers: Detections


def _coco_box(ann: dict) -> tuple[float, float, float, float, float]:
    """(cx, cy, length, width, angle) of an annotation from its polygon (min-area rectangle),
    or from its axis-aligned bbox."""
    import cv2

    seg = ann.get("segmentation")
    if isinstance(seg, list) and seg and isinstance(seg[0], list) and len(seg[0]) >= 6:
        pts = np.asarray(seg[0], np.float32).reshape(-1, 2)
        (cx, cy), (w, h), a = cv2.minAreaRect(pts)
        ang = math.radians(a)
        if h > w:
            w, h, ang = h, w, ang + math.pi / 2
        return float(cx), float(cy), float(w), float(h), ang % math.pi
    x, y, w, h = (float(v) for v in ann["bbox"])
    if h > w:
        return x + w / 2, y + h / 2, h, w, math.pi / 2
    return x + w / 2, y + h / 2, w, h, 0.0


def read_coco(path: str | os.PathLike) -> list[CocoImage]:
    """Container annotations of a COCO JSON (instances format). Categories whose name holds
    "container", "20" or "40" count as containers; polygons give oriented boxes."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
        images, anns, cats = data["images"], data.get("annotations", []), data.get("categories", [])
    except FileNotFoundError:
        raise LabelError(f"{p}: COCO file not found") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise LabelError(f"{p}: not a COCO instances file ({e})") from None
    kind_of: dict[int, int | None] = {}
    for c in cats:
        name = str(c.get("name", "")).lower().replace(" ", "").replace("-", "")
        if "40" in name:
            kind_of[int(c["id"])] = 1
        elif "20" in name:
            kind_of[int(c["id"])] = 0
        elif "container" in name:
            kind_of[int(c["id"])] = None  # from the aspect ratio
    by_image: dict[int, list] = {}
    for i, a in enumerate(anns):
        try:
            cid = int(a["category_id"])
            if cid not in kind_of:
                continue
            box = _coco_box(a)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise LabelError(f"{p}: annotation {i} is malformed ({e})") from None
        k = kind_of[cid]
        if k is None:
            k = 1 if box[2] > 3.5 * max(box[3], 1e-6) else 0
        by_image.setdefault(int(a["image_id"]), []).append((*box, k))
    out = []
    for im in images:
        rows = np.array(by_image.get(int(im["id"]), []), float).reshape(-1, 6)
        n = len(rows)
        dets = Detections(
            rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5].astype(np.int8),
            np.ones(n), np.ones(n),
        )  # fmt: skip
        out.append(CocoImage(str(im["file_name"]), int(im["width"]), int(im["height"]), dets))
    return out
