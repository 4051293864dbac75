"""Reading a batch of tiles into the model's buffer: each tile with a reader of its own.

The pure reading side of :func:`detector.detect.inference.infer_scene`: readers (one
:class:`~detector.imagery.reader.SceneReader` per thread: a raster handle is not thread-safe)
are borrowed per tile, so a batch's tiles are read side by side in a pool of one thread per
reader, and a GPU's large batches of few tiles still keep every reader busy.
"""

from __future__ import annotations

import math
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

__all__ = ["Batch", "batch_hw", "batch_reader"]


@dataclass(frozen=True)
class Batch:
    tiles: tuple  # tuple[Tile, ...]
    images: np.ndarray  # float32 [B, 3, H, W]
    valid: np.ndarray  # bool [B, H, W]


def batch_hw(tiles: Sequence, multiple: int) -> tuple[int, int]:
    """A batch's padded image size: its largest window, up to a multiple of ``multiple``."""
    h = max(t.window.height for t in tiles)
    w = max(t.window.width for t in tiles)
    return math.ceil(h / multiple) * multiple, math.ceil(w / multiple) * multiple


def batch_reader(
    readers: Sequence, pool: ThreadPoolExecutor | None, multiple: int
) -> Callable[[Sequence], Batch]:
    """``read_batch(tiles)``: one batch's tiles, each read with a reader borrowed for that
    tile, padded to a multiple of ``multiple`` px; with a ``pool`` (one thread per reader)
    the tiles are read side by side."""
    free: queue.SimpleQueue = queue.SimpleQueue()
    for r in readers:
        free.put(r)

    def read_batch(tiles: Sequence) -> Batch:
        h, w = batch_hw(tiles, multiple)
        # pixel-interleaved (channels-last) buffer, handed on as an [n, 3, h, w] view: the
        # model's layout, so the transposition happens here in the reading threads
        nhwc = np.zeros((len(tiles), h, w, 3), np.float32)
        valid = np.zeros((len(tiles), h, w), bool)

        def fill(k: int) -> None:  # each tile writes its own slice of the buffers
            reader = free.get()
            try:
                img = reader.read(tiles[k].window)
            finally:
                free.put(reader)
            th, tw = img.valid.shape
            nhwc[k, :th, :tw] = img.image.transpose(1, 2, 0)
            valid[k, :th, :tw] = img.valid

        if pool is None or len(tiles) == 1:
            for k in range(len(tiles)):
                fill(k)
        else:
            for f in [pool.submit(fill, k) for k in range(len(tiles))]:
                f.result()  # re-raises a reading error
        return Batch(tuple(tiles), nhwc.transpose(0, 3, 1, 2), valid)

    return read_batch
