"""A bounded background reader: the next batches of tiles are read while the model runs.

``workers`` threads call ``read_batch(chunk)`` for the chunks of tiles; the consumer gets the
batches in chunk order. At most ``max(depth + 1, workers)`` batches are read ahead of the one
in use (``depth`` waiting and one being read, or one per worker), whatever the scene size.
Raster reads (GDAL) and numpy release the GIL, so reading overlaps the model's compute, and
several workers read at once (on a GPU the model outruns a single reader). An error in a
worker is re-raised in the consumer; closing the consumer early (``break``, an exception)
stops the workers.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

__all__ = ["Prefetcher"]

T = TypeVar("T")
B = TypeVar("B")


class Prefetcher(Generic[T, B]):
    """Iterate ``read_batch(chunk)`` over ``chunks``, read ahead by ``workers`` threads.

    ``read_s`` accumulates the seconds the workers spent inside ``read_batch`` (summed over
    workers). ``read_batch`` must be safe to call from ``workers`` threads at once.
    Use as a context manager so the workers are always joined::

        with Prefetcher(chunks, read_batch, depth=2) as batches:
            for batch in batches: ...
    """

    def __init__(
        self,
        chunks: Sequence[T],
        read_batch: Callable[[T], B],
        *,
        depth: int = 2,
        workers: int = 1,
    ) -> None:
        if depth < 1:
            raise ValueError(f"prefetch depth must be >= 1, got {depth}")
        if workers < 1:
            raise ValueError(f"prefetch workers must be >= 1, got {workers}")
        self._chunks = chunks
        self._read = read_batch
        self._depth = depth
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future] = deque()
        self._lock = threading.Lock()
        self.read_s = 0.0

    def _timed(self, chunk: T) -> B:
        t0 = time.perf_counter()
        batch = self._read(chunk)
        with self._lock:
            self.read_s += time.perf_counter() - t0
        return batch

    def __enter__(self) -> Iterator[B]:
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="ccount-prefetch")
        return self._iterate()

    def _iterate(self) -> Iterator[B]:
        assert self._pool is not None
        todo = iter(self._chunks)
        ahead = max(self._depth + 1, self._workers)  # read ahead of the batch in use
        for chunk in itertools.islice(todo, ahead):
            self._pending.append(self._pool.submit(self._timed, chunk))
        while self._pending:
            batch = self._pending.popleft().result()  # re-raises a worker's error
            for chunk in itertools.islice(todo, 1):
                self._pending.append(self._pool.submit(self._timed, chunk))
            yield batch

    def __exit__(self, *exc: object) -> None:
        for f in self._pending:
            f.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
