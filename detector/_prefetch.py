"""A bounded background reader: the next batches of tiles are read while the model runs.

One worker thread calls ``read_batch(chunk)`` for each chunk of tiles in order and puts the
result on a queue of at most ``depth`` batches, so memory holds ``depth + 1`` batches at most
whatever the scene size. Raster reads (GDAL) and numpy release the GIL, so reading overlaps
the model's compute. An error in the worker is re-raised in the consumer; closing the
consumer early (``break``, an exception) stops the worker.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

__all__ = ["Prefetcher"]

T = TypeVar("T")
B = TypeVar("B")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Prefetcher(Generic[T, B]):
    """Iterate ``read_batch(chunk)`` over ``chunks`` with reading done one thread ahead.

    ``read_s`` accumulates the seconds the worker spent inside ``read_batch``.
    Use as a context manager so the worker is always joined::

        with Prefetcher(chunks, read_batch, depth=2) as batches:
            for batch in batches: ...
    """

    def __init__(
        self, chunks: Sequence[T], read_batch: Callable[[T], B], *, depth: int = 2
    ) -> None:
        if depth < 1:
            raise ValueError(f"prefetch depth must be >= 1, got {depth}")
        self._chunks = chunks
        self._read = read_batch
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="ccount-prefetch", daemon=True)
        self.read_s = 0.0

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        try:
            for chunk in self._chunks:
                if self._stop.is_set():
                    return
                t0 = time.perf_counter()
                batch = self._read(chunk)
                self.read_s += time.perf_counter() - t0
                if not self._put(batch):
                    return
        except BaseException as e:  # handed to the consumer, which re-raises it
            self._put(_Failure(e))
            return
        self._put(_DONE)

    def __enter__(self) -> Iterator[B]:
        self._thread.start()
        return self._iterate()

    def _iterate(self) -> Iterator[B]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
