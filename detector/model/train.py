"""Train the detector on synthetic tiles made on the fly, optionally mixed with label sets.

``train(TrainConfig(...))`` is the whole recipe: the model (new, or ``init`` weights), a pool
of synthetic samples (``detector.synth.training_sample``, seeds from
:func:`~detector.model.data.sample_seed`) refreshed a few per step, D4 + photometric
augmentation, AdamW with linear warm-up and cosine decay, channels_last, and mixed
precision: float16 autocast on CUDA, bfloat16 autocast on CPUs whose oneDNN supports it
(AVX512-BF16/AMX; about 1.6x faster there), float32 elsewhere (``amp=False`` forces float32).
It is deterministic for a seed on one machine and thread count. At the end it scores
held-out synthetic samples (seeds ``VAL_SEED_BASE + i``, never used for training) and writes
the weights with full metadata (:mod:`.provenance`, :mod:`.weights`), also every
``save_every`` steps if asked. Long runs go in resumable chunks: a checkpoint of the whole
loop state (:mod:`.checkpoint`) every ``checkpoint_every_s`` seconds and when a chunk ends;
``train(config, resume=CKPT)`` continues it to the weights of the uninterrupted run.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from .checkpoint import (
    ChunkControl,
    LoopState,
    checkpoint_path,
    config_record,
    label_windows_sha256,
    read_checkpoint,
    restore,
    write_checkpoint,
)
from .config import TrainConfig
from .data import SamplePool, make_batch
from .heads import HeadOnly
from .losses import detection_loss
from .net import build_model, count_parameters
from .provenance import amp_dtype, code_version, generator_version, save_trained
from .runtime import cpu_cores
from .validate import validate
from .weights import ModelMeta, canonical_gsd_m, load_model, resolve_device

__all__ = ["TrainConfig", "TrainResult", "train", "VAL_SEED_BASE", "generator_version"]

VAL_SEED_BASE = 900_000


@dataclass(frozen=True)
class TrainResult:
    """Where the weights went, their metadata, and how the run went.

    A chunk that stopped early (``finished`` False: ``--stop-after-steps``, ``--max-minutes``)
    wrote no final weights: ``meta`` is None and ``checkpoint`` is the file to resume."""

    path: Path
    meta: ModelMeta | None
    loss_history: tuple[tuple[int, float], ...]  # (step, mean total loss since last log)
    seconds: float
    steps_per_s: float
    samples_generated: int
    gen_samples_per_s: float
    device: str
    steps_done: int = 0
    finished: bool = True
    checkpoint: Path | None = None


def _lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    return f


def _check(config: TrainConfig) -> None:
    if config.steps < 1 or config.batch_size < 1:
        raise ConfigError(
            f"--steps and --batch-size must be >= 1, got {config.steps}, {config.batch_size}"
        )
    if config.size_px < 32 or config.size_px % 32:
        raise ConfigError(f"--size {config.size_px}: expected a multiple of 32, >= 32")
    if not 0.0 <= config.label_fraction <= 1.0:
        raise ConfigError(f"label_fraction {config.label_fraction}: expected 0..1")
    if config.init is not None and not Path(config.init).is_file():
        raise ConfigError(f"--init {config.init}: no such weights file")
    if config.labels is not None and not Path(config.labels).is_dir():
        raise ConfigError(f"--labels {config.labels}: not a directory")


def train(
    config: TrainConfig,
    *,
    log: Callable[[str], None] | None = None,
    resume: str | Path | None = None,
) -> TrainResult:
    """Run the recipe in ``config``; write the weights to ``config.out``; return the result.

    ``config.threads`` (default 1) sets torch's CPU threads for the run and is restored
    afterwards: one thread is the reproducible recipe and, on a machine shared with other
    work, much faster than two OpenMP threads that spin whenever one is preempted.

    The loop's whole state goes to a checkpoint (:mod:`.checkpoint`) every
    ``checkpoint_every_s`` seconds and when a chunk ends (``stop_after_steps``,
    ``max_minutes``, Ctrl-C: written, then KeyboardInterrupt); ``resume`` continues from one
    with the same config and gives the weights an uninterrupted run gives. A finished run
    removes its checkpoint.
    """
    _check(config)
    previous_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        return _train(config, log, None if resume is None else Path(resume))
    finally:
        torch.set_num_threads(previous_threads)


def _build(config: TrainConfig, device: torch.device):
    """(model on ``device``, arch, arch_kwargs, init weights' hash or None)."""
    if config.init is not None:
        model, init_meta = load_model(config.init, device="cpu")
        arch, arch_kwargs = init_meta.arch, dict(init_meta.arch_kwargs)
        init_sha = init_meta.state_sha256
    else:
        arch, arch_kwargs, init_sha = config.arch, dict(config.arch_kwargs), None
        try:
            model = build_model(arch, **arch_kwargs)
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"architecture {arch!r} {arch_kwargs}: {e}") from e
    model.train().to(device)
    # channels_last: faster on CPU (oneDNN) and CUDA
    return model.to(memory_format=torch.channels_last), arch, arch_kwargs, init_sha


