"""Output errors, safe output names, eval's unscored scenes and the exit codes (issue 19).

Every command that writes checks its output folder before computing; an output that cannot
be written (a folder below a regular file, a folder even root cannot write, a full disk) is
one line naming the path, exit 2, no traceback. Scene ids are made safe for output file
names. ``eval`` says which truth scenes have no predictions. Exit codes: 0 ok, 2 bad input /
output error / partial failure, 130 interrupted.
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from detector._io import SAFE_NAME_MAX, atomic_write_text, safe_name
from detector.cli.main import main
from detector.errors import CountError, OutputError

VOYAGES = "voyage,ship,rajin_date\n1,Angara,2023-09-03\n"
SCENE = "rajin_20230901T0200Z"


def _cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "detector", *map(str, args)],
        capture_output=True, text=True, timeout=300, env=os.environ.copy(),
    )  # fmt: skip


def _one_line(err: str) -> str:
    """The single stderr line of a failed command (no traceback)."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def blocker(tmp_path) -> Path:
    """A regular file: any output path below it fails, for root too."""
    p = tmp_path / "plain_file"
    p.write_text("not a folder\n")
    return p


def _unwritable_dir() -> Path:
    """An existing folder that even root cannot create files in (``/proc``)."""
    d = Path("/proc")
    try:
        fd, probe = tempfile.mkstemp(dir=d)
    except OSError:
        return d
    os.close(fd)
    os.unlink(probe)
    pytest.skip("/proc is writable here")


# ---------------------------------------------------------------- output checked first


def _command(name: str, tmp_path: Path, out: Path, scene: Path) -> list:
    voyages = tmp_path / "voyages.csv"
    voyages.write_text(VOYAGES)
    return {
        "detect": ["detect", scene, "--out", out, "--no-progress"],
        "run": ["run", scene.parent, "--voyages", voyages, "--out", out, "--no-progress"],
        "demo": ["demo", "--out", out, "--no-progress"],
        "synth scene": ["synth", "scene", "--port", "rajin", "--seed", "1", "--out", out],
        "synth world": ["synth", "world", "--voyages", voyages, "--first", "1", "--out", out],
        "export": ["export", "--format", "torchscript", "--out", out / "m.pt"],
        "eval --json": ["eval", tmp_path, tmp_path, "--json", out / "r.json"],
        "train": [
            "train",
            "--out",
            out / "m.pt",
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--size",
            "64",
            "--val-samples",
            "0",
        ],
    }[name]


#: through a real subprocess: one command of each family (detect/run/demo, synth, export,
#: eval); the others in process through ``main``
SUBPROCESS = ("detect", "synth scene", "export")


@pytest.mark.parametrize(
    "name",
    ["detect", "run", "demo", "synth scene", "synth world", "export", "eval --json", "train"],
)
def test_out_below_a_file_is_one_line_exit_2_before_any_work(
    name, tmp_path, blocker, make_geotiff, capsys
):
    scene = make_geotiff(f"img/{SCENE}.tif") if name in ("detect", "run") else tmp_path
    out = blocker / "out"
    args = [str(a) for a in _command(name, tmp_path, out, scene)]
    if name in SUBPROCESS:
        res = _cli(*args)
        rc, stdout, stderr = res.returncode, res.stdout, res.stderr
    else:
        rc = main(args)
        stdout, stderr = capsys.readouterr()
    assert rc == 2, stderr
    line = _one_line(stderr)
    cmd = name.split()[0]
    assert line.startswith(f"ccount {cmd}: error: {out}")
    assert f"{blocker} is a file, not a folder" in line
    if cmd == "detect":
        assert str(scene) not in line  # the scene is not blamed
    assert stdout == ""  # nothing was computed (detect/run print a line per scene)
    # nothing was rendered or written anywhere
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        ["plain_file", "voyages.csv"] + ([f"{SCENE}.tif"] if cmd in ("detect", "run") else [])
    )


