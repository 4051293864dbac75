"""Checks of a scene against what the model supports, before any tile is read.

- **GSD**: the scene's native ground sample distance must lie in the model's
  ``gsd_range_m`` (:class:`detector.model.weights.ModelMeta`; default
  :data:`detector.imagery.scene.DEFAULT_GSD_RANGE_M`). Outside it the scene fails with a
  one-line :class:`SceneRangeError`, unless ``force``: then it runs and the counts carry a
  warning.
- **Bands**: the count and kind of the file's bands (:func:`band_kind`) and those used; the
  model trained on RGB, so anything else is run with a warning.
- **Coverage**: the share of the scene's pixels that hold data (:func:`valid_share`), and of
  its footprint that is missing (:func:`gap_share`), with a warning over
  :data:`COVERAGE_WARN`; per AOI feature the share covered (:func:`aoi_coverage`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import SceneFormatError

__all__ = [
    "BAND_KINDS",
    "COVERAGE_WARN",
    "SceneRangeError",
    "SceneCheck",
    "band_kind",
    "OBSERVED_MIN",
    "aoi_coverage",
    "check_scene",
    "coverage_warning",
    "gap_share",
    "valid_share",
]

BAND_KINDS = ("panchromatic", "RGB", "RGBN", "other")
#: a scene with more than this share of its footprint missing gets a warning in its counts
COVERAGE_WARN = 0.02
#: an AOI feature (berth, pier, ...) with less than this share of its area on valid pixels
#: of a scene is "not observed" there: its count says nothing about whether it is empty
OBSERVED_MIN = 0.5


class SceneRangeError(SceneFormatError):
    """The scene lies outside what the model supports (e.g. its GSD)."""


@dataclass(frozen=True)
class SceneCheck:
    """What :func:`check_scene` found: ``band_kind`` one of :data:`BAND_KINDS`, the warnings
    (one line each) that go into counts.json's ``warnings``."""

    band_kind: str
    warnings: tuple[str, ...] = ()


def band_kind(scene) -> str:
    """``panchromatic`` (1 data band), ``RGB`` (3), ``RGBN`` (4: red, green, blue and near
    infrared, the usual 4-band product) or ``other``; alpha bands are not counted."""
    ci = tuple(scene.colorinterp) or ("undefined",) * scene.band_count
    data = [c for c in ci if c != "alpha"]
    n = len(data)
    if n == 1:
        return "panchromatic"
    if n == 3:
        return "RGB"
    if n == 4:
        return "RGBN"
    return "other"


def valid_share(scene) -> float:
    """Share 0..1 of the scene's pixels that hold data, from the open-time sample mask."""
    m = getattr(scene, "coarse_native", None)
    return 1.0 if m is None or not m.size else float(np.count_nonzero(m)) / m.size


def gap_share(scene) -> float:
    """Share 0..1 of the scene's footprint (its valid pixels with the holes in them filled)
    that is missing: dropouts, NaN, masked patches inside the imagery, as opposed to the
    nodata margin around a footprint that does not fill its raster."""
    from scipy.ndimage import binary_fill_holes

    m = getattr(scene, "coarse_native", None)
    if m is None or not m.any():
        return 0.0
    foot = binary_fill_holes(m)
    return float(np.count_nonzero(foot & ~m)) / float(np.count_nonzero(foot))


def coverage_warning(gaps: float) -> str | None:
    """The warning for a footprint with a share ``gaps`` missing, or None under
    :data:`COVERAGE_WARN`."""
    if gaps < COVERAGE_WARN:
        return None
    return (
        f"{gaps:.0%} of the imagery inside the scene's footprint is missing (nodata or NaN): "
        "small gaps were filled from their neighbours, containers under larger ones are not "
        "counted; see coverage and by_aoi covered/observed"
    )


def check_scene(
    scene, *, gsd_range_m: tuple[float, float], force: bool = False, model: str = "the model"
) -> SceneCheck:
    """Check ``scene`` (a :class:`detector.imagery.raster.Scene`) against the model.

    Raises :class:`SceneRangeError` (one line naming the file) for a GSD outside
    ``gsd_range_m`` unless ``force``; returns the band kind and the warnings.
    """
    lo, hi = (float(x) for x in gsd_range_m)
    notes: list[str] = []
    gsd = float(scene.gsd_m)
    if not lo <= gsd <= hi:
        why = (
            f"GSD {gsd:.3g} m per pixel is outside the range {lo:g}-{hi:g} m that {model} supports"
        )
        if not force:
            raise SceneRangeError(
                f"{scene.path}: {why}; resample the scene into that range, or pass --force to "
                "count anyway (with a warning)"
            )
        notes.append(f"{why}; counted anyway (--force): counts may be junk")
    kind = band_kind(scene)
    used = ",".join(map(str, scene.bands))
    if len(scene.bands) == 1:
        notes.append(
            f"band {used} of a {kind} scene was used as grey (repeated to RGB); the model was "
            "trained on RGB and finds fewer containers in grey imagery (~10 % fewer on "
            "synthetic scenes)"
        )
    elif kind not in ("RGB", "RGBN"):
        ci = tuple(scene.colorinterp)
        names = [ci[b - 1] if b - 1 < len(ci) else "undefined" for b in scene.bands]
        if names != ["red", "green", "blue"]:
            notes.append(
                f"bands {used} of a {scene.band_count}-band scene ({kind}) were used as red, "
                "green, blue; the model was trained on RGB: pick the RGB bands with --bands"
            )
    cov = coverage_warning(gap_share(scene))
    if cov:
        notes.append(cov)
    return SceneCheck(kind, tuple(notes))


def aoi_coverage(aoi_px, valid: np.ndarray, scale: float) -> dict[str, float]:
    """Share 0..1 of each AOI feature's area that lies on valid pixels of the scene.

    ``aoi_px``: :class:`detector.detect.locate.PixelAOI` features (model-frame pixels);
    ``valid`` bool [h, w] the coverage mask at ``scale`` model px per mask px
    (:meth:`detector.imagery.raster.SceneReader.coverage`). The share is the valid part of
    the mask cells the feature covers inside the scene, times the part of its area inside
    the scene (a feature off the scene's edge is 0).
    """
    from affine import Affine
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.features import rasterize
    from shapely.geometry import box

    h, w = valid.shape
    frame = box(0, 0, w * scale, h * scale)
    out: dict[str, float] = {}
    for f in aoi_px:
        poly = f.polygon
        area = poly.area
        inside = poly.intersection(frame).area / area if area > 0 else 0.0
        if inside <= 0:
            out[f.name] = 0.0
            continue
        cells = None
        for touched in (False, True):  # a feature smaller than a mask cell: cells it touches
            with warnings.catch_warnings():  # an identity transform (scale 1) is meant here
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                cells = rasterize([(poly, 1)], out_shape=(h, w), transform=Affine.scale(scale),
                              fill=0, all_touched=touched, dtype="uint8").astype(bool)  # fmt: skip
            if cells.any():
                break
        n = int(np.count_nonzero(cells))
        share = float(np.count_nonzero(valid & cells)) / n if n else 0.0
        out[f.name] = round(min(1.0, share * inside), 3)
    return out
