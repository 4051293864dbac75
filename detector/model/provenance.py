"""Provenance of trained weights: sample generator and code versions, the hardware and
precision a run used, and writing the weights with that metadata (:mod:`.weights`)."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from .weights import ModelMeta, save_weights

__all__ = ["amp_dtype", "code_version", "cpu_name", "generator_version", "hardware", "save_trained"]


def generator_version(sample_fn: Callable[..., Any] | None = None, root: Path | None = None) -> str:
    """Version of the sample generator: ``synth-<sha256 of detector/synth/**/*.py>[:12]``
    (the rendering families included, so a resumed run refuses a changed renderer);
    ``root`` another copy of that folder."""
    if sample_fn is not None:
        return f"custom:{getattr(sample_fn, '__qualname__', repr(sample_fn))}"
    root = Path(__file__).resolve().parents[1] / "synth" if root is None else Path(root)
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    return f"synth-{h.hexdigest()[:12]}"


def code_version() -> str:
    from .. import __version__

    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "detector"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        return f"{__version__}+g{rev}{'.dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return __version__


def amp_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """float16 on CUDA, bfloat16 on CPUs with oneDNN bf16 support, else None (float32)."""
    if not enabled:
        return None
    from .runtime import cpu_bf16

    if device.type == "cuda":
        return torch.float16
    return torch.bfloat16 if cpu_bf16() else None


def hardware(device: torch.device, amp: torch.dtype | None) -> str:
    prec = f"autocast {str(amp).removeprefix('torch.')}" if amp is not None else "float32"
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA, {prec})"
    cpu = cpu_name()
    return f"CPU {cpu}, {torch.get_num_threads()} threads, {prec}"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def save_trained(
    config, model, arch, arch_kwargs, gsd, dev_amp, t_start, steps_done, metrics
) -> ModelMeta:
    """Write ``config.out`` with metadata; ``dev_amp`` = (device, autocast dtype or None).
    The input context the outputs need is measured here (:mod:`.context`) and stored."""
    from .context import measure_context_px

    thresh, thresh_tta, inherited = kept_thresholds(config)
    recipe = {
        **config.recipe(),
        "precision": hardware(*dev_amp).rsplit(", ", 1)[-1],
        "steps_done": steps_done,
        "generator": generator_version(config.sample_fn),
        # the init's thresholds on moved scores (kept_thresholds); set_score_thresh clears each
        **({"score_thresh_inherited": True} if inherited else {}),
        **({"score_thresh_tta_inherited": True} if inherited and thresh_tta is not None else {}),
    }
    meta = ModelMeta(
        arch=arch,
        arch_kwargs=arch_kwargs,
        gsd_m=gsd,
        recipe=recipe,
        metrics=metrics,
        train_time_s=round(time.perf_counter() - t_start, 1),
        hardware=hardware(*dev_amp),
        code_version=code_version(),
        created_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        tiers_output=config.tiers_output,
        context_px=measure_context_px(model),
        score_thresh=thresh,
        score_thresh_tta=thresh_tta,
    )
    return save_weights(config.out, model, meta)  # copies tensors to the CPU, NCHW


def kept_thresholds(config) -> tuple[float | None, float | None, bool]:
    """(threshold, ``--tta`` threshold, inherited) a trained file starts with: the init
    weights' calibrated ones, or None without them. ``inherited`` is True when the heatmap
    was trained since, so its scores moved and the thresholds are the init's estimate until
    ``scripts/calibrate_threshold.py --write`` measures them again: nearer than the decoder's
    default (README, "The annotation-review loop"). Training only other heads keeps every
    container score, so the thresholds stay exact."""
    if config.init is None:
        return None, None, False
    from .weights import read_meta

    meta = read_meta(config.init)
    heads = config.heads
    heatmap = not heads or "heatmap" in heads.split(",")
    return meta.score_thresh, meta.score_thresh_tta, heatmap and meta.score_thresh is not None
