"""Round trips of a review round through Label Studio, CVAT, YOLO-OBB, GeoJSON and an edited
GeoPackage: export, import unchanged -> no change; export, edit (move one box 3 px, change a
kind, delete one, add one), import -> exactly those actions, geometry within 0.1 px."""

from __future__ import annotations

import copy
import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from affine import Affine

from detector.cli.main import main
from detector.review.formats.exchange import read_review
from detector.review.formats.geometry import RBox, corner_distance
from detector.review.round import Candidate, Chip, Manifest, Round, Unit

UTM = "EPSG:32652"
GSD = 0.5
X0, Y0 = 605000.0, 4678600.0
# scene 2: geographic CRS and a chip grid rotated by 20 degrees (0.5 m pixels near 42.25 N)
LON0, LAT0 = 130.2833, 42.2491
SX, SY = 0.5 / (111320.0 * math.cos(math.radians(LAT0))), 0.5 / 110574.0
ROT_AFFINE = Affine.translation(LON0, LAT0) @ Affine.scale(SX, -SY) @ Affine.rotation(20.0)


def _aff6(a: Affine) -> tuple[float, ...]:
    return (a.a, a.b, a.c, a.d, a.e, a.f)


def _corners_crs(affine: Affine, box: RBox) -> tuple[tuple[float, float], ...]:
    return tuple(affine @ (float(x), float(y)) for x, y in box.corners())


def _bounds(affine: Affine, w: int, h: int) -> tuple[float, float, float, float]:
    pts = np.array([affine @ p for p in ((0, 0), (w, 0), (w, h), (0, h))])
    return (*pts.min(axis=0), *pts.max(axis=0))


#: (unit, cand_id, box in chip px, kind, score, source, status)
BOXES = [
    (0, 0, RBox(40.0, 50.0, 12.1, 4.9, 0.2), "20ft", 0.91, "model", "pending"),
    (0, 1, RBox(90.0, 60.0, 24.4, 4.9, 89.9), "40ft", 0.55, "model", "pending"),
    (0, 2, RBox(150.0, 150.0, 12.1, 4.9, 179.8), "20ft", 0.41, "model", "accepted"),
    (0, 3, RBox(200.0, 100.0, 12.1, 4.9, 33.0), "20ft", 0.12, "peak", "pending"),
    (0, 4, RBox(60.0, 200.0, 12.1, 4.9, 0.0), "20ft", 0.38, "model", "rejected"),
    (1, 5, RBox(30.0, 40.0, 24.4, 4.9, 90.0), "40ft", 0.8, "model", "pending"),
    (1, 6, RBox(100.0, 120.0, 12.1, 4.9, 12.5), "20ft", 0.0, "reviewer", "added"),
    (2, 7, RBox(80.0, 90.0, 12.1, 4.9, 0.1), "20ft", 0.7, "model", "pending"),
    (2, 8, RBox(150.0, 60.0, 24.4, 4.9, 91.0), "40ft", 0.3, "model", "pending"),
]


def make_round(path, *, geographic: bool = True) -> Round:
    """Scene s1 (UTM, north-up): units 0 and 1, 256 x 256 chips; scene s2 (EPSG:4326, chip
    grid rotated 20 degrees): unit 2, a 240 x 200 chip (left out unless ``geographic``)."""
    manifest = Manifest(
        model="models/m.pt", model_sha256="cd" * 32, threshold=0.35, strategy="mix", seed=1,
        budget=20, holdout_share=0.3, detect_dir="det",
        scenes={
            "s1": {"path": "s1.tif", "crs": UTM, "gsd_m": GSD,
                   "transform": [GSD, 0, X0, 0, -GSD, Y0]},
            "s2": {"path": "s2.tif", "crs": "EPSG:4326", "gsd_m": GSD,
                   "transform": list(_aff6(ROT_AFFINE))},
        },
    )  # fmt: skip
    affines = {
        0: Affine(GSD, 0, X0, 0, -GSD, Y0),
        1: Affine(GSD, 0, X0 + 128.0, 0, -GSD, Y0),
        2: ROT_AFFINE,
    }
    sizes = {0: (256, 256), 1: (256, 256), 2: (240, 200)}
    if not geographic:
        del affines[2], manifest.scenes["s2"]
    units, chips = [], []
    for uid, aff in affines.items():
        w, h = sizes[uid]
        scene = "s2" if uid == 2 else "s1"
        units.append(Unit(uid, scene, "holdout" if uid == 1 else "train", "pending",
                          1.0 - 0.1 * uid, "near_threshold", _bounds(aff, w, h)))  # fmt: skip
        chips.append((Chip(uid, scene, (256 * uid, 0, w, h), _aff6(aff), GSD, (w, h)),
                      np.full((h, w, 3), 50 + 40 * uid, dtype=np.uint8)))  # fmt: skip
    cands = [
        Candidate(cid, uid, "s2" if uid == 2 else "s1", kind, score, "near_threshold", src,
                  status, _corners_crs(affines[uid], box))
        for uid, cid, box, kind, score, src, status in BOXES
        if uid in affines
    ]  # fmt: skip
    return Round.create(path, manifest, cands, units, chips)


