"""``ccount train --families MIX --layouts v1|v2``: parsed, checked (one-line errors, exit 2),
recorded in the weights and the model card, and fixed for a resumed run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from detector.cli.main import main
from detector.errors import ConfigError
from detector.model.card import render_model_card
from detector.model.checkpoint import read_checkpoint
from detector.model.train import TrainConfig
from detector.model.weights import read_meta
from detector.synth.mixes import format_mix, parse_mix

TINY = [
    "--steps", "3", "--batch-size", "2", "--size", "64", "--pool", "3", "--val-samples", "0",
    "--device", "cpu", "--quiet",
]  # fmt: skip


def test_parse_mix():
    assert parse_mix("classic=1,flat=0.5") == {"classic": 1.0, "flat": 0.5}
    assert parse_mix(" flat , classic=2 ") == {"flat": 1.0, "classic": 2.0}
    assert format_mix(parse_mix("classic=1,flat=0.5")) == "classic=1,flat=0.5"
    assert format_mix(None) == "classic"
    for bad, msg in [
        ("classic=1,zebra=1", "unknown rendering family 'zebra'"),
        ("classic=x", "not a number"),
        ("classic=-1", ">= 0"),
        ("classic=0,flat=0", "at least one weight > 0"),
        ("classic=1,classic=2", "given twice"),
        (",", "expected NAME=WEIGHT"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            parse_mix(bad)
    with pytest.raises(ConfigError, match="--layouts v3"):
        TrainConfig(out=Path("x.pt"), layouts="v3")
    shipped = TrainConfig(out=Path("x.pt")).recipe()  # the plain generator's fields only
    assert "families" not in shipped and "layouts" not in shipped
    mixed = TrainConfig(out=Path("x.pt"), families={"flat": 1}, layouts="v2").recipe()
    assert mixed["families"] == {"flat": 1.0} and mixed["layouts"] == "v2"


def test_ccount_train_samples_the_shipped_data_unless_told(tmp_path):
    from detector.model.config import SHIPPED_DATA

    out = tmp_path / "d.pt"
    assert main(["train", "--out", str(out), *TINY]) == 0
    r = read_meta(out).recipe
    four = {"classic": 1.0, "flat": 1.0, "photo": 1.0, "relief": 1.0}
    assert r["families"] == four == SHIPPED_DATA["families"]
    assert r["layouts"] == "v2" and r["snow"] == 0.2
    plain = tmp_path / "p.pt"
    args = ["--families", "classic=1", "--layouts", "v1", "--snow", "0"]
    assert main(["train", "--out", str(plain), *TINY, *args]) == 0
    r = read_meta(plain).recipe
    assert r["families"] == {"classic": 1.0} and "layouts" not in r and r["snow"] == 0.0


def test_a_fine_tune_samples_what_its_init_trained_on(tmp_path, capsys):
    init = tmp_path / "init.pt"
    mine = ["--families", "classic=1,flat=1", "--layouts", "v2", "--snow", "0.1",
            "--setting-weights", "town=0.2"]  # fmt: skip
    assert main(["train", "--out", str(init), *TINY, *mine]) == 0
    r0 = read_meta(init).recipe
    assert r0["families"] == {"classic": 1.0, "flat": 1.0} and r0["setting_weights"]
    ft = tmp_path / "ft.pt"
    loud = [a for a in TINY if a != "--quiet"]
    assert main(["train", "--out", str(ft), "--init", str(init), *loud]) == 0
    r = read_meta(ft).recipe
    for key in ("families", "layouts", "snow", "setting_weights"):
        assert r[key] == r0[key], key  # not the shipped defaults: four families, snow 0.2
    err = capsys.readouterr().err
    assert f"synthetic tiles as {init} was trained on: families classic=1,flat=1, layouts v2, snow 0.1, setting weights town=" in err  # fmt: skip
    # what is given wins; the rest still comes from the init
    assert main(["train", "--out", str(ft), "--init", str(init), *TINY, "--snow", "0"]) == 0
    r = read_meta(ft).recipe
    assert r["snow"] == 0.0 and r["families"] == r0["families"] and r["layouts"] == "v2"
    # an init of the plain generator (classic, v1: fields its recipe leaves out) stays plain
    plain = tmp_path / "plain.pt"
    assert main(["train", "--out", str(plain), *TINY, "--families", "classic=1", "--layouts",
                 "v1", "--snow", "0"]) == 0  # fmt: skip
    assert main(["train", "--out", str(ft), "--init", str(plain), *TINY]) == 0
    r = read_meta(ft).recipe
    assert r["families"] == {"classic": 1.0} and "layouts" not in r and r["snow"] == 0.0
    assert "setting_weights" not in r
    from detector.model.config import SHIPPED_DATA, recipe_data

    assert recipe_data({}) == SHIPPED_DATA  # weights that record no recipe: the shipped mix


def test_bad_flags_are_one_line_errors(tmp_path, capsys):
    out = tmp_path / "m.pt"
    rc = main(["train", "--out", str(out), *TINY, "--families", "classic=1,zebra=1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "unknown rendering family 'zebra'" in err and not out.exists()
    r = subprocess.run(
        [sys.executable, "-m", "detector", "train", "--out", str(out), "--layouts", "v3"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2 and "invalid choice: 'v3'" in r.stderr and "Traceback" not in r.stderr


def test_mix_and_layouts_recorded_and_fixed_on_resume(tmp_path, capsys):
    out = tmp_path / "m.pt"
    args = ["train", "--out", str(out), *TINY, "--families", "classic=1,flat=1", "--layouts", "v2"]
    assert main([*args, "--stop-after-steps", "1"]) == 0
    ckpt = Path(f"{out}.ckpt")
    config = read_checkpoint(ckpt)["config"]
    assert config["families"] == {"classic": 1.0, "flat": 1.0} and config["layouts"] == "v2"
    capsys.readouterr()
    rc = main(["train", "--resume", str(ckpt), "--families", "classic=1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "families (checkpoint" in err
    rc = main(["train", "--resume", str(ckpt), "--layouts", "v1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "layouts (checkpoint 'v2', now None)" in err
    assert main(["train", "--resume", str(ckpt), "--quiet"]) == 0
    meta = read_meta(out)
    assert meta.recipe["families"] == {"classic": 1.0, "flat": 1.0}
    assert meta.recipe["layouts"] == "v2"
    card = render_model_card(out, meta)
    assert "--families classic=1,flat=1 --layouts v2" in card
    assert "Rendering families: classic 50%, flat 50%; layouts `v2`" in card


def test_train_script_takes_the_mix_and_layouts(tmp_path, capsys, monkeypatch):
    from types import SimpleNamespace

    from conftest import load_script

    script = load_script("train")
    seen = []

    def fake_train(config, **_):
        seen.append(config)
        return SimpleNamespace(finished=False, steps_done=0)

    monkeypatch.setattr(script, "train", fake_train)
    rc = script.main(["--stage", "1", "--stage1", str(tmp_path / "s1.pt"), "--families",
                      "classic=1,flat=1", "--layouts", "v2", "--card", str(tmp_path / "c.md")])  # fmt: skip
    assert rc == 0 and seen[0].families == {"classic": 1.0, "flat": 1.0}
    assert seen[0].layouts == "v2"
    rc = script.main(["--stage", "1", "--stage1", str(tmp_path / "s1.pt")])
    shipped = {"classic": 1.0, "flat": 1.0, "photo": 1.0, "relief": 1.0}  # the shipped recipe's
    assert seen[1].families == shipped and seen[1].layouts == "v2" and seen[1].threads == 1
    rc = script.main(["--families", "classic=1,zebra=1", "--card", str(tmp_path / "c.md")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "zebra" in err


def test_train_script_stage2_scenes_have_a_winter_share(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from conftest import load_script

    script = load_script("train")
    seen, rendered = [], []
    monkeypatch.setattr(
        script,
        "train",
        lambda config, **_: seen.append(config) or SimpleNamespace(finished=False, steps_done=0),
    )
    monkeypatch.setattr(script.make_finetune_set, "main", lambda argv: rendered.append(argv) or 0)
    base = ["--stage", "2", "--work", str(tmp_path), "--card", str(tmp_path / "c.md")]
    assert script.main(base) == 0
    assert seen[0].labels == tmp_path / "finetune-winter0.3"
    assert rendered[0][rendered[0].index("--winter") + 1] == "0.3"
    assert script.main([*base, "--stage2-winter", "0"]) == 0  # the shipped weights' scenes
    assert seen[1].labels == tmp_path / "finetune"
    assert rendered[1][rendered[1].index("--winter") + 1] == "0.0"
    assert rendered[1][rendered[1].index("--n") + 1] == "60"
    assert script.main([*base, "--stage2-scenes", "180"]) == 0  # its own folder of 180 scenes
    assert seen[2].labels == tmp_path / "finetune-winter0.3-n180"
    assert rendered[2][rendered[2].index("--n") + 1] == "180"


def test_setting_weights_change_the_setting_shares_and_are_recorded(tmp_path, capsys):
    from collections import Counter

    from detector.synth.terminal import SETTINGS_V2, WEIGHTS_V2, setting_shares
    from detector.synth.training import training_sample

    got = parse_mix("town=0.15, carpark=0.05", option="--setting-weights")
    assert got == {"town": 0.15, "carpark": 0.05}
    base, boosted = setting_shares(), setting_shares(got)
    assert base == pytest.approx(WEIGHTS_V2 / WEIGHTS_V2.sum())
    town, yard, cars = (SETTINGS_V2.index(s) for s in ("town", "yard", "carpark"))
    assert base[cars] == 0.0 and boosted.sum() == pytest.approx(1.0)
    assert boosted[town] / boosted[yard] == pytest.approx(0.15 / WEIGHTS_V2[yard])
    assert boosted[cars] / boosted[town] == pytest.approx(1 / 3)
    for bad, msg in [("bus=2", "unknown layout setting 'bus'"), ("town=-1", ">= 0"),
                     (",".join(f"{s}=0" for s in SETTINGS_V2), "every setting weighs 0")]:  # fmt: skip
        with pytest.raises(ConfigError, match=msg):
            parse_mix(bad, option="--setting-weights")
    with pytest.raises(ConfigError, match="needs --layouts v2"):
        TrainConfig(out=Path("x.pt"), setting_weights={"town": 2})
    # drawn samples follow the weights: only car lots when every other setting weighs 0
    only = {s: 0.0 for s in SETTINGS_V2 if s != "carpark"} | {"carpark": 1.0}
    drawn = [training_sample(k, size_px=96, layouts="v2", setting_weights=only) for k in range(6)]
    assert Counter(s.setting for s in drawn) == Counter({"carpark": 6})
    assert sum(len(s.containers) for s in drawn) == 0  # cars are never labelled
    assert sum(float(s.image.std()) > 0.02 for s in drawn) >= 4  # and are drawn
    out = tmp_path / "b.pt"
    assert main(["train", "--out", str(out), *TINY, "--setting-weights", "town=0.15"]) == 0
    meta = read_meta(out)
    assert meta.recipe["setting_weights"] == {"town": 0.15}
    card = render_model_card(out, meta)
    assert "--layouts v2 --setting-weights town=0.15" in card
    assert "layouts `v2 (setting weights town 0.15)`" in card
    rc = main(["train", "--out", str(tmp_path / "c.pt"), *TINY, "--setting-weights", "zoo=1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "unknown layout setting 'zoo'" in err


@pytest.fixture
def stage_configs(tmp_path, monkeypatch):
    """(scripts/train.py, the TrainConfig of each stage it would train, its base arguments)."""
    from types import SimpleNamespace

    from conftest import load_script

    script = load_script("train")
    seen = []
    monkeypatch.setattr(
        script,
        "train",
        lambda config, **_: seen.append(config) or SimpleNamespace(finished=False, steps_done=0),
    )
    monkeypatch.setattr(script.make_finetune_set, "main", lambda argv: 0)
    base = ["--work", str(tmp_path), "--card", str(tmp_path / "c.md")]
    return script, seen, base


def test_train_script_stage2_setting_and_loss_weights(stage_configs):
    script, seen, base = stage_configs
    town, hull = ["--stage2-setting-weights", "town=0.15"], ["--stage2-loss-weights", "hull=4"]
    assert script.main([*base, "--stage", "1", *town, *hull]) == 0
    assert seen[0].setting_weights is None  # stage 1 keeps the shipped shares
    assert seen[0].loss_weights is None  # and the default loss weights
    assert script.main([*base, "--stage", "2", *town, *hull]) == 0
    assert seen[1].setting_weights == {"town": 0.15}
    assert seen[1].loss_weights == {"hull": 4.0}
    assert script.main([*base, "--stage", "2"]) == 0  # the shipped recipe's
    assert seen[2].setting_weights == {"town": 0.12, "field": 0.08, "carpark": 0.06}
    assert seen[2].loss_weights is None and "loss_weights" not in seen[2].recipe()
    # the four-hull weights' ship heads twice
    assert script.main([*base, "--stage", "2", "--stage2-loss-weights", "hull=2,bridge=1"]) == 0
    assert seen.pop().loss_weights == {"hull": 2.0, "bridge": 1.0}
    assert script.main([*base, "--stage", "2", "--stage2-setting-weights", "none"]) == 0
    assert seen[3].setting_weights is None and "setting_weights" not in seen[3].recipe()
    assert seen[3].colour == "tone" and "colour" not in seen[3].recipe()  # as shipped
    for stage in ("1", "2"):  # both stages
        assert script.main([*base, "--stage", stage, "--colour", "chroma"]) == 0
    assert [c.colour for c in seen[4:]] == ["chroma", "chroma"]
    # stage 1 of the shipped recipe: the wider encoder (stage 2 takes the init's)
    assert seen[4].arch_kwargs == {"widths": [16, 32, 96, 192, 320]}
    assert script.main([*base, "--stage", "1", "--widths", "16,32,64,160,256"]) == 0
    assert seen[6].arch_kwargs == {"widths": [16, 32, 64, 160, 256]}  # stage 2: the init's


def test_loss_weights_reach_the_loss_and_are_recorded(tmp_path, capsys, monkeypatch):
    import detector.model.train as train_mod
    from detector.model.losses import LOSS_WEIGHTS, parse_loss_weights

    assert parse_loss_weights("hull=4, bridge=2") == {"hull": 4.0, "bridge": 2.0}
    for bad, msg in [("hul=2", "unknown loss term 'hul'"), ("hull=-1", ">= 0")]:
        with pytest.raises(ConfigError, match=msg):
            parse_loss_weights(bad)
    config = TrainConfig(out=Path("x.pt"), loss_weights={"hull": 4})
    assert config.loss_term_weights() == {**LOSS_WEIGHTS, "hull": 4.0}
    assert "loss_weights" not in TrainConfig(out=Path("x.pt")).recipe()  # older recipes match
    used = []
    real = train_mod.detection_loss
    monkeypatch.setattr(
        train_mod,
        "detection_loss",
        lambda o, t, weights=None: used.append(weights) or real(o, t, weights=weights),
    )
    out = tmp_path / "h.pt"
    assert main(["train", "--out", str(out), *TINY, "--loss-weights", "hull=4,bridge=2"]) == 0
    assert len(used) == 3 and all(w["hull"] == 4.0 and w["bridge"] == 2.0 for w in used)
    assert used[0]["heatmap"] == LOSS_WEIGHTS["heatmap"]
    meta = read_meta(out)
    assert meta.recipe["loss_weights"] == {"hull": 4.0, "bridge": 2.0}
    card = render_model_card(out, meta)
    assert "--loss-weights hull=4,bridge=2" in card and "Loss weights hull 4, bridge 2" in card
    rc = main(["train", "--out", str(tmp_path / "c.pt"), *TINY, "--loss-weights", "zoo=1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "unknown loss term 'zoo'" in err


@pytest.mark.parametrize(
    "colour, words",
    [
        ("chroma", "with hue and saturation"),
        ("randconv", "with hue and saturation and random convolutions"),
    ],
)
def test_colour_option_is_recorded_and_carded(tmp_path, colour, words):
    assert "colour" not in TrainConfig(out=Path("x.pt")).recipe()  # older recipes match
    with pytest.raises(ConfigError, match="expected tone, chroma or randconv"):
        TrainConfig(out=Path("x.pt"), colour="hue")
    out = tmp_path / "c.pt"
    assert main(["train", "--out", str(out), *TINY, "--colour", colour]) == 0
    meta = read_meta(out)
    assert meta.recipe["colour"] == colour
    card = render_model_card(out, meta)
    assert f"--colour {colour}" in card and f"photometric jitter {words}" in card


def test_heads_trains_only_their_readout(tmp_path, capsys):
    import torch

    from detector.model.heads import parse_heads
    from detector.model.weights import load_model

    assert parse_heads("bridge, hull") == "hull,bridge"
    for bad in ("hulls", ""):
        with pytest.raises(ConfigError, match="expected some of heatmap"):
            parse_heads(bad)
    with pytest.raises(ConfigError, match="needs --init"):
        TrainConfig(out=Path("x.pt"), heads="hull")
    init, out = tmp_path / "init.pt", tmp_path / "hull.pt"
    assert main(["train", "--out", str(init), *TINY]) == 0
    args = ["train", "--out", str(out), "--init", str(init), *TINY, "--lr", "0.05"]
    assert main([*args, "--heads", "hull,bridge"]) == 0
    meta = read_meta(out)
    assert meta.recipe["heads"] == "hull,bridge"
    assert meta.score_thresh is None  # the init had none to keep
    assert "--heads hull,bridge" in render_model_card(out, meta)
    before, _ = load_model(init, device="cpu")
    after, _ = load_model(out, device="cpu")
    x = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = before(x), after(x)
    for name in ("heatmap", "size", "angle", "offset", "tiers"):
        assert torch.equal(a[name], b[name]), name  # bit for bit
    assert not torch.equal(a["hull"], b["hull"]) and not torch.equal(a["bridge"], b["bridge"])
    sb, sa = before.state_dict(), after.state_dict()
    changed = {k for k in sb if not torch.equal(sb[k], sa[k])}
    assert changed == {"head4.weight", "head4.bias", "skip2.weight", "skip2.bias"}
    from detector.model.weights import set_score_thresh

    set_score_thresh(init, 0.37)  # a calibrated init: its containers, so its threshold, stay
    set_score_thresh(init, 0.35, tta=True)
    capsys.readouterr()
    assert main([*args, "--heads", "hull", "--out", str(tmp_path / "h2.pt")]) == 0
    h2 = read_meta(tmp_path / "h2.pt")
    assert (h2.score_thresh, h2.score_thresh_tta) == (0.37, 0.35)
    assert "score_thresh_inherited" not in h2.recipe  # exact: the scores did not move
    assert "inherited" not in capsys.readouterr().err
    # new scores: the init's thresholds are the estimate (not the decoder's default), marked
    # as inherited until calibrated again
    h3_path = tmp_path / "h3.pt"
    assert main([*args, "--heads", "heatmap", "--out", str(h3_path)]) == 0
    h3 = read_meta(h3_path)
    assert (h3.score_thresh, h3.score_thresh_tta) == (0.37, 0.35)
    assert h3.recipe["score_thresh_inherited"] and h3.recipe["score_thresh_tta_inherited"]
    out_err = "".join(capsys.readouterr())
    assert "detection threshold 0.37 inherited from" in out_err
    assert "calibrate_threshold.py --model" in out_err
    card = render_model_card(h3_path, h3)
    assert (
        "score >= 0.37 (detect default: inherited from the init weights, not recalibrated" in card
    )
    assert "with `--tta` 0.35, inherited the same way" in card
    set_score_thresh(h3_path, 0.36)  # calibrated: the plain one is measured now, the tta one not
    h3 = read_meta(h3_path)
    assert h3.score_thresh == 0.36 and "score_thresh_inherited" not in h3.recipe
    assert h3.recipe["score_thresh_tta_inherited"]
    card = render_model_card(h3_path, h3)
    assert "score >= 0.36 (detect default: calibrated, stored in the file" in card
    assert "with `--tta` 0.35, inherited the same way" in card
    rc = main(["train", "--out", str(tmp_path / "c.pt"), *TINY, "--heads", "hull"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "needs --init" in err


def test_widths_build_a_wider_model_recorded_and_carded(tmp_path, capsys):
    from detector.model.net import count_parameters
    from detector.model.weights import load_model

    out = tmp_path / "w.pt"
    assert main(["train", "--out", str(out), *TINY, "--widths", "8,16,32,48,64"]) == 0
    model, meta = load_model(out, device="cpu")
    assert model.widths == (8, 16, 32, 48, 64) and meta.arch_kwargs == {
        "widths": [8, 16, 32, 48, 64]
    }
    assert meta.recipe["arch_kwargs"] == {"widths": [8, 16, 32, 48, 64]}
    assert count_parameters(model) < 744_535 / 2  # narrower than the shipped 16,32,64,96,128
    card = render_model_card(out, meta)
    assert "--widths 8,16,32,48,64" in card and '"widths": [8, 16, 32, 48, 64]' in card
    capsys.readouterr()
    for bad in (["--widths", "8,16,32"], ["--widths", "8,16,x,48,64"]):
        assert main(["train", "--out", str(tmp_path / "b.pt"), *TINY, *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "expected five positive integers" in err
    args = ["--widths", "8,16,32,48,64", "--init", str(out)]
    assert main(["train", "--out", str(tmp_path / "c.pt"), *TINY, *args]) == 2
    assert "not with --init" in capsys.readouterr().err
