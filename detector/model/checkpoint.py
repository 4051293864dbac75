"""Training checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint is not a weights file (:mod:`.weights`): it is one ``torch.save`` file holding

- ``model``, ``optimizer`` (AdamW), ``scheduler`` (LambdaLR), ``scaler`` (GradScaler) and
  ``ema`` (AveragedModel, or None) state dicts, and ``step``: the steps done;
- ``rng``: every random stream the loop draws from -- torch's global CPU (and CUDA) state,
  the run's numpy Generator (batch choice, D4 augmentation, label windows) as JSON, the torch
  Generator of the colour jitter;
- ``streams``: the synthetic sample stream's position (the pool of ``pool_size`` holds the
  samples ``position - pool_size .. position - 1``, so it is rebuilt exactly by rendering
  them again, see :class:`~detector.model.data.SamplePool`) and a fingerprint of the label
  windows (rebuilt from the label folder with the run seed, then checked);
- ``config``: the run's recipe (:meth:`TrainConfig.recipe` without the fields that cannot
  change the result, plus the sample generator's version and the ``init`` weights' hash) and
  its SHA-256; ``log``: the loss history so far; ``elapsed_s``: training seconds so far.

Written atomically every ``checkpoint_every_s`` seconds and at the end of each chunk; one
file holds only the latest state. Resuming with a config whose record differs is a
:class:`~detector.errors.ConfigError` naming the differing fields.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import atomic_path
from ..errors import ConfigError

__all__ = [
    "FORMAT",
    "FREE_FIELDS",
    "LoopState",
    "ChunkControl",
    "checkpoint_path",
    "config_record",
    "config_sha256",
    "label_windows_sha256",
    "read_checkpoint",
    "restore",
    "write_checkpoint",
]

FORMAT = "ccount-train-checkpoint/1"
# recipe fields that may differ between chunks: they cannot change the weights
FREE_FIELDS = frozenset({"gen_workers", "sample_seeds"})


def checkpoint_path(out: Path, checkpoint: Path | None, resume: Path | None) -> Path:
    """Where a run keeps its checkpoint: ``checkpoint``, else the one resumed, else
    ``<out>.ckpt``."""
    if checkpoint is not None:
        return Path(checkpoint)
    if resume is not None:
        return Path(resume)
    return Path(f"{out}.ckpt")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def config_record(recipe: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The part of a recipe that fixes the result (JSON types), plus ``extra`` facts."""
    record = {k: v for k, v in recipe.items() if k not in FREE_FIELDS}
    return _jsonable({**record, **extra})