@pytest.fixture
def rnd(tmp_path):
    make_round(tmp_path / "round")
    return Round.open(tmp_path / "round")  # as stored (a mixed-CRS queue is kept in lon/lat)


def chip_px(r: Round, cand_id: int) -> np.ndarray:
    c = r.candidates[cand_id]
    return r.crs_to_chip(c.unit_id, np.asarray(c.corners))


def export(r: Round, fmt: str, out) -> None:
    assert main(["review", "export", str(r.path), "--to", fmt, "--out", str(out)]) == 0


def do_import(r: Round, *files, extra=()) -> list[dict]:
    """Import through the CLI; the journal lines it added."""
    before = len(r.journal())
    assert main(["review", "import", str(r.path), *map(str, files), *extra]) == 0
    return Round.open(r.path).journal()[before:]


# ---- edits per format: move cand 0 by +3 px in chip x, cand 1 -> 20ft, drop cand 5,
# ---- add a 20ft box at chip (120, 200) of unit 0 ---------------------------------------
NEW_BOX = RBox(120.0, 200.0, 12.1, 4.9, 45.0)


def ls_export_json(out) -> list[dict]:
    """What Label Studio's JSON export gives after a reviewer opened each task: the
    prediction became an annotation (result ids kept), plus an older and a cancelled one."""
    tasks = json.loads((out / "tasks.json").read_text())
    for i, t in enumerate(tasks):
        t["id"] = i + 1
        res = copy.deepcopy(t["predictions"][0]["result"])
        for r in res:
            r.pop("score", None)
        t["annotations"] = [
            {"id": 10 * i + 1, "result": [], "was_cancelled": False, "lead_time": 3.0,
             "created_at": "2026-01-01T10:00:00Z", "updated_at": "2026-01-01T10:00:00Z"},
            {"id": 10 * i + 2, "result": res, "was_cancelled": False, "lead_time": 12.0,
             "created_at": "2026-01-01T11:00:00Z", "updated_at": "2026-01-01T11:00:00Z"},
            {"id": 10 * i + 3, "result": [], "was_cancelled": True, "lead_time": 1.0,
             "created_at": "2026-01-01T12:00:00Z", "updated_at": "2026-01-01T12:00:00Z"},
        ]  # fmt: skip
    return tasks


def edit_labelstudio(out):
    tasks = ls_export_json(out)
    by_unit = {t["data"]["unit_id"]: t["annotations"][1]["result"] for t in tasks}
    for r in by_unit[0]:
        if r["id"] == "c0":
            r["value"]["x"] += 3 * 100.0 / 256
        if r["id"] == "c1":
            r["value"]["rectanglelabels"] = ["20ft"]
    by_unit[1][:] = [r for r in by_unit[1] if r["id"] != "c5"]
    tl = NEW_BOX.corners()[0]
    by_unit[0].append({
        "id": "Xy7_q2", "type": "rectanglelabels", "from_name": "kind", "to_name": "image",
        "original_width": 256, "original_height": 256, "image_rotation": 0,
        "value": {"x": tl[0] / 2.56, "y": tl[1] / 2.56, "width": NEW_BOX.length / 2.56,
                  "height": NEW_BOX.width / 2.56, "rotation": NEW_BOX.angle_deg,
                  "rectanglelabels": ["20ft"]},
    })  # fmt: skip
    path = out / "export.json"
    path.write_text(json.dumps(tasks))
    return [path]


def unchanged_labelstudio(out):
    path = out / "export.json"
    path.write_text(json.dumps(ls_export_json(out)))
    return [path]


