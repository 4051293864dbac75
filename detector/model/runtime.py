"""Process and device setup for detecting: which device, how many CPU threads, the inference
precision (autocast dtype), and glibc's returning freed memory to the OS. Used by
:mod:`detector.detect.pipeline`."""

from __future__ import annotations

import contextlib
import os

from ..errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when a CUDA device is present, else ``"cpu"``.

    Raises :class:`~detector.errors.DeviceError` for ``"cuda"`` without one (see
    :func:`detector.model.weights.resolve_device`), :class:`ConfigError` for a name other
    than :data:`DEVICES`.
    """
    from .weights import resolve_device as torch_device

    if device not in DEVICES:
        raise ConfigError(f"--device {device!r}: expected one of {', '.join(DEVICES)}")
    return torch_device(device).type


def trim_freed_memory() -> None:
    """glibc: hand the heap's freed memory back to the OS (``malloc_trim``), e.g. between the
    scenes of a batch. glibc's default allocation policy stays: forcing blocks of 1 MB and
    more onto fresh mmaps (``M_MMAP_THRESHOLD``) kept ~250 MB off the peak RSS of a
    12,000 px scene but made every activation of the model fault in new pages, and the
    detect pipeline 1.7x slower (measured, see the model card). A no-op without glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name).malloc_trim(0)


def infer_dtype(device, amp: bool = True):
    """The autocast dtype for inference on ``device`` (a torch.device): bfloat16 on CUDA
    where supported, else float16; bfloat16 on a CPU that runs it natively; None (float32)
    elsewhere or with ``amp`` False (training's is :func:`detector.model.provenance.amp_dtype`)."""
    import torch

    if not amp:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_bf16() else None


def autocast(device, dtype):
    """``torch.autocast`` for ``dtype`` on ``device``, or a no-op for None (float32)."""
    import torch

    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def cpu_bf16() -> bool:
    """Whether oneDNN runs bfloat16 natively here (AVX512-BF16 / AMX)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cpu_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def reader_threads(requested: int | None, device: str) -> int:
    """Threads reading tiles ahead of the model: ``requested``, else one on CPU (the model
    keeps every core busy) and on CUDA half the cores, 2 to 8 (a GPU runs the model faster
    than one thread reads and resamples tiles)."""
    if requested is not None:
        return requested
    return 1 if device == "cpu" else max(2, min(8, cpu_cores() // 2))


def configure_process(num_threads: int | None) -> None:
    """Process-wide settings for detecting: torch CPU threads = ``num_threads`` or all cores
    available."""
    import torch

    torch.set_num_threads(num_threads or cpu_cores())
