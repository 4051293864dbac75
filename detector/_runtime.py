"""Process and device setup for detecting: which device, how many CPU threads, and glibc's
handling of freed large blocks. Used by :mod:`detector.detect`."""

from __future__ import annotations

import contextlib
import os

from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when a CUDA device is present, else ``"cpu"``.

    Raises :class:`~detector.errors.DeviceError` for ``"cuda"`` without one (see
    :func:`detector.model.weights.resolve_device`), :class:`ConfigError` for a name other
    than :data:`DEVICES`.
    """
    from .model.weights import resolve_device as torch_device

    if device not in DEVICES:
        raise ConfigError(f"--device {device!r}: expected one of {', '.join(DEVICES)}")
    return torch_device(device).type


def return_freed_memory() -> None:
    """glibc: serve allocations of 1 MB and more (tile batches, activations) by mmap, so
    freeing them returns them to the OS. By default glibc raises that threshold to the
    largest block freed so far and then keeps freed batches in its heap: ~250 MB of peak RSS
    on a large scene. A no-op where glibc's ``mallopt`` is absent."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name).mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD = 1 MB


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
    available; glibc returns freed large blocks (see :func:`return_freed_memory`)."""
    import torch

    torch.set_num_threads(num_threads or cpu_cores())
    return_freed_memory()
