"""Training: loss goes down, runs are deterministic, weights carry the recipe, CLI works."""

from __future__ import annotations

import math
import operator
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from detector.cli.main import main
from detector.detections import Detections
from detector.model.data import SamplePool, colour_jitter, make_batch, sample_seed
from detector.model.losses import detection_loss
from detector.model.net import build_ccnet
from detector.model.train import TrainConfig, train
from detector.model.weights import load_model

TINY = {"widths": [8, 16, 16, 32, 32], "depths": [0, 1, 1, 1, 1], "head_ch": 16}
CCOUNT = Path(sys.executable).with_name("ccount")


@dataclass(frozen=True)
class _Sample:
    image: np.ndarray
    containers: Detections
    hull_mask: np.ndarray | None
    bridge_mask: np.ndarray | None


def rectangles(seed: int, size_px: int) -> _Sample:
    """A tiny stand-in for synthetic tiles: bright oriented boxes on grey, a dark 'hull' band."""
    rng = np.random.default_rng(seed)
    img = np.full((size_px, size_px, 3), 0.3, np.float32)
    img += rng.normal(0, 0.02, img.shape).astype(np.float32)
    hull = np.zeros((size_px, size_px), bool)
    hull[: size_px // 4] = True
    img[hull] = (0.1, 0.1, 0.15)
    n = int(rng.integers(2, 6))
    kind = rng.integers(0, 2, n)
    d = Detections(
        rng.uniform(12, size_px - 12, n), rng.uniform(12, size_px - 12, n),
        np.where(kind == 0, 15.2, 30.5), np.full(n, 6.1), rng.uniform(0, np.pi, n), kind,
        np.ones(n), rng.integers(1, 5, n),
    )  # fmt: skip
    for corners in d.corners():
        cv2.fillPoly(img, [np.round(corners * 16).astype(np.int32)], (0.9, 0.7, 0.5), shift=4)
    return _Sample(np.ascontiguousarray(img.transpose(2, 0, 1)).clip(0, 1), d, hull, None)


def _config(tmp_path, **kw) -> TrainConfig:
    base = dict(
        out=tmp_path / "w.pt", steps=4, batch_size=4, size_px=64, lr=3e-3, warmup_steps=2,
        pool_size=8, refresh_per_step=1, val_samples=4, save_every=0, log_every=2,
        arch_kwargs=TINY, sample_fn=rectangles, device="cpu",
    )  # fmt: skip
    return TrainConfig(**{**base, **kw})


def test_training_reduces_the_loss_on_a_fixed_batch(tmp_path):
    torch.manual_seed(0)
    samples = [rectangles(1000 + i, 64) for i in range(8)]
    x, t = make_batch(samples, np.random.default_rng(0), torch.Generator(), augment=False)
    model = build_ccnet(**TINY).train()
    with torch.no_grad():
        before, _ = detection_loss(model(x), t)
    config = _config(
        tmp_path, steps=40, batch_size=8, pool_size=16, refresh_per_step=2, log_every=20
    )
    result = train(config)
    trained, meta = load_model(result.path)
    trained.train()  # batch statistics, like `before`
    with torch.no_grad():
        after, parts = detection_loss(trained(x), t)
    assert float(after) < 0.6 * float(before)
    assert parts["heatmap"] < 2.0
    steps = [s for s, _ in result.loss_history]
    assert steps == [20, 40]
    assert result.loss_history[-1][1] < result.loss_history[0][1]
    assert meta.recipe["steps"] == 40 and meta.recipe["steps_done"] == 40
    assert meta.recipe["generator"].startswith("custom:")
    assert meta.metrics["synthetic_val"]["samples"] == 4
    assert meta.train_time_s > 0 and meta.hardware.startswith("CPU")


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    a = train(_config(tmp_path, out=tmp_path / "a.pt", seed=3, val_samples=0))
    b = train(_config(tmp_path, out=tmp_path / "b.pt", seed=3, val_samples=0))
    c = train(_config(tmp_path, out=tmp_path / "c.pt", seed=4, val_samples=0))
    assert a.meta.state_sha256 == b.meta.state_sha256
    assert a.meta.state_sha256 != c.meta.state_sha256


def test_init_continues_from_weights_and_keeps_architecture(tmp_path):
    first = train(_config(tmp_path, out=tmp_path / "first.pt", val_samples=0))
    second = train(
        _config(
            tmp_path, out=tmp_path / "second.pt", init=first.path, arch_kwargs={}, val_samples=0
        )
    )
    assert second.meta.arch_kwargs == first.meta.arch_kwargs == TINY
    assert second.meta.recipe["init"] == str(first.path)


def test_pool_refreshes_oldest_first_and_seeds_are_disjoint():
    made = []
    pool = SamplePool(lambda k: made.append(k) or k, 3)
    pool.refresh(4)
    assert made == [0, 1, 2, 3, 4, 5, 6] and pool.samples == [6, 4, 5] and pool.generated == 7
    assert sample_seed(0, 0) >= 1_000_000 and sample_seed(1, 0) - sample_seed(0, 0) >= 10**8


def test_pool_with_worker_processes_holds_the_same_samples():
    with SamplePool(operator.neg, 3, workers=2) as pool:
        pool.refresh(4)
        assert pool.samples == [-6, -4, -5] and pool.generated == 7
    with pytest.raises(ValueError, match="workers"):
        SamplePool(operator.neg, 3, workers=-1)


def test_colour_jitter_stays_in_range_and_varies_per_image():
    x = torch.full((4, 3, 8, 8), 0.5)
    y = colour_jitter(x.clone(), torch.Generator().manual_seed(1))
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    means = y.mean(dim=(1, 2, 3))
    assert float(means.max() - means.min()) > 0.01
    assert torch.equal(y, colour_jitter(x.clone(), torch.Generator().manual_seed(1)))


def test_chroma_jitter_turns_colour_and_keeps_brightness():
    from detector.model.data import chroma_jitter

    red = torch.zeros(2, 3, 1, 1)
    red[:, 0] = 0.9
    red[:, 1:] = 0.1
    out = chroma_jitter(red.clone(), torch.tensor([2 * math.pi / 3, 0.0]), torch.tensor([1.0, 0.0]))
    assert out[0].flatten().tolist() == pytest.approx([0.1, 0.9, 0.1], abs=1e-6)  # red -> green
    assert out[1].flatten().tolist() == pytest.approx([11 / 30] * 3, abs=1e-6)  # grey
    # the tone jitter draws first, so with chroma each pixel keeps the tone jitter's band mean
    x = 0.2 + 0.6 * torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    tone = colour_jitter(x.clone(), torch.Generator().manual_seed(1), strength=0.3)
    both = colour_jitter(x.clone(), torch.Generator().manual_seed(1), strength=0.3, chroma=True)
    assert float((both - tone).abs().max()) > 0.05  # colours changed
    inside = ((both > 0) & (both < 1)).all(dim=1)  # pixels not clipped by the turn
    assert float(inside.float().mean()) > 0.9
    assert torch.allclose(both.mean(dim=1)[inside], tone.mean(dim=1)[inside], atol=1e-5)


def test_random_convolution_changes_texture_keeps_shapes_and_band_means():
    from detector.model.data import random_convolution

    gen = torch.Generator().manual_seed(0)
    # a bright square on a dark ground, with a fine texture on the square
    x = torch.full((6, 3, 32, 32), 0.2)
    x[:, :, 8:24, 8:24] = 0.6 + 0.1 * torch.rand(6, 3, 16, 16, generator=gen)
    y = random_convolution(x.clone(), torch.Generator().manual_seed(3), p=1.0)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
    changed = (y - x).abs().amax(dim=(1, 2, 3))
    assert bool((changed > 0.02).all())  # every image filtered
    inside = ((y > 0) & (y < 1)).all(dim=1).all(dim=(1, 2))
    assert torch.allclose(
        y[inside].mean(dim=(2, 3)), x[inside].mean(dim=(2, 3)), atol=1e-4
    )  # each band's mean kept where nothing clipped
    # the square still stands out from the ground (shape kept), in some band, in every image
    contrast = (y[:, :, 10:22, 10:22].mean(dim=(2, 3)) - y[:, :, :6, :6].mean(dim=(2, 3))).abs()
    assert bool((contrast.amax(dim=1) > 0.05).all())
    assert torch.equal(random_convolution(x.clone(), torch.Generator().manual_seed(0), p=0.0), x)
    # same seed, same result; its draws come after chroma's, so unfiltered images equal chroma's
    again = random_convolution(x.clone(), torch.Generator().manual_seed(3), p=1.0)
    assert torch.equal(y, again)
    c = colour_jitter(x.clone(), torch.Generator().manual_seed(5), chroma=True)
    r = colour_jitter(x.clone(), torch.Generator().manual_seed(5), randconv=True)
    same = [bool(torch.equal(c[i], r[i])) for i in range(6)]
    assert 0 < sum(same) < 6


def test_real_synthetic_generator_trains(tmp_path):
    result = train(
        _config(tmp_path, out=tmp_path / "s.pt", steps=2, batch_size=2, pool_size=3,
                val_samples=2, sample_fn=None)
    )  # fmt: skip
    assert result.meta.recipe["generator"].startswith("synth-")
    assert result.samples_generated == 5 and result.path.is_file()
    # rendering in a worker process gives the same samples, hence the same weights
    worker = train(
        _config(tmp_path, out=tmp_path / "w.pt", steps=2, batch_size=2, pool_size=3,
                val_samples=0, sample_fn=None, gen_workers=1)
    )  # fmt: skip
    a, b = (torch.load(p, weights_only=False)["state_dict"] for p in (result.path, worker.path))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_cli_train_in_process_and_bad_size(tmp_path, capsys):
    out = tmp_path / "cli.pt"
    rc = main(
        ["train", "--out", str(out), "--steps", "2", "--batch-size", "2", "--size", "64",
         "--pool", "3", "--val-samples", "0", "--device", "cpu", "--quiet"]
    )  # fmt: skip
    assert rc == 0 and out.is_file()
    assert "wrote" in capsys.readouterr().out
    _, meta = load_model(out)
    assert meta.recipe["batch_size"] == 2 and meta.recipe["size_px"] == 64
    rc = main(["train", "--out", str(tmp_path / "x.pt"), "--size", "50"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--size 50" in err and len(err.splitlines()) == 1


def test_cli_train_subprocess(tmp_path):
    out = tmp_path / "sub.pt"
    proc = subprocess.run(
        [str(CCOUNT), "train", "--out", str(out), "--steps", "1", "--batch-size", "2",
         "--size", "64", "--pool", "2", "--val-samples", "0", "--device", "cpu"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and "step 1/1" in proc.stderr
    bad = subprocess.run(
        [str(CCOUNT), "train", "--out", str(out), "--init", str(tmp_path / "nope.pt")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and "nope.pt" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_short_real_training_learns_something(tmp_path):
    # 800 small steps from scratch (about 70 s): far from the shipped recipe (6000 x 16 tiles
    # of 256 px), so the bar is "learning", not quality: the loss falls by over a third and
    # the first confident peaks land on containers
    result = train(
        TrainConfig(
            out=tmp_path / "r.pt",
            steps=800,
            batch_size=8,
            size_px=128,
            pool_size=64,
            val_samples=16,
            device="cpu",
            save_every=0,
        )  # fmt: skip
    )
    losses = [loss for _, loss in result.loss_history]
    assert losses[-1] < 0.65 * losses[0]
    val = result.meta.metrics["synthetic_val"]
    assert val["n_pred"] > 0 and val["precision"] > 0.5


def test_ema_saves_the_moving_average_of_the_weights(tmp_path, monkeypatch):
    import detector.model.train as train_mod

    seen: list[dict[str, torch.Tensor]] = []
    made = train_mod._averaged

    def spy(model, decay):
        ema = made(model, decay)
        if ema is None:  # the plain run
            return None
        update = ema.update_parameters

        def update_and_record(m):
            seen.append({k: v.detach().clone() for k, v in m.state_dict().items()})
            update(m)

        ema.update_parameters = update_and_record
        return ema

    monkeypatch.setattr(train_mod, "_averaged", spy)
    decay = 0.7
    result = train(_config(tmp_path, out=tmp_path / "ema.pt", ema=decay, val_samples=0))
    plain = train(_config(tmp_path, out=tmp_path / "plain.pt", val_samples=0))
    assert len(seen) == 4  # one update per step
    ema_model, meta = load_model(result.path)
    plain_model, _ = load_model(plain.path)
    assert meta.recipe["ema"] == decay
    got, last = ema_model.state_dict(), plain_model.state_dict()
    for k, v in seen[-1].items():  # the spy saw the plain run's trajectory: same seed
        assert torch.equal(v.cpu(), last[k].cpu()), k
    name = "stages.0.0.0.weight"
    expected = seen[0][name]
    for snap in seen[1:]:
        expected = decay * expected + (1 - decay) * snap[name]
    assert torch.allclose(got[name], expected.cpu(), atol=1e-6)
    assert not torch.allclose(got[name], last[name], atol=1e-6)
    with pytest.raises(Exception, match="--ema"):
        _config(tmp_path, ema=1.0)


def test_generator_version_covers_the_rendering_families(tmp_path):
    import shutil

    from detector.model.provenance import generator_version

    src = Path(__file__).resolve().parents[2] / "detector" / "synth"
    copy = tmp_path / "synth"
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert generator_version(root=copy) == generator_version()
    flat = copy / "families" / "flat_snow.py"
    flat.write_text(flat.read_text() + "\n# a changed renderer\n")
    assert generator_version(root=copy) != generator_version()