def edit_cvat(out):
    tree = ET.parse(out / "annotations.xml")
    images = {im.get("name"): im for im in tree.getroot().iter("image")}
    for im in images.values():
        for box in list(im.iter("box")):
            cid = next(a.text for a in box.iter("attribute") if a.get("name") == "cand_id")
            if cid == "0":
                for k in ("xtl", "xbr"):
                    box.set(k, str(float(box.get(k)) + 3.0))
            elif cid == "1":
                box.set("label", "20ft")
            elif cid == "5":
                im.remove(box)
    b = NEW_BOX
    ET.SubElement(images["0.png"], "box", label="20ft", source="manual", occluded="0",
                  xtl=str(b.cx - b.length / 2), ytl=str(b.cy - b.width / 2),
                  xbr=str(b.cx + b.length / 2), ybr=str(b.cy + b.width / 2),
                  rotation=str(b.angle_deg), z_order="0")  # fmt: skip
    tree.write(out / "annotations.xml", encoding="utf-8", xml_declaration=True)
    return [out / "annotations.xml"]


def edit_yolo(out):
    lab = out / "labels"
    lines0 = (lab / "0.txt").read_text().splitlines()
    # lines follow the candidates' ids: 0, 1, 2, 3 (4 is rejected, not exported)
    v = lines0[0].split()
    v[1:9] = [f"{float(x) + (3.0 / 256 if i % 2 == 0 else 0.0):.9f}"
              for i, x in enumerate(v[1:9])]  # fmt: skip
    lines0[0] = " ".join(v)
    lines0[1] = "0" + lines0[1][1:]
    lines0.append("0 " + " ".join(f"{x / 256:.9f}" for x in NEW_BOX.corners().reshape(-1)))
    (lab / "0.txt").write_text("\n".join(lines0) + "\n")
    lines1 = (lab / "1.txt").read_text().splitlines()
    (lab / "1.txt").write_text("\n".join(lines1[1:]) + "\n")  # cand 5 is the first line
    return [out]


def _ll(r: Round, unit: int, px: np.ndarray) -> list[list[float]]:
    from pyproj import Transformer

    xy = r.chip_to_crs(unit, px)
    crs = r.manifest.scenes[r.units[unit].scene]["crs"]
    if crs != "EPSG:4326":
        x, y = Transformer.from_crs(crs, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1])
        xy = np.stack([x, y], axis=1)
    ring = xy.tolist()
    return ring + ring[:1]


def edit_geojson(out, r: Round):
    path = out / "s1.geojson"
    data = json.loads(path.read_text())
    feats = []
    for f in data["features"]:
        p = f["properties"]
        if p.get("cand_id") == 0:
            f["geometry"]["coordinates"] = [_ll(r, 0, chip_px(r, 0) + [3.0, 0.0])]
        elif p.get("cand_id") == 1:
            p["kind"] = "20ft"
        elif p.get("cand_id") == 5:
            continue
        feats.append(f)
    feats.append({"type": "Feature", "properties": {"kind": "20ft"},  # drawn in QGIS
                  "geometry": {"type": "Polygon",
                               "coordinates": [_ll(r, 0, NEW_BOX.corners())]}})  # fmt: skip
    data["features"] = feats
    path.write_text(json.dumps(data))
    return [path]


def edit_gpkg(out, r: Round):
    import shapely
    from pyogrio.raw import read, write
    from pyproj import Transformer

    def poly(unit, px):  # the layer is in lon/lat: the round's scenes have two CRSs
        xy = r.chip_to_crs(unit, px)
        x, y = Transformer.from_crs(UTM, 4326, always_xy=True).transform(xy[:, 0], xy[:, 1])
        return shapely.to_wkb(shapely.Polygon(np.stack([x, y], axis=1)))

    src, dst = out / "queue.gpkg", out / "edited.gpkg"
    for layer in ("candidates", "regions"):
        meta, _, wkb, cols = read(src, layer=layer)
        names = list(meta["fields"])
        col = {n: c for n, c in zip(names, cols, strict=True)}
        geoms = list(wkb)
        keep = np.ones(len(geoms), dtype=bool)
        masks = [None] * len(names)
        if layer == "candidates":
            ids = col["cand_id"].astype(int).tolist()
            geoms[ids.index(0)] = poly(0, chip_px(r, 0) + [3.0, 0])
            col["kind"][ids.index(1)] = "20ft"
            keep[ids.index(5)] = False
            col = {n: c[keep] for n, c in col.items()}
            geoms = [g for g, k in zip(geoms, keep, strict=True) if k]
            # a feature drawn in QGIS: only kind set, no ids
            geoms.append(poly(0, NEW_BOX.corners()))
            col = {n: np.append(c, {"kind": "20ft"}.get(n, np.nan if c.dtype != object else None))
                   for n, c in col.items()}  # fmt: skip
            masks = [np.append(np.zeros(len(geoms) - 1, bool), n != "kind") for n in names]
        else:
            col["status"][col["unit_id"].astype(int).tolist().index(2)] = "complete"
        assert meta["crs"] == "EPSG:4326"
        fields = [col[n].astype(np.int64) if n in ("cand_id", "unit_id") and layer == "regions"
                  else col[n] for n in names]  # fmt: skip
        write(str(dst), geometry=np.array(geoms, dtype=object), field_data=fields, fields=names,
              layer=layer, driver="GPKG", crs="EPSG:4326", geometry_type="Polygon",
              field_mask=masks if layer == "candidates" else None)  # fmt: skip
    return [dst]


