"""One labelled training patch (:class:`TrainingSample`) and the crop every rendering family
ends with (:func:`crop_sample`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..detections import Detections

__all__ = ["TrainingSample", "crop_sample"]


@dataclass(frozen=True)
class TrainingSample:
    """One patch. ``image`` float32 [3, H, W] RGB 0..1; ``containers`` the visible stack
    tops in patch pixels at ``out_gsd_m`` (``tiers`` = stack height, ``score`` 1); masks
    bool [H, W]. ``native_gsd_m`` is the GSD it was drawn at; the sun is the one that cast
    its shadows."""

    image: np.ndarray
    containers: Detections
    hull_mask: np.ndarray
    bridge_mask: np.ndarray
    native_gsd_m: float
    out_gsd_m: float
    sun_elevation_deg: float
    sun_azimuth_deg: float
    setting: str


def crop_sample(
    image, tops: Detections, hull, bridge, *, margin_px: int, size_px: int,
    native_gsd_m: float, out_gsd_m: float, sun: tuple[float, float], setting: str,
) -> TrainingSample:  # fmt: skip
    """The :class:`TrainingSample` inside a render's margin: ``image`` [H, W, 3] and the
    masks [H, W] at the output GSD, ``tops`` in the same pixels; ``sun`` (elevation,
    azimuth) in degrees. Every rendering family ends here."""
    m, s = int(margin_px), int(size_px)
    dets = tops.shifted(-m, -m)
    dets = dets.select((dets.cx >= 0) & (dets.cx < s) & (dets.cy >= 0) & (dets.cy < s))
    return TrainingSample(
        image=np.ascontiguousarray(
            image[m : m + s, m : m + s].transpose(2, 0, 1), dtype=np.float32
        ),
        containers=dets,
        hull_mask=np.ascontiguousarray(hull[m : m + s, m : m + s]),
        bridge_mask=np.ascontiguousarray(bridge[m : m + s, m : m + s]),
        native_gsd_m=native_gsd_m,
        out_gsd_m=float(out_gsd_m),
        sun_elevation_deg=sun[0],
        sun_azimuth_deg=sun[1],
        setting=setting,
    )