def _train(config: TrainConfig, log: Callable[[str], None] | None, resume: Path | None):
    say = log or (lambda _msg: None)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    gsd = canonical_gsd_m()
    model, arch, arch_kwargs, init_sha = _build(config, device)
    heads = None if config.heads is None else HeadOnly(model, config.heads)
    amp = amp_dtype(device, config.amp)
    record = config_record(
        config.recipe(), generator=generator_version(config.sample_fn), init_sha256=init_sha
    )
    ckpt = None if resume is None else read_checkpoint(resume, record)
    ckpt_path = checkpoint_path(config.out, config.checkpoint, resume)
    if ckpt is None and ckpt_path.exists():
        say(f"{ckpt_path} will be replaced (continue a run with --resume {ckpt_path})")
    say(
        f"model {arch} {arch_kwargs}: {count_parameters(model):,} parameters on {device}, "
        f"{'autocast ' + str(amp) if amp else 'float32'}"
    )

    make = config.sample_fn
    if make is None:
        from ..synth.training import training_sample

        extra: dict[str, Any] = {}  # only what differs from the shipped recipe's samples
        if config.families is not None:
            extra["families"] = config.families
        if config.layouts != "v1":
            extra["layouts"] = config.layouts
        if config.setting_weights:
            extra["setting_weights"] = config.setting_weights
        if config.deep_snow > 0:
            extra["deep_snow"] = config.deep_snow
        make = functools.partial(training_sample, out_gsd_m=gsd, snow=config.snow, **extra)
    from ..synth.training import stream_sample

    # picklable, so worker processes can run it
    stream = functools.partial(
        stream_sample, make=make, run_seed=config.seed, size_px=config.size_px
    )
    workers = config.gen_workers
    if workers is None:  # a GPU step outruns one core rendering samples; a CPU's does not
        workers = max(1, min(8, cpu_cores() - 1)) if device.type == "cuda" else 0
    if workers:
        say(f"samples rendered ahead by {workers} worker processes")
    t_start = time.perf_counter()
    position = 0 if ckpt is None else int(ckpt["streams"]["synthetic_position"])
    pool = SamplePool(stream, config.pool_size, workers=workers, position=position)
    try:
        say(f"pool of {len(pool)} samples in {time.perf_counter() - t_start:.1f}s")
        label_pool: list[Any] = []
        if config.labels is not None:
            from .labelset import load_label_samples

            label_pool = load_label_samples(config.labels, size_px=config.size_px, rng=rng, log=say)
        labels_sha = label_windows_sha256(label_pool) if label_pool else None
        n_label = round(config.batch_size * config.label_fraction) if label_pool else 0

        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, _lr_lambda(config.warmup_steps, config.steps)
        )
        scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
        loss_w = config.loss_term_weights()
        ema = _averaged(model, config.ema)
        final = model if ema is None else ema.module  # what is validated and saved
        state = LoopState(model, opt, sched, scaler, ema, rng, gen)
        history: list[tuple[int, float]] = []
        running: list[float] = []
        parts_sum: dict[str, float] = {}
        start, elapsed_before = 0, 0.0
        version = code_version()  # git, once
        if ckpt is not None:
            start, elapsed_before, history, running, parts_sum = restore(
                ckpt, state, labels_sha=labels_sha, code=version, log=say
            )
            del ckpt

        def snapshot(step: int) -> None:
            write_checkpoint(
                ckpt_path, state, step=step, record=record, arch=arch, arch_kwargs=arch_kwargs,
                streams={"synthetic_position": pool.position, "label_windows_sha256": labels_sha},
                log={"history": history, "running": running, "parts_sum": parts_sum},
                elapsed_s=elapsed_before + time.perf_counter() - t_start,
                code_version=version,
                out=str(Path(config.out).resolve()),
            )  # fmt: skip

        t_loop = time.perf_counter()
        stop = None
        chunk = ChunkControl(
            start_step=start, every_s=config.checkpoint_every_s,
            stop_after_steps=config.stop_after_steps, max_minutes=config.max_minutes, t0=t_start,
        )  # fmt: skip
        with chunk:
            for step in range(start + 1, config.steps + 1):
                idx = rng.choice(len(pool), size=config.batch_size - n_label, replace=False)
                chosen = [pool.samples[i] for i in idx]
                if n_label:
                    chosen += [
                        label_pool[i] for i in rng.integers(0, len(label_pool), size=n_label)
                    ]
                x, tgt = make_batch(
                    chosen,
                    rng,
                    gen,
                    jitter=config.jitter,
                    chroma=config.colour == "chroma",
                    randconv=config.colour == "randconv",
                    tiers_output=config.tiers_output,
                    slot_negatives=config.slot_negatives,
                )
                x, tgt = x.to(device, non_blocking=True), tgt.to(device)
                x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast(
                    device.type, dtype=amp or torch.float32, enabled=amp is not None
                ):
                    out = model(x)
                loss, parts = detection_loss(out, tgt, weights=loss_w)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
                scale = scaler.get_scale()
                scaler.step(opt)
                if heads is not None:
                    heads.restore()
                scaler.update()
                if scaler.get_scale() >= scale:  # float16: a step with overflowing gradients is
                    sched.step()  # skipped (and the scale lowered); the schedule waits for it
                if ema is not None:
                    ema.update_parameters(model)
                running.append(float(loss.detach()))
                for k, v in parts.items():
                    parts_sum[k] = parts_sum.get(k, 0.0) + v
                pool.refresh(config.refresh_per_step)
                if step % config.log_every == 0 or step == config.steps:
                    mean = float(np.mean(running))
                    history.append((step, mean))
                    el = time.perf_counter() - t_loop
                    detail = " ".join(f"{k}={v / len(running):.3f}" for k, v in parts_sum.items())
                    say(
                        f"step {step}/{config.steps} loss={mean:.4f} {detail} "
                        f"lr={sched.get_last_lr()[0]:.2e} {(step - start) / el:.2f} steps/s "
                        f"elapsed={el:.0f}s"
                    )
                    running, parts_sum = [], {}
                if config.save_every and step % config.save_every == 0 and step < config.steps:
                    save_trained(
                        config, final, arch, arch_kwargs, gsd, (device, amp),
                        t_start - elapsed_before, step, {},
                    )  # fmt: skip
                    say(f"weights at step {step} -> {config.out}")
                stop = chunk.stop(step) if step < config.steps else None
                if stop or step == config.steps or chunk.due():
                    snapshot(step)
                    chunk.written()
                if stop:
                    break
        stop = "interrupted" if chunk.interrupted else stop  # also in the last step
        loop_s = time.perf_counter() - t_loop
    finally:
        pool.close()
    done = step if start < config.steps else start
    if stop == "interrupted":
        say(f"interrupted at step {done}/{config.steps}; checkpoint -> {ckpt_path}")
        raise KeyboardInterrupt
    steps_per_s = (done - start) / loop_s if loop_s > 0 else 0.0
    gen_rate = pool.generated / pool.wait_s if pool.wait_s > 0 else 0.0
    if stop:
        say(f"{stop}: stopped at step {done}/{config.steps}; resume with --resume {ckpt_path}")
        return TrainResult(
            Path(config.out), None, tuple(history), time.perf_counter() - t_start, steps_per_s,
            pool.generated, gen_rate, str(device), done, False, ckpt_path,
        )  # fmt: skip
    metrics: dict[str, Any] = {}
    if config.val_samples > 0:
        val = [make(VAL_SEED_BASE + i, size_px=config.size_px) for i in range(config.val_samples)]
        m = validate(final, val, device=device, gsd_m=gsd, tiers_output=config.tiers_output)
        metrics["synthetic_val"] = {
            **m.as_dict(),
            "samples": config.val_samples,
            "size_px": config.size_px,
            "seeds": f"{VAL_SEED_BASE}..{VAL_SEED_BASE + config.val_samples - 1}",
        }
        say(f"validation on {config.val_samples} held-out samples: {m.as_dict()}")
    meta = save_trained(
        config, final, arch, arch_kwargs, gsd, (device, amp), t_start - elapsed_before,
        config.steps, metrics,
    )  # fmt: skip
    ckpt_path.unlink(missing_ok=True)  # the weights are the result; nothing to resume
    seconds = time.perf_counter() - t_start
    say(f"wrote {config.out} ({seconds:.0f}s)")
    return TrainResult(
        Path(config.out), meta, tuple(history), seconds, steps_per_s, pool.generated, gen_rate,
        str(device), config.steps,
    )  # fmt: skip


def _averaged(model: torch.nn.Module, decay: float):
    """An exponential moving average of ``model``'s weights and BatchNorm statistics, or None."""
    if not decay:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