FORMATS = ["labelstudio", "cvat", "yolo-obb", "geojson", "gpkg"]


def unchanged_files(fmt: str, out) -> list:
    return {
        "labelstudio": lambda: unchanged_labelstudio(out),
        "cvat": lambda: [out / "annotations.xml"],
        "yolo-obb": lambda: [out],
        "geojson": lambda: sorted(out.glob("*.geojson")),
        "gpkg": lambda: [out / "queue.gpkg"],
    }[fmt]()


@pytest.mark.parametrize("fmt", FORMATS)
def test_unchanged_round_trip_is_no_change(rnd, tmp_path, fmt, capsys):
    out = tmp_path / fmt
    export(rnd, fmt, out)
    files = unchanged_files(fmt, out)
    for f in files:  # every exported box comes back within 0.1 px (in fact ~1e-6)
        review = read_review(rnd, f)
        for b in review.boxes:
            assert b.cand_id is not None or fmt == "yolo-obb"
            if b.cand_id is not None:
                assert corner_distance(np.asarray(b.corners_px), chip_px(rnd, b.cand_id)) < 1e-3
    assert do_import(rnd, *files) == []
    assert "no changes" in capsys.readouterr().out
    back = Round.open(rnd.path)
    assert back.candidates == rnd.candidates and back.units == rnd.units


