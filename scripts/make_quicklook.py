"""Regenerate imagery/quicklook_rajin.png: what a synthetic Rajin scene looks like.

Usage: python scripts/make_quicklook.py [--out imagery/quicklook_rajin.png] [--seed 9]

Renders a 1600 x 1600 px, 0.4 m scene of Rajin Pier 2 (Angara loaded at the east berth with
247 containers, 120 more stacked on the pier, background activity), then writes a PNG of
two panels: the whole scene downsampled 4x (left) and a full-resolution crop over the ship's
deck and the pier stock with the visible truth footprints outlined in magenta (right).
The PNG is quantised to 256 colours to stay under 300 KB.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from detector.synth.portmap import feature_centre_m
from detector.synth.scene import SceneSpec, ShipVisit, StockSpec, render_scene

OUT = Path(__file__).resolve().parents[1] / "imagery" / "quicklook_rajin.png"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--seed", type=int, default=9)
    args = ap.parse_args()
    cx, cy = feature_centre_m("rajin", "Pier 2")
    spec = SceneSpec(
        port="rajin", acquired=dt.datetime(2023, 11, 20, 2, 10, tzinfo=dt.UTC), seed=args.seed,
        gsd_m=0.4, width=1600, height=1600, centre_xy_m=(cx + 30, cy + 60),
        ships=(ShipVisit("Angara", "Pier 2 east berth", 247),), stock=(StockSpec("Pier 2", 120),),
        background=0.5, off_nadir_deg=8.0,
    )  # fmt: skip
    rs = render_scene(spec)
    rgb = np.ascontiguousarray(rs.image.transpose(1, 2, 0))
    panel = 400
    left = cv2.resize(rgb, (panel, panel), interpolation=cv2.INTER_AREA)
    hull = rs.hulls[0].polygon
    hx, hy = hull.mean(axis=0)
    x0 = int(np.clip(hx - panel * 0.65, 0, rs.spec.width - panel))
    y0 = int(np.clip(hy - panel * 0.62, 0, rs.spec.height - panel))
    right = rgb[y0 : y0 + panel, x0 : x0 + panel].copy()
    vis = rs.truth.select(rs.truth.visible).shifted(-x0, -y0)
    pts = [np.round(q * 16).astype(np.int32) for q in vis.corners() - 0.5]
    cv2.polylines(right, pts, True, (255, 0, 255), 1, cv2.LINE_AA, 4)
    scale = panel / rs.spec.width
    cv2.rectangle(
        left,
        (int(x0 * scale), int(y0 * scale)),
        (int((x0 + panel) * scale), int((y0 + panel) * scale)),
        (255, 0, 255),
        1,
    )
    sheet = np.concatenate([left, np.full((panel, 6, 3), 255, np.uint8), right], axis=1)
    img = Image.fromarray(sheet).quantize(
        colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    img.save(args.out, optimize=True)
    print(
        f"{args.out}: {args.out.stat().st_size // 1024} KB, scene {rs.scene_id}, {rs.containers_visible} visible / {rs.containers_total} containers"
    )


if __name__ == "__main__":
    main()
