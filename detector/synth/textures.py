"""Procedural noise and ground materials (water, concrete, asphalt, ballast, grass, deck steel).

Every function returns float32 arrays; colour images are [H, W, 3] linear reflectance in
0..1 (R, G, B), pixel grid = the render grid at ``gsd_m`` metres per pixel. Sizes of texture
features are given in metres and converted with ``gsd_m`` so a texture looks the same at any
GSD. All randomness comes from the ``rng`` argument.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "MATERIALS",
    "fbm",
    "grain",
    "local_uv",
    "material",
    "stripes",
]

MATERIALS = ("water", "concrete", "asphalt", "ballast", "grass", "soil", "deck")


def fbm(
    rng: np.random.Generator,
    shape: tuple[int, int],
    cell_px: float,
    octaves: int = 3,
    persistence: float = 0.5,
) -> np.ndarray:
    """Fractal value noise, float32 [H, W], roughly zero mean and unit standard deviation.

    ``cell_px`` is the size of the coarsest features in pixels; each further octave halves it.
    """
    h, w = shape
    out = np.zeros((h, w), np.float32)
    amp, total, cell = 1.0, 0.0, max(float(cell_px), 1.0)
    for _ in range(octaves):
        gh, gw = max(int(h / cell) + 2, 2), max(int(w / cell) + 2, 2)
        grid = rng.standard_normal((gh, gw)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp * amp
        amp *= persistence
        cell /= 2.0
        if cell < 1.0:
            break
    return out / np.float32(np.sqrt(total) * 0.8)


def grain(rng: np.random.Generator, shape) -> np.ndarray:
    """Fine white noise, float32 of ``shape``, zero mean, unit variance (uniform: cheaper
    than Gaussian and indistinguishable once blurred)."""
    out = rng.random(shape, dtype=np.float32)
    out -= np.float32(0.5)
    out *= np.float32(3.4641016)
    return out


def local_uv(shape: tuple[int, int], theta_rad: float, origin_xy=(0.0, 0.0)) -> tuple:
    """Per-pixel coordinates (u along direction ``theta_rad``, v across), float32 [H, W] each.

    Pixel centres are at +0.5; ``theta_rad`` is measured from +x towards +y (image frame).
    """
    h, w = shape
    c, s = np.float32(np.cos(theta_rad)), np.float32(np.sin(theta_rad))
    x = np.arange(w, dtype=np.float32) + np.float32(0.5 - origin_xy[0])
    y = np.arange(h, dtype=np.float32)[:, None] + np.float32(0.5 - origin_xy[1])
    return x * c + y * s, y * c - x * s


def stripes(coord: np.ndarray, period_px: float, width_px: float, offset_px: float = 0.0):
    """Soft 0..1 mask of lines ``width_px`` wide every ``period_px`` along ``coord``."""
    d = np.abs(((coord - offset_px + period_px / 2) % period_px) - period_px / 2)
    return np.clip(width_px / 2 + 0.5 - d, 0.0, 1.0).astype(np.float32)


def _tint(rgb, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(rgb, np.float32), (*shape, 3)).copy()


def material(
    rng: np.random.Generator,
    shape: tuple[int, int],
    kind: str,
    gsd_m: float,
    theta_rad: float = 0.0,
) -> np.ndarray:
    """A ground texture of one material, float32 [H, W, 3] in 0..1.

    ``theta_rad`` orients directional structure (slab joints, waves, furrows).
    """
    h, w = shape
    g = float(gsd_m)
    if kind == "water":
        return _water(rng, shape, g, theta_rad)
    if kind == "concrete":
        base = rng.uniform(0.48, 0.74)
        warm = rng.uniform(-0.03, 0.04)
        img = _tint((base + warm, base + warm * 0.3, base - warm), shape)
        stain = fbm(rng, shape, 25.0 / g, 4)
        img *= (1.0 + rng.uniform(0.04, 0.12) * stain)[..., None]
        fine = grain(rng, shape) * np.float32(rng.uniform(0.01, 0.035))
        img += fine[..., None]
        if rng.random() < 0.8:  # slab joints
            u, v = local_uv(shape, theta_rad, rng.uniform(0, 100, 2))
            p = rng.uniform(4.0, 9.0) / g
            joints = np.maximum(stripes(u, p, 0.6), stripes(v, p * rng.uniform(0.6, 1.4), 0.6))
            img *= (1.0 - rng.uniform(0.03, 0.14) * joints)[..., None]
        if rng.random() < 0.6:  # oil and rust stains
            blot = fbm(rng, shape, 6.0 / g, 3)
            img *= (1.0 - rng.uniform(0.08, 0.3) * np.clip(blot - 1.6, 0, 1))[..., None]
        return np.clip(img, 0, 1)
    if kind == "asphalt":
        base = rng.uniform(0.14, 0.34)
        img = _tint((base, base, base * rng.uniform(0.98, 1.08)), shape)
        img *= (1.0 + rng.uniform(0.03, 0.1) * fbm(rng, shape, rng.uniform(8.0, 30.0) / g, 4))[
            ..., None
        ]
        img += (grain(rng, shape) * np.float32(0.02))[..., None]
        if rng.random() < 0.5:  # patched repairs: blocky lighter/darker areas
            patch = cv2.resize(
                (rng.random((max(h // 30, 2), max(w // 30, 2))) < 0.25).astype(np.float32),
                (w, h),
                interpolation=cv2.INTER_NEAREST,
            )
            img *= (1.0 + rng.uniform(-0.25, 0.3) * patch)[..., None]
        return np.clip(img, 0, 1)
    if kind == "ballast":
        base = rng.uniform(0.3, 0.45)
        img = _tint((base * 1.05, base, base * 0.92), shape)
        img += (grain(rng, shape) * np.float32(0.05))[..., None]
        img *= (1.0 + 0.1 * fbm(rng, shape, 8.0 / g, 3))[..., None]
        return np.clip(img, 0, 1)
    if kind == "grass":
        img = _tint(
            (rng.uniform(0.12, 0.25), rng.uniform(0.22, 0.35), rng.uniform(0.08, 0.15)), shape
        )
        img *= (1.0 + 0.25 * fbm(rng, shape, 10.0 / g, 4))[..., None]
        return np.clip(img, 0, 1)
    if kind == "soil":
        b = rng.uniform(0.3, 0.5)
        img = _tint((b, b * 0.85, b * 0.65), shape)
        img *= (1.0 + 0.15 * fbm(rng, shape, 12.0 / g, 4))[..., None]
        return np.clip(img, 0, 1)
    if kind == "deck":
        palette = np.array(
            [
                (0.42, 0.18, 0.13),
                (0.2, 0.33, 0.24),
                (0.4, 0.41, 0.4),
                (0.3, 0.3, 0.32),
                (0.5, 0.3, 0.2),
            ],
            np.float32,
        )
        img = _tint(palette[rng.integers(len(palette))] * rng.uniform(0.8, 1.2), shape)
        img *= (1.0 + 0.12 * fbm(rng, shape, 6.0 / g, 4))[..., None]
        rust = np.clip(fbm(rng, shape, 3.0 / g, 3) - 1.0, 0, 1)
        img = img * (1 - 0.5 * rust[..., None]) + 0.5 * rust[..., None] * np.float32(
            (0.45, 0.25, 0.13)
        )
        return np.clip(img, 0, 1)
    raise ValueError(f"unknown material {kind!r}; expected one of {MATERIALS}")


def _water(rng: np.random.Generator, shape, g: float, theta_rad: float) -> np.ndarray:
    """Sea water: dark blue/green/grey base, wind waves along ``theta_rad``, sparse glint."""
    palette = np.array(
        [
            (0.05, 0.09, 0.13),
            (0.07, 0.12, 0.14),
            (0.1, 0.14, 0.13),
            (0.13, 0.16, 0.17),
            (0.12, 0.13, 0.1),
        ],
        np.float32,
    )
    base = palette[rng.integers(len(palette))] * rng.uniform(0.7, 1.5)
    img = _tint(base, shape)
    u, v = local_uv(shape, theta_rad)
    wl = rng.uniform(2.0, 9.0) / g
    phase = fbm(rng, shape, 20.0 / g, 2) * 2.5
    waves = np.sin(u * np.float32(2 * np.pi / wl) + phase) * (
        0.5 + 0.5 * fbm(rng, shape, wl * 1.5, 2)
    )
    waves += 0.5 * np.sin((u * 0.6 + v * 0.8) * np.float32(2 * np.pi / (wl * 0.7)))
    amp = rng.uniform(0.03, 0.15)
    img *= (1.0 + amp * waves + 0.08 * fbm(rng, shape, 40.0 / g, 3))[..., None]
    if rng.random() < 0.4:  # sun glint on wave crests
        glint = np.clip(waves - rng.uniform(1.2, 1.6), 0, 1) * rng.uniform(0.05, 0.25)
        img += glint[..., None]
    return np.clip(img, 0, 1)
