"""``ccount run``: resumable batch over a folder, with a tiny random-weights model.

The SIGKILL test starts a real ``ccount run`` subprocess, kills it with SIGKILL as soon as the
first scene's counts file appears, starts it again, and compares the outputs with those of an
uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from detector.cli.main import main

CCOUNT = Path(sys.executable).with_name("ccount")
ORIGINS = {"rajin": ("EPSG:32652", 605700.0, 4678100.0),
           "vostochny": ("EPSG:32653", 341600.0, 4733100.0)}  # fmt: skip
SCENES = [
    "rajin_20230901T0200Z", "rajin_20230903T0200Z", "vostochny_20230905T0200Z",
    "rajin_20230909T0200Z", "rajin_20230911T0200Z", "vostochny_20230913T0200Z",
]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny random-weights model, six small scenes and a two-voyage log."""
    import torch
    from rasterio.transform import from_origin

    from detector.imagery.raster import write_geotiff
    from detector.model.net import build_ccnet
    from detector.model.weights import ModelMeta, save_weights

    d = tmp_path_factory.mktemp("runworld")
    torch.manual_seed(0)
    kw = {"widths": [4, 8, 8, 8, 8], "depths": [0, 0, 0, 0, 0], "head_ch": 8}
    save_weights(d / "tiny.pt", build_ccnet(**kw), ModelMeta(arch="ccnet-v1", arch_kwargs=kw))
    torch.manual_seed(1)
    kw2 = {**kw, "head_ch": 12}
    save_weights(d / "tiny2.pt", build_ccnet(**kw2), ModelMeta(arch="ccnet-v1", arch_kwargs=kw2))
    rng = np.random.default_rng(0)
    (d / "scenes" / "sub").mkdir(parents=True)
    for i, name in enumerate(SCENES):
        crs, x0, y0 = ORIGINS[name.split("_")[0]]
        arr = (rng.random((3, 320, 320)) * 255).astype("uint8")
        folder = d / "scenes" / ("sub" if i % 2 else "")
        write_geotiff(folder / f"{name}.tif", arr, transform=from_origin(x0, y0, 0.5, 0.5),
                      crs=crs, overviews=())  # fmt: skip
    (d / "voyages.csv").write_text(
        "voyage,ship,rajin_date\n1,Angara,2023-09-03\n2,Maria,2023-09-11\n"
    )
    return d


def _args(world, out, *extra):
    return [str(world / "scenes"), "--voyages", str(world / "voyages.csv"), "--out", str(out),
            "--model", str(world / "tiny.pt"), "--device", "cpu", "--threads", "1",
            "--no-progress", *extra]  # fmt: skip


def _outputs(out: Path) -> dict:
    """What must match between runs: reconciliation files and counts without timings."""
    res = {"shipments": (out / "shipments.csv").read_text(),
           "totals": json.loads((out / "totals.json").read_text())}  # fmt: skip
    for p in sorted((out / "detections").glob("*.counts.json")):
        c = json.loads(p.read_text())
        c.pop("timing_s")
        res[p.name] = c
    return res


def _rows(out: Path) -> list[tuple]:
    db = sqlite3.connect(out / "ccount.sqlite")
    return db.execute("SELECT id, status, attempts FROM scenes ORDER BY id").fetchall()