@pytest.mark.parametrize("name", ["detect", "synth scene", "export"])
def test_folder_that_root_cannot_write_is_one_line_exit_2(name, tmp_path, make_geotiff, capsys):
    d = _unwritable_dir()
    scene = make_geotiff(f"{SCENE}.tif")
    out = d if name != "detect" else d / "ccount_out"
    args = [str(a) for a in _command(name, tmp_path, out, scene)]
    assert main(args) == 2
    line = _one_line(capsys.readouterr().err)
    cmd = name.split()[0]
    if name == "detect":  # /proc/ccount_out cannot be created
        assert line.startswith(f"ccount detect: error: {out}: output folder cannot be created (")
    elif name == "synth scene":  # /proc exists but takes no files
        assert line.startswith(f"ccount synth: error: {d}: output folder is not writable (")
    else:
        assert line.startswith(f"ccount {cmd}: error: {out / 'm.pt'}: cannot write: {d} is not")


def test_out_that_is_a_file(tmp_path, blocker, capsys):
    assert main(["synth", "scene", "--port", "rajin", "--seed", "1", "--out", str(blocker)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line == f"ccount synth: error: {blocker}: output folder is a file, not a folder"
    assert blocker.read_text() == "not a folder\n"


# ---------------------------------------------------------------- disk full while writing


def _disk_full_on(monkeypatch, marker: str) -> list[str]:
    """Writing a file whose name holds ``marker`` fails with ENOSPC, as on a full disk."""
    real = pathlib.Path.write_bytes
    hits: list[str] = []

    def write_bytes(self, data):
        if marker in self.name:
            hits.append(self.name)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", write_bytes)
    return hits


def test_atomic_write_error_names_the_final_file(tmp_path, monkeypatch):
    hits = _disk_full_on(monkeypatch, "x.json")
    with pytest.raises(OutputError) as ei:
        atomic_write_text(tmp_path / "x.json", "{}")
    assert isinstance(ei.value, OSError) and isinstance(ei.value, CountError)
    assert str(ei.value) == f"{tmp_path / 'x.json'}: cannot write (No space left on device)"
    assert hits and list(tmp_path.iterdir()) == []  # the temporary is gone too


def test_disk_full_while_run_writes_the_report(tmp_path, make_geotiff, monkeypatch, capsys):
    scene = make_geotiff(f"img/{SCENE}.tif", shape=(3, 320, 320))
    (tmp_path / "voyages.csv").write_text(VOYAGES)
    out = tmp_path / "run"
    args = ["run", str(scene.parent), "--voyages", str(tmp_path / "voyages.csv"),
            "--out", str(out), "--no-progress"]  # fmt: skip
    hits = _disk_full_on(monkeypatch, "report.html")
    assert main(args) == 2
    line = _one_line(capsys.readouterr().err)
    assert hits
    assert line == (
        f"ccount run: error: {out / 'report.html'}: cannot write (No space left on device)"
    )
    assert not (out / "report.html").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".report.html")]
    # the scene itself is done and kept: with space again the run resumes and finishes
    monkeypatch.undo()
    assert main(args) == 0
    assert "0 processed, 1 skipped" in capsys.readouterr().out
    assert (out / "report.html").is_file()


def test_disk_full_during_detect_names_the_output_file(tmp_path, make_geotiff, monkeypatch, capsys):
    a = make_geotiff("a.tif")
    out = tmp_path / "out"
    _disk_full_on(monkeypatch, ".counts.json")
    rc = main(["detect", str(a), "--out", str(out), "--no-progress"])
    cap = capsys.readouterr()
    assert rc == 2 and "Traceback" not in cap.err
    # the scene's line names the output file under its final name (not a temporary) and
    # the cause; all three files of the scene appear together or not at all
    want = f"{out / 'a.counts.json'}: cannot write (No space left on device)"
    assert cap.err.splitlines() == [
        f"ccount detect: error: {a}: {want}",
        "ccount detect: 1 scene(s) failed",
    ]
    assert sorted(p.name for p in out.iterdir()) == []


def test_disk_full_while_eval_writes_json(tmp_path, monkeypatch, capsys):
    truth = [_container(605000.0, 4678000.0, truth=True)]
    _fc(tmp_path / "pred" / "s.detections.geojson", [_container(605000.0, 4678000.0)])
    _fc(tmp_path / "truth" / "s.geojson", truth)
    _disk_full_on(monkeypatch, "report.json")
    rep = tmp_path / "report.json"
    assert main(["eval", str(tmp_path / "pred"), str(tmp_path / "truth"), "--json", str(rep)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line == f"ccount eval: error: {rep}: cannot write (No space left on device)"


# ---------------------------------------------------------------- safe output names


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("rajin_20230901T0200Z", "rajin_20230901T0200Z"),
        ("a;b", "a_b"),
        ("x'); DROP TABLE scenes;--", "x____DROP_TABLE_scenes_--"),
        ("two words & more", "two_words___more"),
        (".hidden", "_hidden"),
        ("scene.v2", "scene.v2"),
        ("Восточный-1", "Восточный-1"),
        ("tab\there", "tab_here"),
        ("", "_"),
    ],
)
def test_safe_name(name, safe):
    assert safe_name(name) == safe
    assert safe_name(safe) == safe  # idempotent


