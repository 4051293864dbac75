"""Bad import files: one line naming the file, exit 2, and nothing applied (every file is
checked before the first action)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from test_formats import edit_labelstudio, export, make_round

from detector.cli.main import main
from detector.review.round import Round


@pytest.fixture
def rnd(tmp_path):
    make_round(tmp_path / "round")
    return Round.open(tmp_path / "round")


def fails(r: Round, files, capsys, match: str) -> str:
    """Import must exit 2 with one line on stderr holding ``match``; the round unchanged."""
    state = (r.path / "queue.gpkg").read_bytes(), (r.path / "journal.jsonl").read_bytes()
    assert main(["review", "import", str(r.path), *map(str, files)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err, err
    assert ((r.path / "queue.gpkg").read_bytes(), (r.path / "journal.jsonl").read_bytes()) == state
    return err


def test_unknown_unit_in_a_later_file_applies_nothing(rnd, tmp_path, capsys):
    out = tmp_path / "ls"
    export(rnd, "labelstudio", out)
    (good,) = edit_labelstudio(out)  # four valid changes
    tasks = json.loads(good.read_text())
    tasks[0]["data"]["unit_id"] = 99
    bad = out / "bad.json"
    bad.write_text(json.dumps(tasks))
    err = fails(rnd, [good, bad], capsys, "unknown review unit 99")
    assert str(bad) in err


def test_yolo_label_file_of_no_unit(rnd, tmp_path, capsys):
    out = tmp_path / "yolo"
    export(rnd, "yolo-obb", out)
    (out / "labels" / "7.txt").write_text("0 0.1 0.1 0.2 0.1 0.2 0.15 0.1 0.15\n")
    fails(rnd, [out], capsys, "7.txt: file name is not a review unit")


def test_box_outside_its_unit_and_bad_label(rnd, tmp_path, capsys):
    out = tmp_path / "cvat"
    export(rnd, "cvat", out)
    tree = ET.parse(out / "annotations.xml")
    box = next(tree.getroot().iter("box"))
    box.set("xtl", "900")
    box.set("xbr", "912")
    tree.write(out / "far.xml")
    fails(rnd, [out / "far.xml"], capsys, "outside review unit 0")
    box.set("xtl", "10")
    box.set("xbr", "22")
    box.set("label", "truck")
    tree.write(out / "label.xml")
    fails(rnd, [out / "label.xml"], capsys, "label 'truck'")


def test_same_unit_in_two_files_and_the_round_queue_itself(rnd, tmp_path, capsys):
    out = tmp_path / "cvat"
    export(rnd, "cvat", out)
    other = out / "other.xml"
    other.write_bytes((out / "annotations.xml").read_bytes())
    fails(rnd, [out / "annotations.xml", other], capsys, "review unit 0 is also in")
    fails(rnd, [rnd.path / "queue.gpkg"], capsys, "edit a copy")
    export(rnd, "labelstudio", tmp_path / "ls")
    fails(rnd, [tmp_path / "ls" / "tasks.json"], capsys, "no task has annotations")
    (tmp_path / "notes.json").write_text('{"a": 1}')
    fails(rnd, [tmp_path / "notes.json"], capsys, "not a file ccount review import reads")


def test_subprocess_exit_code_and_no_traceback(rnd, tmp_path):
    bad = tmp_path / "ls.json"
    result = {
        "id": "c77",
        "type": "rectanglelabels",
        "value": {
            "x": 1,
            "y": 1,
            "width": 3,
            "height": 2,
            "rotation": 0,
            "rectanglelabels": ["20ft"],
        },
    }
    bad.write_text(json.dumps([{"data": {"unit_id": 0}, "annotations": [{"result": [result]}]}]))
    p = subprocess.run([sys.executable, "-m", "detector", "review", "import", str(rnd.path),
                        str(bad)], capture_output=True, text=True)  # fmt: skip
    assert p.returncode == 2
    assert p.stderr.strip() == (
        f"ccount review: error: {bad}: task 0 result 'c77': unknown candidate 77"
    )
    assert Round.open(rnd.path).journal() == []


def test_a_file_older_than_later_review_is_refused_unless_forced(rnd, tmp_path, capsys):
    out = tmp_path / "ls"
    export(rnd, "labelstudio", out)
    assert json.loads((out / "ccount_export.json").read_text())["journal_n"] == 0
    (path,) = edit_labelstudio(out)
    rnd.apply({"action": "reject", "cand": 2, "by": "browser"})  # reviewed meanwhile
    fails(rnd, [path], capsys, "review unit 0 changed in the round after this export")
    assert main(["review", "import", str(rnd.path), str(path), "--force"]) == 0
    new = Round.open(rnd.path).journal()[1:]
    # the file still has cand 2, so forcing it accepts it again (the file wins)
    assert sorted((e["action"], e["cand"]) for e in new if e["action"] != "add") == [
        ("accept", 2), ("kind", 1), ("move", 0), ("reject", 5)]  # fmt: skip
