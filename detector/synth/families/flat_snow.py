"""Winter in the flat family: snow and sea ice as flat, hard-edged cells.

Designed apart from the classic snow (:mod:`detector.synth.weather`, smooth fractal patches
blended into textured surfaces): here the ground is cut into Voronoi cells 8-40 m across,
each bare or snowed in one flat tone (fresh white or trodden grey, roads cleared more often);
roofs - containers, sheds, hatch covers, vehicles - are snowed per coarser cell, so some
blocks are white and others bare, each snowed roof keeping a bare rim of its own colour; sea
ice is Voronoi floes with open leads between them. :func:`draw_flat
<detector.synth.families.flat_draw.draw_flat>` casts its hard shadows afterwards, so snow in
shade takes the style's (often bluish) shadow colour. Every draw comes from the winter
stream handed in, so a sample's layout and look stay as without snow.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import cKDTree

from ...errors import ConfigError

__all__ = ["FlatWinter", "RoofSnow", "ground_code", "roof_snow", "snow_ground"]

#: Ground kinds (:class:`detector.synth.record.Ground`) that hold snow; roads clear faster.
_SNOWY = ("concrete", "grass", "soil", "ballast", "marking")
_SNOWY_GROUND, _ROAD, _WATER = 1, 2, 3


@dataclass(frozen=True)
class FlatWinter:
    """Snow ``cover`` 0..1 of one sample or scene and the random stream its cells and
    tones are drawn from (its own, never the look's); ``deep``: every roof snowed edge to
    edge (no bare rim, so boxes end to end show no joint)."""

    cover: float
    rng: np.random.Generator
    deep: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.cover) <= 1.0:
            raise ConfigError(f"flat snow cover {self.cover} must be between 0 and 1")


@dataclass(frozen=True)
class RoofSnow:
    """Per part: ``snowed`` bool [N], ``scale`` float [N] of the snowed polygon about the
    roof's centre (the rest of the roof stays bare), ``rgb`` float32 [N, 3]."""

    snowed: np.ndarray
    scale: np.ndarray
    rgb: np.ndarray

    def polygon(self, i: int, roof_xy: np.ndarray) -> np.ndarray:
        """The snowed part of roof ``i`` (its polygon shrunk about its centre)."""
        c = roof_xy.mean(axis=0)
        return c + (roof_xy - c) * float(self.scale[i])


def _tone(rng: np.random.Generator, v_lo: float, v_hi: float) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(0.55, 0.62), rng.uniform(0.0, 0.1), 1.0)
    return np.float32((r, g, b)) * np.float32(rng.uniform(v_lo, v_hi))


def _voronoi(shape: tuple[int, int], cell_px: float, rng: np.random.Generator) -> np.ndarray:
    """int32 [H, W]: the label (1..K) of each pixel's nearest of K random seed points."""
    h, w = shape
    k = max(int(round(h * w / max(cell_px, 1.0) ** 2)), 1)
    src = np.ones((h, w), np.uint8)
    src[rng.integers(0, h, k), rng.integers(0, w, k)] = 0
    _, labels = cv2.distanceTransformWithLabels(
        src, cv2.DIST_L2, cv2.DIST_MASK_PRECISE, labelType=cv2.DIST_LABEL_PIXEL
    )
    return labels


def ground_code(kind: str) -> int:
    """How a ground ``kind`` takes snow: 1 snowy ground, 2 road, 3 water, 0 none (rails,
    fenders, foam)."""
    return {"asphalt": _ROAD, "water": _WATER}.get(kind, _SNOWY_GROUND if kind in _SNOWY else 0)


def snow_ground(rgb: np.ndarray, ground: np.ndarray, gsd_m: float, winter: FlatWinter) -> None:
    """Snow and ice on the ground, in place: ``ground`` uint8 [H, W] the :func:`ground_code`
    of what lies at each pixel."""
    cover, rng = float(winter.cover), winter.rng
    if cover == 0.0:
        return
    water = ground == _WATER
    cells = _voronoi(rgb.shape[:2], rng.uniform(8.0, 40.0) / gsd_m, rng)
    n = int(cells.max()) + 1
    u = rng.random(n)
    fresh, trodden = _tone(rng, 0.88, 0.98), _tone(rng, 0.55, 0.78)
    grey = rng.random(n) < rng.uniform(0.1, 0.5)  # trodden cells
    on_land = (u < cover)[cells] & (ground == _SNOWY_GROUND)
    on_road = (u < 0.6 * cover)[cells] & (ground == _ROAD)
    hit = on_land | on_road
    rgb[hit] = np.where(grey[cells[hit]][:, None], trodden, fresh)
    if not water.any() or rng.random() >= 0.7:
        return
    floes = _voronoi(rgb.shape[:2], rng.uniform(5.0, 30.0) / gsd_m, rng)
    on = (rng.random(int(floes.max()) + 1) < 0.7 * cover)[floes]
    edge = np.zeros_like(on)  # leads: floe borders stay open water
    edge[:, 1:] |= floes[:, 1:] != floes[:, :-1]
    edge[1:, :] |= floes[1:, :] != floes[:-1, :]
    lead = int(rng.integers(0, 3))
    if lead:
        edge = cv2.dilate(edge.astype(np.uint8), np.ones((lead, lead), np.uint8)) > 0
    ice = on & ~edge & water
    rgb[ice] = _tone(rng, 0.6, 0.8)


def roof_snow(centres_xy: np.ndarray, gsd_m: float, winter: FlatWinter) -> RoofSnow:
    """Which of N roofs (centres float [N, 2] render px) are snowed, how far and in what
    tone: per Voronoi cell 15-60 m across, with chance ``min(1, 1.2 * cover)``."""
    n = len(centres_xy)
    cover, rng = float(winter.cover), winter.rng
    if cover == 0.0 or n == 0:
        return RoofSnow(np.zeros(n, bool), np.ones(n), np.zeros((n, 3), np.float32))
    lo, hi = centres_xy.min(axis=0), centres_xy.max(axis=0)
    span = np.maximum(hi - lo, 1.0)
    cell = rng.uniform(15.0, 60.0) / gsd_m
    k = max(int(round(span[0] * span[1] / cell**2)), 1)
    seeds = lo + rng.random((k, 2)) * span
    nearest = cKDTree(seeds).query(centres_xy)[1]
    snowed = (rng.random(k) < min(1.0, 1.2 * cover))[nearest] & (rng.random(n) < 0.9)
    fresh = _tone(rng, 0.88, 0.98)
    rgb = fresh * rng.uniform(0.92, 1.03, (n, 1)).astype(np.float32)
    scale = rng.uniform(0.55, 0.95, n)
    if winter.deep:  # one fresh tone over every roof
        snowed, scale, rgb = np.ones(n, bool), np.ones(n), np.broadcast_to(fresh, (n, 3))
    return RoofSnow(snowed, scale, np.clip(rgb, 0, 1))
