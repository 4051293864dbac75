"""scripts/eval_families.py, scripts/eval_lookalikes.py and scripts/lofo.py on tiny sizes."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import load_script

from detector.synth.families import FAMILIES, HELD_OUT
from detector.synth.training import training_sample


def test_eval_families_table_by_gsd_and_region(tmp_path, capsys):
    ef = load_script("eval_families")
    out = tmp_path / "fam.json"
    args = ["--samples", "4", "--size", "64", "--families", "classic", "flat", "--json", str(out)]
    assert ef.main(args) == 0
    report = json.loads(out.read_text())
    assert set(report["families"]) == {"classic", "flat"}
    truth = sum(
        int(training_sample(ef.FAMILY_TEST_SEED_BASE + i, size_px=64, layouts="v2")
            .containers.visible.sum())
        for i in range(4)
    )  # fmt: skip
    for fam, d in report["families"].items():
        assert d["overall"]["patches"] == 4 and d["overall"]["n_truth"] > 0
        assert sum(m["patches"] for m in d["by_gsd"].values()) == 4
        assert sum(m["patches"] for m in d["by_region"].values()) == 4
        assert set(d["by_gsd"]) <= {"0.3-0.4", "0.4-0.5", "0.5-0.6"}
        assert set(d["by_region"]) <= {"deck", "quay", "yard", "rail", "other"}
        assert sum(m["n_truth"] for m in d["by_region"].values()) == d["overall"]["n_truth"]
        if fam == "classic":
            assert d["overall"]["n_truth"] == truth
    table = capsys.readouterr().out
    assert "classic    all" in table and "flat       all" in table
    assert ef.gsd_bin(0.3) == "0.3-0.4" and ef.gsd_bin(0.45) == "0.4-0.5"
    assert ef.gsd_bin(0.6) == "0.5-0.6"


def test_eval_lookalikes_runs_detect_on_scene_geotiffs(tmp_path, capsys):
    el = load_script("eval_lookalikes")
    args = ["--out", str(tmp_path), "--size-m", "60", "--scenes", "bus_depot", "rail_yard",
            "--families", "classic", "flat"]  # fmt: skip
    assert el.main(args) == 0
    report = json.loads((tmp_path / "lookalikes.json").read_text())
    assert len(report["scenes"]) == 4
    for r in report["scenes"]:
        counts = json.loads((tmp_path / "pred" / f"{Path(r['file']).stem}.counts.json").read_text())
        assert r["false_containers"] == counts["totals"]["visible"] >= 0
        assert r["size_px"] == round(60 / r["gsd_m"])
        assert r["area_ha"] == round((r["size_px"] * r["gsd_m"]) ** 2 / 1e4, 2)
        assert counts["port"] is None  # far from every port AOI
    fam = report["by_family"]["flat"]
    sel = [r for r in report["scenes"] if r["family"] == "flat"]
    assert fam["false_per_scene"] == round(sum(r["false_containers"] for r in sel) / 2, 2)
    assert "bus_depot" in capsys.readouterr().out


def test_lofo_trains_in_chunks_then_scores_the_held_out_family(tmp_path, capsys):
    lofo = load_script("lofo")
    args = ["--out", str(tmp_path), "--steps", "3", "--batch-size", "2", "--size", "64",
            "--pool", "3", "--device", "cpu", "--eval-samples", "2", "--eval-size", "64"]  # fmt: skip
    assert lofo.main([*args, "--hold-out", "flat", "--max-minutes", "0.002"]) == 0
    assert (tmp_path / "lofo-flat.pt.ckpt").is_file() and not (tmp_path / "lofo.json").exists()
    assert "training continues" in capsys.readouterr().out
    assert lofo.main([*args, "--hold-out", "flat"]) == 0
    state = json.loads((tmp_path / "lofo.json").read_text())["families"]
    others = [f for f in FAMILIES if f != "flat" and f not in HELD_OUT]
    assert state["flat"]["trained_on"] == others and state["flat"]["overall"]["patches"] == 2
    seen = state["flat"]["trained_scores"]  # the same model on the families it trained on
    assert sorted(seen) == sorted(others) and all(v["patches"] == 2 for v in seen.values())
    assert not (tmp_path / "lofo-flat.pt.ckpt").exists()
    from detector.model.weights import read_meta

    recipe = read_meta(tmp_path / "lofo-flat.pt").recipe
    assert recipe["families"] == dict.fromkeys(others, 1.0) and recipe["layouts"] == "v2"
    assert recipe["steps"] == 3
    # a result from before the training-family scores gets them without training again
    path = tmp_path / "lofo.json"
    old = json.loads(path.read_text())
    del old["families"]["flat"]["trained_scores"]
    path.write_text(json.dumps(old))
    mtime = (tmp_path / "lofo-flat.pt").stat().st_mtime_ns
    assert lofo.main([*args, "--hold-out", "flat"]) == 0  # done: nothing trained again
    assert (tmp_path / "lofo-flat.pt").stat().st_mtime_ns == mtime
    assert sorted(json.loads(path.read_text())["families"]["flat"]["trained_scores"]) == sorted(
        others
    )
    out = capsys.readouterr().out
    assert "flat       all" in out and "on its training families" in out
    # --train-on: another mix of training families needs another folder
    assert lofo.main([*args, "--hold-out", "flat", "--train-on", "classic", "relief"]) == 2
    assert "use another --out" in capsys.readouterr().out
    alt = ["--out", str(tmp_path / "alt"), *args[2:]]
    assert lofo.main([*alt, "--hold-out", "flat", "--train-on", "classic", "flat", "relief"]) == 0
    state = json.loads((tmp_path / "alt" / "lofo.json").read_text())["families"]
    assert state["flat"]["trained_on"] == ["classic", "relief"]
    assert sorted(state["flat"]["trained_scores"]) == ["classic", "relief"]