def config_sha256(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def label_windows_sha256(samples: list[Any]) -> str:
    """A fingerprint of label windows: their boxes and every 8th row and column of pixels."""
    h = hashlib.sha256()
    for s in samples:
        h.update(np.ascontiguousarray(s.image[:, ::8, ::8], np.float32).tobytes())
        for f in dataclasses.fields(s.containers):
            h.update(np.ascontiguousarray(getattr(s.containers, f.name)).tobytes())
        if getattr(s, "loss_mask", None) is not None:  # reviewed label sets only
            h.update(np.packbits(s.loss_mask).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class LoopState:
    """The live objects of a training loop whose state a checkpoint holds."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any  # torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    ema: torch.nn.Module | None
    rng: np.random.Generator
    gen: torch.Generator

    def state_dict(self) -> dict[str, Any]:
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": cuda,
                "numpy": json.dumps(self.rng.bit_generator.state),
                "jitter": self.gen.get_state(),
            },
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.model.load_state_dict(d["model"])
        self.optimizer.load_state_dict(d["optimizer"])
        self.scheduler.load_state_dict(d["scheduler"])
        self.scaler.load_state_dict(d["scaler"])
        if self.ema is not None:
            self.ema.load_state_dict(d["ema"])
        rng = d["rng"]
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self.rng.bit_generator.state = json.loads(rng["numpy"])
        self.gen.set_state(rng["jitter"])


def write_checkpoint(
    path: Path, state: LoopState, *, step: int, record: dict[str, Any], **parts: Any
) -> None:
    """Write the checkpoint of ``state`` after ``step`` steps atomically to ``path``;
    ``parts``: ``arch``, ``arch_kwargs``, ``streams``, ``log``, ``elapsed_s``, ``code_version``,
    ``out`` (the weights file the run writes)."""
    payload = {
        "format": FORMAT,
        "step": int(step),
        "config": record,
        "config_sha256": config_sha256(record),
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **parts,
        **state.state_dict(),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path: str | Path, record: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load a checkpoint; with ``record``, check it belongs to that config.

    Raises :class:`ConfigError` naming the file: missing, unreadable, not a checkpoint, or
    written for a config whose result would differ (the differing fields, both values)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--resume {path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors: not a usable checkpoint
        raise ConfigError(f"--resume {path}: not a readable checkpoint (corrupt?): {e}") from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(f"--resume {path}: not a ccount training checkpoint ({FORMAT})")
    saved = payload["config"]
    if config_sha256(saved) != payload.get("config_sha256"):
        raise ConfigError(f"--resume {path}: its config does not match its hash (altered?)")
    if record is not None:
        keys = sorted(set(saved) | set(record))
        diff = [k for k in keys if saved.get(k) != record.get(k)]
        if diff:
            detail = ", ".join(
                f"{k} (checkpoint {saved.get(k)!r}, now {record.get(k)!r})" for k in diff
            )
            raise ConfigError(
                f"--resume {path}: the checkpoint is of a run with another config: {detail}; "
                "resume with the checkpoint's settings (or none: it carries them)"
            )
    payload["path"] = str(path)
    return payload


def restore(
    payload: dict[str, Any], state: LoopState, *, labels_sha: str | None, code: str, log
) -> tuple[int, float, list[tuple[int, float]], list[float], dict[str, float]]:
    """Load a checkpoint ``payload`` into ``state``; returns (step, elapsed_s, loss history,
    running losses, loss parts summed since the last log line). The label windows rebuilt
    for the run must be those of the checkpoint (``labels_sha``)."""
    path = payload.get("path", "the checkpoint")
    if payload["streams"]["label_windows_sha256"] != labels_sha:
        raise ConfigError(
            f"--resume {path}: the label windows differ from the checkpoint's (label files "
            "or their scenes changed since)"
        )
    if payload.get("code_version") != code:
        log(f"note: checkpoint written by code {payload.get('code_version')}, now {code}")
    state.load_state_dict(payload)
    history = [(int(a), float(b)) for a, b in payload["log"]["history"]]
    running = [float(x) for x in payload["log"]["running"]]
    parts = {str(k): float(v) for k, v in payload["log"]["parts_sum"].items()}
    log(f"resumed {path} at step {payload['step']}")
    return int(payload["step"]), float(payload["elapsed_s"]), history, running, parts


class ChunkControl:
    """When to write a checkpoint and when to end a chunk.

    A context manager: inside it, Ctrl-C (SIGINT, in the main thread) only sets a flag, read
    after the step in progress (a second Ctrl-C interrupts at once). :meth:`stop` returns why
    the chunk ends after ``step`` (``"interrupted"``, ``"stop-after-steps"``,
    ``"max-minutes"``) or None; :meth:`due` says whether a periodic checkpoint is due.
    """

    def __init__(
        self,
        *,
        start_step: int,
        every_s: float,
        stop_after_steps: int | None = None,
        max_minutes: float | None = None,
        t0: float | None = None,
    ) -> None:
        self.start_step = start_step
        self.every_s = every_s
        self.stop_after_steps = stop_after_steps
        self.max_s = None if max_minutes is None else 60.0 * max_minutes
        self.last = time.perf_counter()
        self.t0 = self.last if t0 is None else t0  # perf_counter() when the chunk began
        self.interrupted = False
        self._installed = False
        self._previous: Any = signal.default_int_handler

    def _on_sigint(self, signum, frame) -> None:
        self.interrupted = True
        self._restore()

    def _restore(self) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)
            self._installed = False

    def __enter__(self) -> ChunkControl:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def due(self) -> bool:
        return time.perf_counter() - self.last >= self.every_s

    def written(self) -> None:
        self.last = time.perf_counter()

    def stop(self, step: int) -> str | None:
        if self.interrupted:
            return "interrupted"
        if self.stop_after_steps is not None and step - self.start_step >= self.stop_after_steps:
            return "stop-after-steps"
        if self.max_s is not None and time.perf_counter() - self.t0 >= self.max_s:
            return "max-minutes"
        return None
