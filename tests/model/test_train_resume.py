"""Training in resumable chunks: stopped, killed or interrupted and resumed, a run gives the
weights of the uninterrupted run, bit for bit, and the same metadata apart from timing."""

from __future__ import annotations

import json
import operator
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from detector.cli.main import main
from detector.model.data import SamplePool
from detector.model.train import train

sys.path.insert(0, str(Path(__file__).parent))
from test_train import _config  # noqa: E402
from test_train_labels import _scene_with_boxes  # noqa: E402

TIMING = ("train_time_s", "created_utc")
CLI_TINY = [
    "--steps", "8", "--batch-size", "2", "--size", "64", "--pool", "3", "--val-samples", "2",
    "--device", "cpu", "--quiet",
]  # fmt: skip


def _assert_same_weights(a: Path, b: Path, *, free: tuple[str, ...] = ()) -> None:
    """Every tensor equal; metadata equal but for timing and the recipe's ``free`` fields."""
    pa, pb = (torch.load(p, map_location="cpu", weights_only=True) for p in (a, b))
    sa, sb = pa["state_dict"], pb["state_dict"]
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    ma, mb = ({k: v for k, v in p["meta"].items() if k not in TIMING} for p in (pa, pb))
    for k in free:
        assert ma["recipe"].pop(k) != mb["recipe"].pop(k)
    assert ma == mb


def test_pool_rebuilt_at_a_stream_position_holds_the_same_samples():
    pool = SamplePool(operator.neg, 3)
    pool.refresh(4)
    assert pool.samples == [-6, -4, -5] and pool.position == 7
    for workers in (0, 1):
        with SamplePool(operator.neg, 3, workers=workers, position=pool.position) as again:
            assert again.samples == pool.samples and again.position == pool.position
            pool.refresh(2)
            again.refresh(2)
            assert again.samples == pool.samples and again.generated == 5
    assert pool.samples == [-9, -10, -8]


@pytest.mark.parametrize("variant", ["plain", "ema", "labels"])
def test_chunks_give_the_weights_of_the_uninterrupted_run(tmp_path, make_geotiff, variant):
    kw: dict = dict(steps=6, val_samples=2)
    if variant == "ema":
        kw["ema"] = 0.7
    if variant == "labels":
        _write_coco(*_scene_with_boxes(make_geotiff, "coco_scene.tif"))
        kw |= dict(labels=tmp_path, label_fraction=0.5)
    whole = train(_config(tmp_path, out=tmp_path / "whole.pt", **kw))
    out, ckpt = tmp_path / "chunked.pt", tmp_path / "chunked.pt.ckpt"
    first = train(_config(tmp_path, out=out, stop_after_steps=2, **kw))
    assert not first.finished and first.meta is None and first.steps_done == 2
    assert first.checkpoint == ckpt and ckpt.is_file() and not out.exists()
    # one step: the chunk ends after the step that passes --max-minutes
    second = train(_config(tmp_path, out=out, max_minutes=1e-9, **kw), resume=ckpt)
    assert not second.finished and second.steps_done == 3
    last = train(_config(tmp_path, out=out, **kw), resume=ckpt)
    assert last.finished and last.steps_done == 6 and not ckpt.exists()
    assert last.meta.state_sha256 == whole.meta.state_sha256
    assert last.loss_history == whole.loss_history
    assert last.meta.metrics == whole.meta.metrics and "synthetic_val" in last.meta.metrics
    _assert_same_weights(whole.path, out)


def _write_coco(scene: Path, boxes) -> None:
    """A COCO label file beside ``scene`` with the corners of ``boxes``."""
    anns = [
        {"id": k + 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
         "segmentation": [c.reshape(-1).tolist()]}
        for k, c in enumerate(boxes.corners())
    ]  # fmt: skip
    coco = {
        "images": [{"id": 1, "file_name": scene.name, "width": 240, "height": 240}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "20ft container"}],
    }
    (scene.parent / "labels.json").write_text(json.dumps(coco))


def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "detector", "train", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw,
    )  # fmt: skip