EDITS = {
    "labelstudio": lambda out, r: edit_labelstudio(out),
    "cvat": lambda out, r: edit_cvat(out),
    "yolo-obb": lambda out, r: edit_yolo(out),
    "geojson": edit_geojson,
    "gpkg": edit_gpkg,
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_edited_round_trip_gives_exactly_those_actions(rnd, tmp_path, fmt):
    out = tmp_path / fmt
    export(rnd, fmt, out)
    moved_to = chip_px(rnd, 0) + [3.0, 0.0]
    files = EDITS[fmt](out, rnd)
    new = do_import(rnd, *files)
    got = sorted((e["action"], e["cand"] if e["action"] != "add" else None, e["unit"])
                 for e in new)  # fmt: skip
    want = [("add", None, 0), ("kind", 1, 0), ("move", 0, 0), ("reject", 5, 1)]
    if fmt == "gpkg":
        want.append(("complete", None, 2))
    assert got == sorted(want)
    assert {e["by"] for e in new} == {f"import:{fmt}"}
    back = Round.open(rnd.path)
    assert corner_distance(chip_px(back, 0), moved_to) < 0.1
    assert back.candidates[0].status == "accepted"
    assert back.candidates[1].kind == "20ft" and back.candidates[1].status == "accepted"
    assert back.candidates[5].status == "rejected"
    added = [c for c in back.candidates.values() if c.source == "reviewer" and c.cand_id != 6]
    assert len(added) == 1 and added[0].kind == "20ft" and added[0].unit_id == 0
    assert corner_distance(chip_px(back, added[0].cand_id), NEW_BOX.corners()) < 0.1
    # untouched boxes did not move, the rotated-grid geographic unit included
    for cid in (2, 3, 6, 7, 8):
        assert corner_distance(chip_px(back, cid), chip_px(rnd, cid)) < 1e-6
        assert back.candidates[cid].status == rnd.candidates[cid].status
    seconds = [e["seconds"] for e in new if e["unit"] in (0, 1)]
    if fmt == "labelstudio":  # the chosen annotation's lead_time, spread over the unit's actions
        assert sum(s for s in seconds) == pytest.approx(24.0)
        assert sum(e["seconds"] for e in new if e["unit"] == 0) == pytest.approx(12.0)
    else:
        assert seconds == [None] * len(seconds)
    # importing the same file again changes nothing
    assert do_import(back, *files) == []


def test_import_complete_accepts_pending_and_completes(rnd, tmp_path):
    out = tmp_path / "cvat"
    export(rnd, "cvat", out)
    new = do_import(rnd, out / "annotations.xml", extra=["--complete"])
    got = sorted((e["action"], e["cand"]) for e in new)
    assert got == sorted([("accept", 0), ("accept", 1), ("accept", 3), ("accept", 5),
                          ("accept", 7), ("accept", 8), ("complete", None),
                          ("complete", None), ("complete", None)])  # fmt: skip
    back = Round.open(rnd.path)
    assert [u.unit_id for u in back.reviewed_units()] == [0, 1, 2]
    assert back.candidates[4].status == "rejected"  # not in the file: stays rejected


def test_cvat_task_without_the_cand_id_attribute_matches_by_position(rnd, tmp_path):
    """A CVAT task made without the attribute drops it: boxes are matched by centre, so
    the moved box is still a move, not a reject and an add."""
    out = tmp_path / "cvat"
    export(rnd, "cvat", out)
    labels = json.loads((out / "cvat_labels.json").read_text())
    assert [(lab["name"], [a["name"] for a in lab["attributes"]]) for lab in labels] == [
        ("20ft", ["cand_id", "score"]), ("40ft", ["cand_id", "score"])]  # fmt: skip
    (path,) = edit_cvat(out)
    tree = ET.parse(path)
    for box in tree.getroot().iter("box"):
        for a in list(box):
            box.remove(a)
        for k in ("xtl", "ytl", "xbr", "ybr", "rotation"):  # CVAT writes 2 decimals
            box.set(k, f"{float(box.get(k)):.2f}")
    tree.write(path)
    new = do_import(rnd, path)
    got = sorted((e["action"], e["cand"] if e["action"] != "add" else None) for e in new)
    assert got == [("add", None), ("kind", 1), ("move", 0), ("reject", 5)]
    back = Round.open(rnd.path)
    assert corner_distance(chip_px(back, 0), chip_px(rnd, 0) + [3.0, 0.0]) < 0.1


def test_dry_run_lists_actions_and_applies_nothing(rnd, tmp_path, capsys):
    out = tmp_path / "yolo"
    export(rnd, "yolo-obb", out)
    edit_yolo(out)
    capsys.readouterr()
    assert main(["review", "import", str(rnd.path), str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == (
        "would apply 4 actions from 1 files, 3 units: 1 add, 1 kind, 1 move, 1 reject"
    )
    assert "unit 1 reject cand 5" in text
    assert Round.open(rnd.path).journal() == []


def test_gpkg_of_a_one_crs_round_is_in_the_scene_crs(tmp_path):
    import pyogrio
    import shapely
    from pyogrio.raw import read, write

    make_round(tmp_path / "r", geographic=False)
    r = Round.open(tmp_path / "r")
    out = tmp_path / "gpkg"
    export(r, "gpkg", out)
    assert pyogrio.read_info(out / "queue.gpkg", layer="candidates")["crs"] == UTM
    assert do_import(r, out / "queue.gpkg") == []
    meta, _, wkb, cols = read(out / "queue.gpkg", layer="candidates")
    ids = cols[list(meta["fields"]).index("cand_id")].tolist()
    geoms = list(wkb)
    geoms[ids.index(2)] = shapely.to_wkb(shapely.Polygon(r.chip_to_crs(0, chip_px(r, 2) + [0, 3])))
    write(str(out / "moved.gpkg"), geometry=np.array(geoms, dtype=object), field_data=cols,
          fields=list(meta["fields"]), layer="candidates", driver="GPKG", crs=UTM,
          geometry_type="Polygon")  # fmt: skip
    new = do_import(r, out / "moved.gpkg")
    assert [(e["action"], e["cand"]) for e in new] == [("move", 2)]
    assert corner_distance(chip_px(Round.open(r.path), 2), chip_px(r, 2) + [0, 3]) < 0.1
