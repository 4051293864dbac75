"""``ccount demo``: a small world, a full run, the shipments table and the report path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from detector.paths import default_model_path

CCOUNT = Path(sys.executable).with_name("ccount")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import torch

    from detector.model.net import build_ccnet
    from detector.model.weights import ModelMeta, save_weights

    torch.manual_seed(0)
    kw = {"widths": [4, 8, 8, 8, 8], "depths": [0, 0, 0, 0, 0], "head_ch": 8}
    p = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_weights(p, build_ccnet(**kw), ModelMeta(arch="ccnet-v1", arch_kwargs=kw))
    return p


def test_demo_subprocess_one_voyage(tmp_path, tiny_model):
    out = tmp_path / "demo"
    cmd = [str(CCOUNT), "demo", "--out", str(out), "--first", "1", "--model", str(tiny_model),
           "--device", "cpu", "--no-progress"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    world = json.loads((out / "world" / "world.json").read_text())
    assert world["seed"] == 19 and [v["voyage"] for v in world["voyages"]] == [1]
    true = world["voyages"][0]["containers"]
    assert (out / "voyages.csv").read_text() == "voyage,ship,rajin_date\n1,Angara,2023-09-03\n"
    lines = res.stdout.splitlines()
    assert "scenes: 2 processed, 0 skipped (already done), 0 failed" in lines
    head = next(i for i, line in enumerate(lines) if line.startswith("voyage  ship"))
    assert lines[head].split() == ["voyage", "ship", "rajin_date", "containers", "90%",
                                   "interval", "true", "TEU", "scenes", "note"]  # fmt: skip
    assert lines[head + 2].split()[:3] == ["1", "Angara", "2023-09-03"]
    assert str(true) in lines[head + 2].split()
    report = out / "run" / "report.html"
    assert lines[-1] == f"report: {report.resolve()}" and report.is_file()
    # a second demo reuses the world and the finished scenes
    res2 = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res2.returncode == 0, res2.stderr
    assert "scenes: 0 processed, 2 skipped (already done), 0 failed" in res2.stdout


@pytest.mark.slow
def test_demo_with_no_arguments(tmp_path):
    assert default_model_path().is_file()  # the shipped model
    res = subprocess.run([str(CCOUNT), "demo", "--no-progress"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=900)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "demo_out" / "run" / "report.html").is_file()
    assert "imputed" in res.stdout and "report: " in res.stdout