def _wait_for(path: Path, proc: subprocess.Popen, timeout_s: float = 120.0) -> None:
    t = time.monotonic()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t < timeout_s, f"no {path}"
        time.sleep(0.01)


def _step(ckpt: Path) -> int:
    return int(torch.load(ckpt, map_location="cpu", weights_only=True)["step"])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "whole.pt"
    assert main(["train", "--out", str(out), *CLI_TINY]) == 0
    return out


def test_sigkill_after_a_periodic_checkpoint_then_resume(tmp_path, uninterrupted):
    out, ckpt = tmp_path / "k.pt", tmp_path / "k.pt.ckpt"
    proc = _cli("--out", str(out), *CLI_TINY, "--checkpoint-every", "0.05")
    _wait_for(ckpt, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL and not out.exists()
    assert 1 <= _step(ckpt) < 8
    # the checkpoint carries the config: --resume alone; samples rendered by a worker now
    done = _cli("--resume", str(ckpt), "--gen-workers", "1")
    stdout, stderr = done.communicate(timeout=300)
    assert done.returncode == 0, stderr
    assert f"wrote {out}" in stdout and not ckpt.exists()
    _assert_same_weights(uninterrupted, out, free=("gen_workers",))  # recorded, no effect


def test_ctrl_c_writes_a_checkpoint_and_exits_130(tmp_path, uninterrupted):
    out, ckpt = tmp_path / "i.pt", tmp_path / "i.ckpt"
    proc = _cli("--out", str(out), *CLI_TINY, "--checkpoint", str(ckpt), "--checkpoint-every", "0")
    _wait_for(ckpt, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr and not out.exists()
    step = _step(ckpt)
    assert 1 <= step < 8
    rc = main(["train", "--resume", str(ckpt), "--stop-after-steps", "1", "--quiet"])
    assert rc == 0 and _step(ckpt) == step + 1
    assert main(["train", "--resume", str(ckpt), *CLI_TINY, "--out", str(out)]) == 0
    _assert_same_weights(uninterrupted, out)


def test_resume_with_another_config_is_a_one_line_error(tmp_path, capsys):
    out = tmp_path / "c.pt"
    rc = main(["train", "--out", str(out), *CLI_TINY, "--stop-after-steps", "1"])
    assert rc == 0 and "continue with: ccount train --resume" in capsys.readouterr().out
    ckpt = Path(f"{out}.ckpt")
    rc = main(["train", "--resume", str(ckpt), "--steps", "9", "--lr", "0.1", "--seed", "0"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and str(ckpt) in err
    assert "steps (checkpoint 8, now 9)" in err and "lr (checkpoint 0.003, now 0.1)" in err
    assert "seed" not in err.split(":", 2)[2]  # the same seed is no difference
    ckpt.with_suffix(".bad").write_bytes(b"not a checkpoint")
    rc = main(["train", "--resume", str(ckpt.with_suffix(".bad"))])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "not a readable checkpoint" in err
    rc = main(["train", "--resume", str(tmp_path / "none.ckpt")])
    assert rc == 2 and "no such checkpoint" in capsys.readouterr().err
    blocked = ckpt / "c.ckpt"  # below a file: refused before any training
    rc = main(["train", "--out", str(tmp_path / "d.pt"), *CLI_TINY, "--checkpoint", str(blocked)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and str(blocked) in err and not (tmp_path / "d.pt").exists()


def test_train_script_skips_a_complete_stage_only(tmp_path):
    import dataclasses

    from conftest import load_script

    complete = load_script("train")._complete
    config = _config(
        tmp_path, steps=2, batch_size=2, pool_size=3, val_samples=0, sample_fn=None,
        checkpoint=tmp_path / "s.ckpt", stop_after_steps=1,
    )  # fmt: skip
    train(config)
    assert config.checkpoint.is_file() and not complete(config)  # a checkpoint waits
    train(config, resume=config.checkpoint)
    assert not config.checkpoint.exists() and config.out.is_file()
    assert complete(config) and complete(dataclasses.replace(config, gen_workers=1))
    assert not complete(dataclasses.replace(config, steps=3))
    assert not complete(dataclasses.replace(config, lr=1e-3))
