"""The photo family's ground: procedural asphalt, concrete, grass, soil, ballast and water.

The classic composer's ground areas (:class:`~detector.synth.record.Ground`, in note order,
later ones on top) become a per-pixel material map; each material is then surfaced here:
asphalt with aggregate grain, oil stains, repairs, tyre marks and cracks; concrete in slabs
with joints along the yard axis, tone per slab and stains; worn painted lines (the noted
markings plus lane lines of this family's own); water as a wave-slope field that the
lighting turns into facet shading and sun glint. Colours are albedo, lit later.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..record import Ground
from .photo_look import PhotoLook, fbm

__all__ = ["GROUND_KINDS", "ground_albedo"]

#: Ground material codes (index); unknown noted kinds are drawn as concrete.
GROUND_KINDS: tuple[str, ...] = (
    "concrete", "water", "asphalt", "grass", "soil", "marking", "ballast", "rail", "fender",
    "foam",
)  # fmt: skip
_CODE = {k: i for i, k in enumerate(GROUND_KINDS)}


def _strokes(rng, shape, g: float, n: int, axis: float, length_m, width_m, wiggle: float):
    """float32 [H, W] 0..1 of ``n`` smooth random strokes (tyre marks, cracks)."""
    h, w = shape
    out = np.zeros((h, w), np.float32)
    for _ in range(int(n)):
        p = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        ang = axis + rng.choice([0.0, np.pi / 2, np.pi, -np.pi / 2]) + rng.normal(0, 0.15)
        steps = int(max(rng.uniform(*length_m) / g / 3.0, 2))
        pts = [p.copy()]
        for _ in range(steps):
            ang += rng.normal(0, wiggle)
            p = p + 3.0 * np.array([np.cos(ang), np.sin(ang)])
            pts.append(p.copy())
        arr = np.round(np.array(pts) * 16).astype(np.int32)[None]
        th = max(int(round(rng.uniform(*width_m) / g)), 1)
        cv2.polylines(out, arr, False, float(rng.uniform(0.5, 1.0)), th, cv2.LINE_AA, 4)
    return out


def _cells(rng, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 uniform 0..1, one value per unit cell of the coordinates (a, b)."""
    ia, ib = np.floor(a).astype(np.int32), np.floor(b).astype(np.int32)
    ia -= ia.min()
    ib -= ib.min()
    table = rng.random((int(ia.max()) + 1, int(ib.max()) + 1)).astype(np.float32)
    return table[ia, ib]


