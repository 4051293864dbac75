"""Ship identity and hull geometry of a run against a synthetic world's truth.

Usage (from the repository root)::

    .venv/bin/python scripts/eval_ships.py WORLD --run RUN

``WORLD`` is ``ccount synth world`` output (``truth/<scene>.geojson`` holds each ship's hull
polygon, name, length, beam and bridge position); ``RUN`` a ``ccount run`` (or ``ccount
detect``) output with ``detections/<scene>.detections.geojson``. Each true hull is matched
to the detected hull it overlaps most (IoU >= 0.3, else "missed"). Prints how many are named
right, unknown, named wrong or missed, the confusions, the length/beam errors, and the hulls
found where there is no ship (overlapping no true hull by IoU >= 0.3: quays, yard blocks).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from shapely.geometry import shape


def _ships(path: Path) -> list[dict]:
    feats = json.loads(path.read_text())["features"]
    return [f for f in feats if f["properties"].get("type") == "ship"]


def _pairs(world: Path, run: Path):
    """``(scene, truth path, detections path)`` of the world's scenes the run detected."""
    for truth in sorted((world / "truth").glob("*.geojson")):
        scene = truth.name[: -len(".geojson")]
        pred = run / "detections" / f"{scene}.detections.geojson"
        if not pred.is_file():
            pred = run / f"{scene}.detections.geojson"
        if pred.is_file():
            yield scene, truth, pred


def false_hulls(world: Path, run: Path) -> list[tuple[str, str, float]]:
    """``(scene, name, length m)`` of the found hulls that overlap no true hull (IoU >= 0.3)."""
    out = []
    for scene, truth, pred in _pairs(world, run):
        true = [shape(t["geometry"]).buffer(0) for t in _ships(truth)]
        for p in _ships(pred):
            h = shape(p["geometry"]).buffer(0)
            if not any(h.intersection(g).area / h.union(g).area >= 0.3 for g in true):
                out.append((scene, p["properties"]["name"], p["properties"]["length_m"]))
    return out


def compare(world: Path, run: Path) -> list[tuple]:
    """``(scene, true name, found name or "missed", length error m, beam error m)`` rows."""
    rows = []
    for scene, truth, pred in _pairs(world, run):
        found = [(shape(p["geometry"]).buffer(0), p["properties"]) for p in _ships(pred)]
        for t in _ships(truth):
            g, tp = shape(t["geometry"]).buffer(0), t["properties"]
            ious = [g.intersection(h).area / g.union(h).area for h, _ in found]
            if not ious or max(ious) < 0.3:
                rows.append((scene, tp["name"], "missed", None, None))
                continue
            pp = found[int(np.argmax(ious))][1]
            rows.append((scene, tp["name"], pp["name"], pp["length_m"] - tp["length_m"],
                         pp["beam_m"] - tp["beam_m"]))  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("world", type=Path)
    p.add_argument("--run", type=Path, required=True)
    args = p.parse_args(argv)
    rows = compare(args.world, args.run)
    if not rows:
        raise SystemExit(
            f"eval_ships: no scene of {args.world} has ships and detections in {args.run}"
        )
    n = len(rows)
    right = sum(r[1] == r[2] for r in rows)
    unknown = sum(r[2] == "unknown" for r in rows)
    missed = sum(r[2] == "missed" for r in rows)
    print(f"{n} true hulls: {right} named right ({right / n:.0%}), {unknown} unknown, "
          f"{n - right - unknown - missed} named wrong, {missed} missed")  # fmt: skip
    wrong = Counter(f"{r[1]} -> {r[2]}" for r in rows if r[1] != r[2])
    print("not named right:", ", ".join(f"{k} x{v}" for k, v in wrong.most_common()) or "none")
    for i, what in ((3, "length"), (4, "beam")):
        e = np.array([r[i] for r in rows if r[i] is not None])
        q = np.quantile(e, [0.25, 0.5, 0.75])
        print(f"{what} error (m): median {q[1]:+.1f}, quartiles {q[0]:+.1f} / {q[2]:+.1f}")
    extra = false_hulls(args.world, args.run)
    named = sum(1 for _, name, _ in extra if name != "unknown")
    print(f"hulls where there is no ship: {len(extra)} ({named} given a registry name)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
