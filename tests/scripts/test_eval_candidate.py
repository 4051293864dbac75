"""scripts/eval_candidate.py: which measurements run, what is skipped, the summary rows."""

import json
from pathlib import Path

from conftest import load_script


def _fake_results(out: Path) -> None:
    for name, f1, ce in [("dev-classic", 0.9143, 0.58), ("dev-flat-winter", 0.8773, -8.02)]:
        (out / name).mkdir(parents=True)
        (out / name / "eval.json").write_text(
            json.dumps({"overall": {"f1": f1, "count_error_pct": ce}})
        )
    fams = {"classic": {"false_per_scene": 4.0}, "flat": {"false_per_scene": 0.33},
            "photo": {"false_per_scene": 8.0}}  # fmt: skip
    (out / "look0.json").write_text(json.dumps({"by_family": fams}))
    (out / "ships-W1.txt").write_text("x\n66 true hulls: 39 named right (59%), 14 unknown\n")
    (out / "ships-W11.txt").write_text("65 true hulls: 40 named right (62%)\n")
    unseen = {"oblique": {"overall": {"f1": 0.7941, "count_error": -0.1553}}}
    (out / "unseen.json").write_text(json.dumps({"families": unseen}))
    (out / "unseen-scenes").mkdir()
    (out / "unseen-scenes" / "eval.json").write_text(
        json.dumps({"overall": {"f1": 0.8871, "count_error_pct": -1.46}})
    )


def test_summary_rows_carry_the_measured_numbers(tmp_path):
    ec = load_script("eval_candidate")
    _fake_results(tmp_path)
    names = ["dev-classic", "dev-flat", "dev-flat-winter", "look0", "ships-W1", "ships-W11",
             "unseen", "unseen-scenes"]  # fmt: skip
    got = ec.summarise(tmp_path, names)
    assert "dev-flat" not in got  # not measured: no row cell invented
    assert got["ships-W1"] == {"hulls": 66, "named_right": 39}
    rows = ec.rows(got)
    assert rows[0] == (
        "| dev classic / flat / photo, then winter | 0.914 / +0.6 | — | — | — | 0.877 / -8.0 | — |"
    )
    assert rows[1].startswith("| look-alikes a scene, mean 4.1 | look0: 4/0.33/8")
    assert rows[2] == "| hulls named right | 39/66 / 40/65 (79 of 131) |"
    assert rows[3] == "| unseen family (oblique patches) | 0.794 / -15.5 |"
    assert rows[4] == "| unseen family, test scenes | 0.887 / -1.5 |"


def test_finished_parts_are_not_run_again_and_bad_input_exits_2(tmp_path, monkeypatch, capsys):
    ec = load_script("eval_candidate")
    model = tmp_path / "m.pt"
    model.write_bytes(b"x")
    out = tmp_path / "out"
    out.mkdir()
    _fake_results(out)
    world = tmp_path / "W1"
    (world / "scenes").mkdir(parents=True)
    ran = []
    monkeypatch.setattr(
        ec, "run_job", lambda name, result, commands, log: ran.append((name, commands))
    )
    argv = ["--model", str(model), "--out", str(out), "--parts", "dev", "look", "ships",
            "--lookalike-seeds", "0", "1", "--worlds", str(world)]  # fmt: skip
    assert ec.main(argv) == 0
    names = [n for n, _ in ran]
    assert names == ["dev-classic-winter", "dev-flat", "dev-photo", "dev-photo-winter", "look1"]
    look = dict(ran)["look1"][0]
    assert look[look.index("--families") + 1 :] == ["classic", "flat", "photo"]
    dev = dict(ran)["dev-flat"][0]
    assert dev[dev.index("--seeds") + 1] == "7009" and dev[dev.index("--snow") + 1] == "0"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["results"]["dev-classic"]["f1"] == 0.9143
    ran.clear()
    assert ec.main(["--model", str(model), "--out", str(out), "--parts", "unseen"]) == 0
    assert ran == []  # its result is there
    (out / "unseen.json").unlink()
    (out / "unseen-scenes" / "eval.json").unlink()
    assert ec.main(["--model", str(model), "--out", str(out), "--parts", "unseen"]) == 0
    (name, (cmd,)), (name2, (cmd2,)) = ran
    assert name == "unseen" and cmd[cmd.index("--families") + 1] == "oblique"
    assert name2 == "unseen-scenes" and cmd2[cmd2.index("--family") + 1] == "oblique"
    assert cmd2[cmd2.index("--seeds") + 1] == "7001"
    from detector.synth.families.registry import HELD_OUT

    assert HELD_OUT[0] == ec.UNSEEN  # the family no recipe trains on
    ran.clear()
    (out / "unseen.json").unlink(missing_ok=True)
    argv = ["--model", str(model), "--out", str(out), "--parts", "unseen", "--unseen", "relief"]
    assert ec.main(argv) == 0
    assert ran[0][1][0][ran[0][1][0].index("--families") + 1] == "relief"
    capsys.readouterr()
    assert ec.main(["--model", str(tmp_path / "none.pt"), "--out", str(out)]) == 2
    assert "no such weights file" in capsys.readouterr().err
    assert ec.main(["--model", str(model), "--out", str(out), "--worlds", str(tmp_path)]) == 2
    assert "no scenes/ folder" in capsys.readouterr().err


def test_the_shadow_part_runs_on_the_worlds_own_voyages_and_reads_the_reconciler(tmp_path):
    """The shadow part: the world's voyages written from its world.json, `ccount run
    --heights shadow` on them, eval_reconcile's JSON line read back (its exit 1, targets
    missed, is a result)."""
    ec = load_script("eval_candidate")
    world = tmp_path / "W21-relief"
    (world / "scenes").mkdir(parents=True)
    voyages = [
        {"voyage": 1, "ship": "Angara", "rajin_date": "2023-09-03", "containers": 272},
        {"voyage": 2, "ship": "Maria", "rajin_date": "2023-09-11", "containers": 228},
    ]
    (world / "world.json").write_text(json.dumps({"seed": 21, "voyages": voyages}))
    out = tmp_path / "out"
    out.mkdir()
    model = tmp_path / "m.pt"
    model.write_bytes(b"x")

    class Args:
        parts, shadow_worlds = ["shadow"], [world]

    Args.out, Args.model = out, model
    ((name, result, (write, detect, rec)),) = ec.jobs(Args)
    assert name == "shadow-W21-relief" and result == out / "shadow-W21-relief.txt"
    ec.subprocess.run(write, check=True)  # the voyage log the run gets
    csv = (out / "voyages-W21-relief.csv").read_text().splitlines()
    assert csv == ["voyage,ship,rajin_date", "1,Angara,2023-09-03", "2,Maria,2023-09-11"]
    assert detect[detect.index("--voyages") + 1] == str(out / "voyages-W21-relief.csv")
    assert detect[detect.index("--heights") + 1] == "shadow"
    assert rec[1] == "scripts/eval_reconcile.py" and rec[rec.index("--targets") + 1] == "17"
    line = {
        "source": "detections",
        "total_errors": [-0.0617],
        "pooled": {"all": {"n": 16, "median_abs_err": 0.0931, "inside": 0.875}},
    }
    result.write_text("W21-relief (seed 21) all n= 16 ...\n" + json.dumps(line) + "\n")
    got = ec.summarise(out, [name])
    assert got[name] == {"median_abs_err_pct": 9.3, "inside_pct": 87.5, "total_err_pct": -6.2}
    assert ec.rows(got) == [
        "| shipments, --heights shadow, no factor (W21-relief) | median 9.3 %, 88 % inside, "
        "total -6.2 % |"
    ]
