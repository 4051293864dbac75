"""``ccount demo``: the README's main job on a small synthetic world, no arguments needed.

Builds a world from the first ``first`` voyages of ``labels/voyages.csv`` (fixed seed; reused
when ``OUT/world/world.json`` already holds the same world), writes those voyages as
``OUT/voyages.csv``, and runs :func:`detector.run.batch.run` on the world's scenes with the shipped
model into ``OUT/run``. The true loads come back with the result so they can be shown beside
the estimates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write_text, check_output_dir
from ..paths import labels_dir

__all__ = ["DEMO_FIRST", "DEMO_SEED", "DemoResult", "demo"]

DEMO_FIRST = 6
DEMO_SEED = 19  # 8 scenes: every kind of evidence, a cloud, two voyages without imagery


@dataclass(frozen=True)
class DemoResult:
    out_dir: Path
    world_dir: Path
    run_dir: Path
    summary: Any  # detector.run.batch.RunSummary
    truth: dict[int, int]  # voyage -> true containers


def _world_matches(world_dir: Path, seed: int, first: int) -> bool:
    p = world_dir / "world.json"
    if not p.is_file():
        return False
    try:
        w = json.loads(p.read_text())
    except (OSError, ValueError):
        return False
    scenes_ok = all((world_dir / s["file"]).is_file() for s in w.get("scenes", []))
    return w.get("seed") == seed and len(w.get("voyages", [])) == first and scenes_ok


def demo(
    out_dir: str | Path = "demo_out",
    *,
    first: int = DEMO_FIRST,
    seed: int = DEMO_SEED,
    detect: Any = None,
    progress: bool = True,
) -> DemoResult:
    """Synthesize (or reuse) the demo world and run detect + reconcile + report on it."""
    from ..detect.pipeline import DetectConfig
    from ..labels.voyages import read_voyages
    from ..synth.world import build_world
    from .batch import RunConfig, run

    out = Path(out_dir)
    world_dir, run_dir = out / "world", out / "run"
    check_output_dir(out)  # before the world is rendered: a bad --out is one line, exit 2
    log = labels_dir() / "voyages.csv"
    voyages = read_voyages(log)[:first]
    lines = ["voyage,ship,rajin_date"] + [
        f"{v.voyage},{v.ship},{v.rajin_date.isoformat()}" for v in voyages
    ]
    atomic_write_text(out / "voyages.csv", "\n".join(lines) + "\n")
    if not _world_matches(world_dir, seed, len(voyages)):
        from tqdm import tqdm

        with tqdm(desc="synth world", unit="scene", disable=None if progress else True) as bar:
            build_world(log, world_dir, seed, first=first, progress=lambda _sid: bar.update())
    world = json.loads((world_dir / "world.json").read_text())
    summary = run(
        RunConfig(
            imagery_dir=world_dir / "scenes",
            voyages_path=out / "voyages.csv",
            out_dir=run_dir,
            detect=detect or DetectConfig(),
            progress=progress,
        )
    )
    truth = {int(v["voyage"]): int(v["containers"]) for v in world["voyages"]}
    return DemoResult(out, world_dir, run_dir, summary, truth)