def test_safe_name_is_bounded():
    assert len(safe_name("x" * 300)) == SAFE_NAME_MAX
    assert len(safe_name("я" * 300).encode("utf-8")) <= SAFE_NAME_MAX


def test_detect_semicolon_in_name_leaves_no_stray_file(tmp_path, make_geotiff):
    scene = make_geotiff("a;b.tif")
    out = tmp_path / "out"
    res = _cli("detect", scene, "--out", out, "--no-progress")
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["a_b.counts.json", "a_b.detections.geojson", "a_b.detections.gpkg"]
    counts = json.loads((out / "a_b.counts.json").read_text())
    assert counts["scene"] == "a;b" and counts["file"].endswith("a;b.tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a;b.tif", "out"]


def test_names_equal_once_safe_are_an_error_naming_both(tmp_path, make_geotiff, capsys):
    a = make_geotiff("a;b.tif")
    b = make_geotiff("a b.tif", seed=1)
    out = tmp_path / "out"
    assert main(["detect", str(a), str(b), "--out", str(out), "--no-progress"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(a) in line and str(b) in line and "'a_b'" in line
    assert not out.exists()  # refused before the output folder is made


def test_run_with_unsafe_name_merges_and_reports_it(tmp_path, make_geotiff, capsys):
    scene = make_geotiff(f"img/{SCENE};copy.tif", shape=(3, 320, 320))
    (tmp_path / "voyages.csv").write_text(VOYAGES)
    out = tmp_path / "run"
    args = ["run", str(scene.parent), "--voyages", str(tmp_path / "voyages.csv"),
            "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    det = sorted(p.name for p in (out / "detections").iterdir())
    safe = f"{SCENE}_copy"
    assert det == [f"{safe}.counts.json", f"{safe}.detections.geojson", f"{safe}.detections.gpkg"]
    assert not [p for p in out.iterdir() if ";" in p.name or p.name.startswith("..")]
    # the run's merged layer was built from the safe-named file (the scene had detections
    # or not: the merge ran only if the file was found)
    assert (out / "detections.gpkg").is_file()
    assert (out / "report.html").is_file()


# ---------------------------------------------------------------- eval: what was not scored

X0, Y0 = 605000.0, 4678000.0


def _container(x: float, y: float, *, truth: bool = False) -> dict:
    from pyproj import Transformer

    from detector.detections import box_corners

    c = box_corners(np.array([x]), np.array([y]), np.array([6.058]), np.array([2.438]),
                    np.array([0.3]))[0]  # fmt: skip
    lon, lat = Transformer.from_crs("EPSG:32652", 4326, always_xy=True).transform(c[:, 0], c[:, 1])
    ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    props = {"type": "container", "kind": "20ft", "region": "yard", "ship": None,
             "score": 0.9, "tiers_est": 1.0}  # fmt: skip
    if truth:
        props.update(tiers=1, visible=True, score=1.0)
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "Polygon", "coordinates": [ring + [ring[0]]]}}  # fmt: skip


def _fc(path: Path, feats: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"type": "FeatureCollection", "properties": {"crs": "EPSG:32652", "gsd_m": 0.4},
           "features": feats}  # fmt: skip
    path.write_text(json.dumps(doc))


def test_eval_reports_truth_without_predictions(tmp_path):
    truth = [_container(X0 + 8 * i, Y0, truth=True) for i in range(3)]
    pred = [_container(X0 + 8 * i, Y0) for i in range(3)]
    _fc(tmp_path / "pred" / "s1.detections.geojson", pred)
    _fc(tmp_path / "pred" / "extra.detections.geojson", pred)
    for s in ("s1", "s2", "s3"):
        _fc(tmp_path / "truth" / "truth" / f"{s}.geojson", truth)
    rep = tmp_path / "r.json"
    res = _cli("eval", tmp_path / "pred", tmp_path / "truth", "--json", rep)
    assert res.returncode == 0, res.stderr
    assert "no predictions for: s2, s3 (2 truth scenes not scored)" in res.stdout
    assert "no truth for: extra" in res.stdout
    doc = json.loads(rep.read_text())
    assert doc["no_predictions"] == ["s2", "s3"] and doc["unpaired"] == ["extra"]
    assert [s["scene"] for s in doc["scenes"]] == ["s1"]
    assert doc["overall"]["tp"] == 3 and doc["overall"]["recall"] == 1.0


def test_eval_pairs_truth_with_safe_named_predictions(tmp_path):
    truth = [_container(X0, Y0, truth=True)]
    _fc(tmp_path / "pred" / "a_b.detections.geojson", [_container(X0, Y0)])
    _fc(tmp_path / "truth" / "a;b.geojson", truth)
    doc = json.loads(_cli_json(tmp_path))
    assert [s["scene"] for s in doc["scenes"]] == ["a_b"]
    assert doc["no_predictions"] == [] and doc["unpaired"] == []
    assert doc["scenes"][0]["truth"].endswith("a;b.geojson") and doc["overall"]["tp"] == 1


def _cli_json(tmp_path: Path) -> str:
    rep = tmp_path / "r.json"
    assert main(["eval", str(tmp_path / "pred"), str(tmp_path / "truth"), "--json", str(rep)]) == 0
    return rep.read_text()


# ---------------------------------------------------------------- one exit-code convention


def _bad_input(name: str, tmp_path: Path) -> tuple[list[str], str]:
    """(arguments, what the one-line error must contain) of one bad input per command."""
    missing = str(tmp_path / "missing")
    (tmp_path / "voyages.csv").write_text(VOYAGES)
    return {
        "info": (["info", f"{missing}.tif"], f"{missing}.tif"),
        "synth": (
            ["synth", "scene", "--port", "rajin", "--seed", "1", "--out", missing, "--gsd", "9"],
            "--gsd 9",
        ),  # fmt: skip
        "train": (["train", "--out", f"{missing}.pt", "--size", "50"], "--size 50"),
        "detect": (
            ["detect", f"{missing}.tif", "--out", missing, "--no-progress"],
            f"{missing}.tif",
        ),  # fmt: skip
        "eval": (["eval", missing, str(tmp_path)], missing),
        "export": (
            ["export", "--format", "onnx", "--out", f"{missing}.onnx", "--model", f"{missing}.pt"],
            f"{missing}.pt",
        ),  # fmt: skip
        "reconcile": (["reconcile", missing], missing),
        "munitions": (
            ["munitions", "--containers", "10", "--assumptions", f"{missing}.json"],
            f"{missing}.json",
        ),  # fmt: skip
        "report": (["report", missing], missing),
        "run": (
            [
                "run",
                missing,
                "--voyages",
                str(tmp_path / "voyages.csv"),
                "--out",
                str(tmp_path / "o"),
                "--no-progress",
            ],
            missing,
        ),  # fmt: skip
        "demo": (["demo", "--out", missing, "--first", "0"], "--first 0"),
        "review": (["review", "labels", missing, "--out", str(tmp_path / "l")], missing),
    }[name]


COMMANDS = ["info", "synth", "train", "detect", "eval", "export", "reconcile", "munitions",
            "report", "run", "demo", "review"]  # fmt: skip


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_exits_2_with_one_line_on_bad_input(name, tmp_path, capsys):
    from detector.cli.main import COMMANDS as REGISTERED

    assert sorted(REGISTERED) == sorted(COMMANDS)
    args, must = _bad_input(name, tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err and lines, err
    # detect reports the failed scene and then the count of failures; others one line
    assert lines[0].startswith(f"ccount {name}: error: ") and must in lines[0], err
    assert len(lines) == (2 if name == "detect" else 1), err


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as ei:
        main(["detect", "--no-such-option"])
    assert ei.value.code == 2


def test_interrupt_exits_130(tmp_path, monkeypatch, capsys):
    import detector.labels.evaluate as ev

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ev, "evaluate_dirs", interrupted)
    assert main(["eval", str(tmp_path), str(tmp_path)]) == 130
    assert _one_line(capsys.readouterr().err) == "ccount eval: interrupted"
