"""Label Studio: tasks with predictions out, the annotation export back in.

Export (``DIR/``): ``tasks.json`` (one task per review unit, most doubtful first),
``config.xml`` (the labelling config), ``chips/<unit>.png``. A task's ``data.image`` is
``/data/local-files/?d=chips/<unit>.png``: start Label Studio with
``LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true`` and
``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=DIR`` (the export folder is the local-files root),
create a project with ``config.xml``, add a "Local files" storage for ``DIR/chips`` (no
need to sync it), then import ``tasks.json``. ``data`` also holds
``unit_id``, ``scene``, ``split`` and ``journal_n`` (the round's journal length at export:
an import refuses a file that would undo review done since, unless ``--force``).

Each task has one prediction (``model_version``: the round's model sha256; ``score``: the
unit's priority, so sorting tasks by prediction score puts the most doubtful first) whose
results are the unit's candidates (all but rejected ones) as
RectangleLabels ``20ft``/``40ft``: ``x, y`` the box's top-left corner in its own frame,
``width, height`` its length and width, all in percent of the chip's width/height;
``rotation`` in degrees, clockwise, about that top-left corner; ``score`` per result;
``id`` ``c<cand_id>`` (Label Studio keeps it when the prediction becomes an annotation, so
the import knows which candidate a box is).

Import: Label Studio's JSON export (a list of tasks). Per task, the latest annotation that
was not cancelled (by ``updated_at``, then ``created_at``, then ``id``) is the reviewed
state of the unit; tasks without one are skipped. Its ``lead_time`` (seconds) is spread over
the unit's actions in the journal.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np

from ..._io import atomic_write_text
from ...errors import ReviewError
from ..round import KINDS, Round
from .diff import FileBox, FileReview, exported_candidates
from .geometry import RBox, box_from_corners, crs_to_chip

__all__ = ["LS_IMAGE_PREFIX", "export_labelstudio", "labelling_config", "read_labelstudio"]

#: How a task names its image: Label Studio's local-files URL, relative to the files root.
LS_IMAGE_PREFIX = "/data/local-files/?d="
_FROM, _TO = "kind", "image"


def labelling_config() -> str:
    """The Label Studio labelling config: an image and rotatable 20ft/40ft rectangles."""
    return (
        "<View>\n"
        f'  <Image name="{_TO}" value="$image" zoom="true" zoomControl="true"/>\n'
        f'  <RectangleLabels name="{_FROM}" toName="{_TO}" canRotate="true">\n'
        '    <Label value="20ft" background="#1f77b4"/>\n'
        '    <Label value="40ft" background="#ff7f0e"/>\n'
        "  </RectangleLabels>\n"
        "</View>\n"
    )


def _result(cand, corners_px: np.ndarray, size_px: tuple[int, int]) -> dict:
    w, h = size_px
    box = box_from_corners(corners_px)
    tl = box.corners()[0]
    return {
        "id": f"c{cand.cand_id}",
        "type": "rectanglelabels",
        "from_name": _FROM,
        "to_name": _TO,
        "original_width": w,
        "original_height": h,
        "image_rotation": 0,
        "value": {
            "x": float(tl[0]) * 100.0 / w,
            "y": float(tl[1]) * 100.0 / h,
            "width": box.length * 100.0 / w,
            "height": box.width * 100.0 / h,
            "rotation": box.angle_deg % 360.0,
            "rectanglelabels": [cand.kind],
        },
        "score": float(cand.score),
    }


def export_labelstudio(rnd: Round, out: Path) -> list[Path]:
    """Write ``tasks.json``, ``config.xml`` and ``chips/`` into ``out``; the files written."""
    version = rnd.manifest.model_sha256 or "unknown"
    journal_n = len(rnd.journal())
    tasks = []
    (out / "chips").mkdir(parents=True, exist_ok=True)
    for unit in rnd.ordered_units():
        chip = rnd.chips[unit.unit_id]
        name = f"{unit.unit_id}.png"
        shutil.copyfile(rnd.chip_png(unit.unit_id), out / "chips" / name)
        results = [
            _result(c, crs_to_chip(chip.affine, np.asarray(c.corners)), chip.size_px)
            for c in exported_candidates(rnd, unit.unit_id)
        ]
        tasks.append(
            {
                "data": {
                    "image": f"{LS_IMAGE_PREFIX}chips/{name}",
                    "unit_id": unit.unit_id,
                    "scene": unit.scene,
                    "split": unit.split,
                    "journal_n": journal_n,
                },
                "predictions": [
                    {"model_version": version, "score": float(unit.priority), "result": results}
                ],
            }
        )
    atomic_write_text(out / "tasks.json", json.dumps(tasks, indent=1) + "\n")
    atomic_write_text(out / "config.xml", labelling_config())
    return [out / "tasks.json", out / "config.xml", out / "chips"]


def _corners_from_value(v: dict, w: float, h: float) -> np.ndarray:
    """Corners [4, 2] chip px of a RectangleLabels value (percent, rotation about top-left)."""
    x, y = float(v["x"]) * w / 100.0, float(v["y"]) * h / 100.0
    bw, bh = float(v["width"]) * w / 100.0, float(v["height"]) * h / 100.0
    a = math.radians(float(v.get("rotation") or 0.0))
    return RBox(
        x + 0.5 * (bw * math.cos(a) - bh * math.sin(a)),
        y + 0.5 * (bw * math.sin(a) + bh * math.cos(a)),
        bw, bh, math.degrees(a),
    ).corners()  # fmt: skip


def _latest(annotations: list) -> dict | None:
    live = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
    if not live:
        return None
    return max(
        live,
        key=lambda a: (str(a.get("updated_at") or ""), str(a.get("created_at") or ""),
                       a.get("id") if isinstance(a.get("id"), int) else -1),
    )  # fmt: skip


def _unit_of(path: Path, task: dict, i: int, rnd: Round) -> int:
    data = task.get("data") if isinstance(task.get("data"), dict) else {}
    ref = data.get("unit_id")
    if ref is None:  # fall back to the image name, chips/<unit>.png
        ref = os.path.splitext(os.path.basename(str(data.get("image", ""))))[0]
    try:
        unit = int(ref)
    except (TypeError, ValueError):
        raise ReviewError(f"{path}: task {i} names no review unit (data.unit_id)") from None
    if unit not in rnd.units:
        raise ReviewError(f"{path}: task {i} names unknown review unit {ref!r}")
    return unit


def read_labelstudio(rnd: Round, path: Path) -> FileReview:
    """The reviewed units of a Label Studio JSON export (see the module docstring)."""
    try:
        tasks = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ReviewError(f"{path}: not a readable Label Studio export ({e})") from None
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise ReviewError(f"{path}: a Label Studio JSON export is a list of tasks")
    if tasks and not any("annotations" in t or "completions" in t for t in tasks):
        raise ReviewError(
            f"{path}: no task has annotations: export from Label Studio as 'JSON' (not "
            "JSON-MIN); the tasks.json ccount review export wrote is not a review"
        )
    units, boxes, seconds, stamps = [], [], {}, []
    for i, task in enumerate(tasks):
        unit = _unit_of(path, task, i, rnd)
        n = (task.get("data") or {}).get("journal_n")
        if isinstance(n, int):
            stamps.append(n)
        ann = _latest(task.get("annotations") or task.get("completions") or [])
        if ann is None:
            continue
        units.append(unit)
        if ann.get("lead_time") is not None:
            try:
                seconds[unit] = max(0.0, float(ann["lead_time"]))
            except (TypeError, ValueError):
                raise ReviewError(f"{path}: task {i}: lead_time is not a number") from None
        w, h = rnd.chips[unit].size_px
        for r in ann.get("result") or []:
            if not isinstance(r, dict) or r.get("type") != "rectanglelabels":
                continue
            where = f"task {i} result {r.get('id')!r}"
            v = r.get("value") or {}
            labels = v.get("rectanglelabels") or []
            if len(labels) != 1 or labels[0] not in KINDS:
                raise ReviewError(f"{path}: {where}: label {labels!r}; expected one of {KINDS}")
            try:
                ow = float(r.get("original_width") or w)
                oh = float(r.get("original_height") or h)
                px = _corners_from_value(v, ow, oh) * [w / ow, h / oh]
            except (KeyError, TypeError, ValueError):
                raise ReviewError(f"{path}: {where}: bad x/y/width/height/rotation") from None
            rid = str(r.get("id") or "")
            cand = int(rid[1:]) if rid[:1] == "c" and rid[1:].isdigit() else None
            boxes.append(FileBox(unit, labels[0], tuple(map(tuple, px.tolist())), cand,
                                 None, where))  # fmt: skip
    return FileReview("labelstudio", Path(path), tuple(units), tuple(boxes), "id",
                      seconds=seconds, journal_n=min(stamps, default=None))  # fmt: skip
