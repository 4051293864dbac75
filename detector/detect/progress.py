"""Progress bars of a detect batch: one tqdm bar per scene, counting tiles."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["tqdm_progress"]


def tqdm_progress(enabled: bool):
    """None when not ``enabled``; else ``start(n_tiles, scene_id) -> update(n)``, with a
    ``close()`` for the last bar."""
    if not enabled:
        return None
    from tqdm import tqdm

    bars = []

    def start(total: int, scene_id: str) -> Callable[[int], None]:
        for b in bars:
            b.close()
        bars.clear()
        bar = tqdm(
            total=total, desc=scene_id, unit="tile", leave=False, dynamic_ncols=True, disable=None
        )  # None: only on a terminal, never into a log file
        bars.append(bar)
        return bar.update

    start.close = lambda: [b.close() for b in bars]  # type: ignore[attr-defined]
    return start