def ground_albedo(
    shape: tuple[int, int], g: float, notes: list, look: PhotoLook, rng: np.random.Generator
):
    """Albedo of the ground. Returns (rgb float32 [H, W, 3], code uint8 [H, W] index into
    :data:`GROUND_KINDS`, wave slope float32 [H, W, 2] (d height / d x, d y; 0 off water))."""
    h, w = shape
    code = np.zeros((h, w), np.uint8)
    for item in notes:
        if isinstance(item, Ground):
            item.paste(code, _CODE.get(item.kind, 0))
    base = np.stack([look.ground_rgb(k) for k in GROUND_KINDS]).astype(np.float32)
    rgb = base[code]
    coarse = fbm(rng, shape, 18.0 / g, 3)
    mid = fbm(rng, shape, 3.0 / g, 3)
    grain = rng.standard_normal((h, w), dtype=np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    ca, sa = float(np.cos(look.axis_rad)), float(np.sin(look.axis_rad))  # weak scalars: float32
    along, across = (xs * ca + ys * sa) * g, (-xs * sa + ys * ca) * g  # metres, yard frame
    wear = look.weathering
    tone = 1.0 + 0.12 * coarse + 0.06 * mid

    paved = (code == _CODE["asphalt"]) | (code == _CODE["concrete"])
    asphalt = code == _CODE["asphalt"]
    concrete = code == _CODE["concrete"]
    # concrete slabs: tone per slab, dark joints
    p1, p2 = rng.uniform(4.0, 7.5), rng.uniform(4.0, 7.5)
    slab = 1.0 + 0.1 * (_cells(rng, along / p1, across / p2) - 0.5) * (0.5 + wear)
    jw = max(0.12, 0.35 * g)
    joint = (np.minimum(along % p1, p1 - along % p1) < jw / 2) | (
        np.minimum(across % p2, p2 - across % p2) < jw / 2
    )
    one = np.float32(1.0)
    f = np.where(concrete, slab * np.where(joint, np.float32(0.8), one) + 0.03 * grain, one)
    f = np.where(asphalt, 1.0 + 0.07 * grain + 0.05 * mid, f)
    # repairs on asphalt: rectangles a little lighter or darker
    rep = _cells(rng, along / 9.0, across / 5.0)
    f = np.where(asphalt & (rep > 0.93 - 0.05 * wear), f * np.float32(rng.uniform(0.8, 1.25)), f)
    # stains (oil, rust water) and tyre marks, cracks: paved only
    stain = np.clip((fbm(rng, shape, 2.5 / g, 3) - (1.1 - 0.5 * wear)) * 3.0, 0, 1)
    tyres = _strokes(
        rng, shape, g, rng.integers(0, 14), look.axis_rad, (20, 90), (0.25, 0.45), 0.02
    )
    tyres = cv2.GaussianBlur(tyres, (0, 0), max(0.2 / g, 0.4))
    cracks = _strokes(
        rng, shape, g, rng.integers(0, 25), rng.uniform(0, 6.3), (3, 25), (0.05, 0.1), 0.5
    )
    dark = 1.0 - 0.35 * stain - 0.25 * tyres * (0.5 + wear) - 0.35 * np.minimum(cracks, 1)
    f = np.where(paved, f * dark, f)
    f = np.where(code == _CODE["ballast"], 1.0 + 0.22 * grain, f)
    green = (code == _CODE["grass"]) | (code == _CODE["soil"])
    f = np.where(green, 1.0 + 0.2 * mid + 0.1 * grain, f)
    rgb = rgb * (tone * f)[..., None]
    # worn paint: noted markings plus lane lines of our own on paved ground
    paint = (code == _CODE["marking"]).astype(np.float32)
    if rng.random() < 0.6:
        sp, lw = rng.uniform(12.0, 30.0), rng.uniform(0.12, 0.2)
        lines = np.minimum(across % sp, sp - across % sp) < lw / 2
        if rng.random() < 0.5:  # dashed
            lines &= (along % 6.0) < 3.0
        soft = cv2.GaussianBlur(lines.astype(np.float32), (0, 0), 0.5)
        paint = np.maximum(paint, soft * paved)
    worn = np.clip(0.85 - 0.6 * wear + 0.6 * fbm(rng, shape, 1.0 / g, 2), 0.15, 1.0)
    a = (paint * worn)[..., None]
    under = np.where(paint[..., None] > 0.5, look.ground_rgb("asphalt") * tone[..., None], rgb)
    rgb = under * (1 - a) + look.marking_rgb * a
    # water: waves as a slope field (dh/dx, dh/dy in m per m)
    slope = np.zeros((h, w, 2), np.float32)
    water = code == _CODE["water"]
    if water.any():  # wind waves (a few trains, modulated in groups) and ripples
        wy, wx = np.nonzero(water)
        px, py = wx.astype(np.float32) * np.float32(g), wy.astype(np.float32) * np.float32(g)
        wind = rng.uniform(0, 2 * np.pi)
        calm = rng.uniform(0.2, 1.0)
        group = np.clip(0.6 + 0.6 * fbm(rng, shape, 25.0 / g, 2)[water], 0, 1.5)
        warp = 2.0 * mid[water]
        sx = np.zeros(len(wy), np.float32)
        sy = np.zeros(len(wy), np.float32)
        for _ in range(4):
            lam = max(rng.uniform(1.5, 10.0), 3.0 * g)
            d = wind + rng.normal(0, 0.5)
            cd, sd = float(np.cos(d)), float(np.sin(d))
            k = 2 * np.pi / lam
            amp = float(calm * rng.uniform(0.01, 0.05) * np.sinc(g / lam))
            ph = (k * cd) * px + (k * sd) * py + rng.uniform(0, 2 * np.pi) + warp
            wave = -amp * np.sin(ph) * group
            sx += wave * cd
            sy += wave * sd
        rip = fbm(rng, shape, max(0.8 / g, 1.0), 2)
        gy, gx = np.gradient(rip)
        k = float(0.02 * calm * 4 / max(0.8 / g, 1.0))
        slope[wy, wx, 0] = sx + k * gx[water]
        slope[wy, wx, 1] = sy + k * gy[water]
    return np.clip(rgb, 0, 1).astype(np.float32), code, slope