def test_run_then_rerun_skips_and_changes_reprocess(world, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", *_args(world, out)]) == 0
    text = capsys.readouterr().out
    assert "scenes: 6 processed, 0 skipped (already done), 0 failed" in text
    for name in ("shipments.csv", "totals.json", "detections.gpkg", "report.html", "run.json",
                 "voyages.csv", "assumptions.json"):  # fmt: skip
        assert (out / name).is_file(), name
    assert [r[0] for r in _rows(out)] == sorted(SCENES)
    first = _outputs(out)
    assert main(["run", *_args(world, out)]) == 0
    assert "0 processed, 6 skipped" in capsys.readouterr().out
    assert _outputs(out) == first
    # batch size does not change detections: still skipped; the tile size does
    assert main(["run", *_args(world, out, "--batch-size", "3")]) == 0
    assert "0 processed, 6 skipped" in capsys.readouterr().out
    assert main(["run", *_args(world, out, "--score-thresh", "0.5")]) == 0
    assert "6 processed, 0 skipped" in capsys.readouterr().out
    # another model re-processes everything, never duplicating a row
    args = _args(world, out)
    args[args.index("--model") + 1] = str(world / "tiny2.pt")
    assert main(["run", *args]) == 0
    assert "6 processed, 0 skipped" in capsys.readouterr().out
    assert [(r[0], r[1]) for r in _rows(out)] == [(s, "done") for s in sorted(SCENES)]
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["model"]["path"].endswith("tiny2.pt")


def test_a_bad_scene_fails_alone_and_exit_is_2(world, tmp_path, capsys):
    imagery = tmp_path / "img"
    imagery.mkdir()
    for p in (world / "scenes").rglob("rajin_2023090[13]*.tif"):
        (imagery / p.name).write_bytes(p.read_bytes())
    (imagery / "rajin_20230902T0200Z.tif").write_bytes(b"II*\x00 not really a tiff")
    out = tmp_path / "out"
    args = _args(world, out)
    args[0] = str(imagery)
    assert main(["run", *args]) == 2  # like `detect`
    cap = capsys.readouterr()
    assert "scenes: 2 processed, 0 skipped (already done), 1 failed" in cap.out
    assert "failed rajin_20230902T0200Z:" in cap.out and "rajin_20230902T0200Z.tif" in cap.out
    assert "1 scene(s) failed" in cap.err
    rows = {r[0]: r[1] for r in _rows(out)}
    assert rows == {"rajin_20230901T0200Z": "done", "rajin_20230902T0200Z": "failed",
                    "rajin_20230903T0200Z": "done"}  # fmt: skip
    assert (out / "shipments.csv").is_file()  # the good scenes are still reconciled


def test_bad_inputs_exit_2_before_any_work(world, tmp_path, capsys):
    out = tmp_path / "out"
    empty = tmp_path / "empty"
    empty.mkdir()
    args = _args(world, out)
    args[0] = str(empty)
    assert main(["run", *args]) == 2
    assert f"{empty}: no scenes" in capsys.readouterr().err
    args = _args(world, out)
    args[args.index("--voyages") + 1] = str(tmp_path / "missing.csv")
    assert main(["run", *args]) == 2
    assert "voyage log not found" in capsys.readouterr().err
    assert not (out / "ccount.sqlite").exists()


def test_sigkill_mid_run_then_resume_equals_uninterrupted(world, tmp_path):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([str(CCOUNT), "run", *_args(world, killed)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    det = killed / "detections"
    deadline = time.monotonic() + 120
    try:
        while not list(det.glob("*.counts.json")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no counts file appeared"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    done_at_kill = [r for r in _rows(killed) if r[1] == "done"] if (
        killed / "ccount.sqlite").exists() else []  # fmt: skip
    assert len(done_at_kill) < len(SCENES), "the run finished before it was killed"
    assert not (killed / "shipments.csv").exists()
    res = subprocess.run([str(CCOUNT), "run", *_args(world, killed)], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert f"{len(SCENES) - len(done_at_kill)} processed, {len(done_at_kill)} skipped" in res.stdout
    assert main(["run", *_args(world, clean)]) == 0
    assert _outputs(killed) == _outputs(clean)
    rows = _rows(killed)
    assert [r[0] for r in rows] == sorted(SCENES) and {r[1] for r in rows} == {"done"}
    assert len(list(det.glob("*.counts.json"))) == len(SCENES)
    assert not [p for p in det.iterdir() if p.name.startswith(".")]  # no temporaries left
