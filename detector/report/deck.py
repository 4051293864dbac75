"""One deck drawn with its stack heights, for the report (runs with ``--heights shadow``).

:func:`deck_figure` looks through a run's ``detections/`` for the scenes detected with
``settings.heights == "shadow"`` (their container features carry ``tiers_est``,
``tiers_low``, ``tiers_high``, ``height_source``), picks the ship with the most detections on
its deck, and draws its stacks as an inline SVG: each stack's outline filled by its
estimated tiers and labelled ``est (low-high)`` (priors pale and dashed), with an arrow
pointing to the sun (the shadows fall the other way). A run detected with the network's tier head gives nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np

__all__ = ["TIER_COLOURS", "DeckFigure", "deck_figure", "deck_svg"]

#: Fill per estimated tier (1..4; more: the last).
TIER_COLOURS = ("#c6dbef", "#6baed6", "#2171b5", "#08306b")
_M_PER_DEG_LAT = 110_540.0
_M_PER_DEG_LON = 111_320.0


@dataclass(frozen=True)
class DeckFigure:
    """The drawn deck: ``scene``, ``ship`` name, ``stacks`` drawn, ``svg`` text."""

    scene: str
    ship: str
    stacks: int
    svg: str


def _stacks(features: list[dict]) -> dict[str, list[dict]]:
    """Deck container features with heights, by ship name."""
    out: dict[str, list[dict]] = {}
    for f in features:
        p = f.get("properties") or {}
        geom = f.get("geometry") or {}
        if p.get("type") != "container" or p.get("region") != "deck" or not p.get("ship"):
            continue
        if geom.get("type") != "Polygon" or p.get("tiers_low") is None:
            continue
        out.setdefault(str(p["ship"]), []).append(f)
    return out


def _label(sp: np.ndarray, text: str, ink: str) -> str:
    """``text`` centred on the box ``sp`` [4, 2] (SVG px), along its long side, sized to fit."""
    e1, e2 = sp[1] - sp[0], sp[2] - sp[1]
    long = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
    ang = math.degrees(math.atan2(long[1], long[0]))
    ang = (ang + 90.0) % 180.0 - 90.0  # readable: never upside down
    size = max(4.0, min(12.0, float(np.hypot(*long)) / (0.62 * max(len(text), 1))))
    cx, cy = sp.mean(0)
    return (f'<text x="{cx:.1f}" y="{cy:.1f}" font-size="{size:.1f}" fill="{ink}" '
            f'text-anchor="middle" dominant-baseline="central" '
            f'transform="rotate({ang:.1f} {cx:.1f} {cy:.1f})">{escape(text)}</text>')  # fmt: skip


def deck_svg(features: list[dict], sun: dict | None, *, size_px: int = 900) -> str:
    """SVG text of ``features`` (GeoJSON container polygons, lon/lat, with ``tiers_est``,
    ``tiers_low``, ``tiers_high``, ``height_source``) and the sun's direction
    (``sun["azimuth_deg"]``, ``elevation_deg``). Stacks whose height is a prior are drawn
    pale with a dashed outline."""
    rings = [np.asarray(f["geometry"]["coordinates"][0], float)[:, :2] for f in features]
    lon0, lat0 = np.concatenate(rings).mean(0)
    kx = _M_PER_DEG_LON * math.cos(math.radians(lat0))

    def xy(r: np.ndarray) -> np.ndarray:  # metres east, metres south of the centre
        return np.column_stack([(r[:, 0] - lon0) * kx, -(r[:, 1] - lat0) * _M_PER_DEG_LAT])

    pts = [xy(r) for r in rings]
    lo = np.min([p.min(0) for p in pts], 0) - 3.0
    hi = np.max([p.max(0) for p in pts], 0) + 3.0
    scale = size_px / max(float((hi - lo).max()), 1.0)
    w, h = np.maximum((hi - lo) * scale, 60.0)
    legend_h = 64
    out = [f'<svg width="{w:.0f}" height="{h + legend_h:.0f}" '
           f'viewBox="0 0 {w:.1f} {h + legend_h:.1f}" role="img">',
           f'<rect width="{w:.1f}" height="{h:.1f}" fill="#f4f1ea"/>']  # fmt: skip
    for f, p in zip(features, pts, strict=True):
        q = f["properties"]
        est = float(q.get("tiers_est") or 0)
        fill = TIER_COLOURS[int(np.clip(round(est), 1, len(TIER_COLOURS))) - 1]
        sp = (p[:4] - lo) * scale
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in sp)
        lo_t, hi_t = float(q["tiers_low"]), float(q["tiers_high"])
        src = str(q.get("height_source") or "?")
        tip = f"{est:g} tiers (90 %: {lo_t:g}-{hi_t:g}), {src} {q.get('height_note') or ''}"
        style = "" if src == "shadow" else ' fill-opacity="0.45" stroke-dasharray="2 1.5"'
        out.append(f'<polygon points="{path}" fill="{fill}" stroke="#333" stroke-width="0.6"'
                   f"{style}><title>{escape(tip.strip())}</title></polygon>")  # fmt: skip
        ink = "#fff" if est >= 2.5 and src == "shadow" else "#111"
        out.append(_label(sp, f"{est:g} ({lo_t:g}-{hi_t:g})", ink))
    y = h + 8
    x = 6.0
    for k, col in enumerate(TIER_COLOURS, start=1):
        out.append(f'<rect x="{x:.0f}" y="{y:.0f}" width="14" height="14" fill="{col}" '
                   'stroke="#333" stroke-width="0.5"/>')  # fmt: skip
        name = f"{k}{'+' if k == len(TIER_COLOURS) else ''} tier{'s' if k > 1 else ''}"
        out.append(f'<text x="{x + 18:.0f}" y="{y + 11:.0f}" font-size="11">{name}</text>')
        x += 70
    out.append(f'<text x="6" y="{y + 32:.0f}" font-size="11">label: tiers (90 % interval); '
               "pale, dashed: a prior (not measured); north up</text>")  # fmt: skip
    if sun and sun.get("azimuth_deg") is not None:
        az = math.radians(float(sun["azimuth_deg"]))
        ux, uy = math.sin(az), -math.cos(az)  # towards the sun, y down
        r = 20.0
        x0, y0 = w - r - 10, h + legend_h / 2
        el = sun.get("elevation_deg")
        label = f"sun az {float(sun['azimuth_deg']):.0f}°" + (
            f", el {float(el):.0f}°" if el is not None else ""
        )
        out += [f'<circle cx="{x0:.1f}" cy="{y0:.1f}" r="{r + 3:.1f}" fill="#fff" stroke="#999"/>',
                f'<line x1="{x0 - ux * r:.1f}" y1="{y0 - uy * r:.1f}" x2="{x0 + ux * r:.1f}" '
                f'y2="{y0 + uy * r:.1f}" stroke="#d94801" stroke-width="2.5"/>',
                f'<circle cx="{x0 + ux * r:.1f}" cy="{y0 + uy * r:.1f}" r="4.5" fill="#fd8d3c"/>',
                f'<text x="{x0 - r - 8:.1f}" y="{y0 + 4:.1f}" font-size="11" text-anchor="end">'
                f"{escape(label)} (dot: the sun)</text>"]  # fmt: skip
    out.append("</svg>")
    return "\n".join(out)


def _bound(doc: dict) -> float:
    """At most how many deck stacks a scene's counts.json says any one ship holds (its ships'
    ``visible``); infinite when it does not say."""
    ships = doc.get("ships")
    if not isinstance(ships, list) or not ships:
        return math.inf
    try:
        return max(float(s["visible"]) for s in ships)
    except (KeyError, TypeError, ValueError):
        return math.inf


def deck_figure(det_dir: str | Path) -> DeckFigure | None:
    """The deck with the most detections among the scenes of ``det_dir`` detected with
    ``--heights shadow`` (None when there is none). Scenes are read in the order of the deck
    sizes their counts.json give, and no further once no remaining scene can hold a larger
    deck: a large run reads one or a few detection files, not all of them."""
    candidates = []
    for cp in sorted(Path(det_dir).glob("*.counts.json")):
        try:
            doc = json.loads(cp.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or (doc.get("settings") or {}).get("heights") != "shadow":
            continue
        candidates.append((_bound(doc), cp, doc))
    candidates.sort(key=lambda c: -c[0])  # stable: file order among equal bounds
    best: tuple[int, str, str, list[dict], dict | None] | None = None
    for bound, cp, doc in candidates:
        if best is not None and bound <= best[0]:
            break
        geo = cp.with_name(cp.name[: -len(".counts.json")] + ".detections.geojson")
        try:
            features = json.loads(geo.read_text()).get("features") or []
        except (OSError, ValueError, AttributeError):
            continue
        for ship, feats in _stacks(features).items():
            if best is None or len(feats) > best[0]:
                best = (len(feats), str(doc.get("scene") or cp.stem), ship, feats, doc.get("sun"))
    if best is None:
        return None
    n, scene, ship, feats, sun = best
    return DeckFigure(scene, ship, n, deck_svg(feats, sun))
