"""Writing GeoTIFFs (scenes, fixtures, quicklooks): tiled or striped, compressed, overviews.

Re-exported by :mod:`detector.imagery.raster`; this is the only place that creates raster files.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from .._io import atomic_path
from ..errors import ConfigError

__all__ = ["write_geotiff"]


def write_geotiff(
    path: str | os.PathLike,
    array: np.ndarray,
    *,
    transform,
    crs,
    nodata: float | None = None,
    tags: Mapping[str, object] | None = None,
    blocksize: int = 256,
    tiled: bool = True,
    overviews: Sequence[int] = (2, 4, 8),
    compress: str | None = "deflate",
    photometric: str | None = None,
    bigtiff: bool = False,
    alpha: bool = False,
    mask: np.ndarray | None = None,
    colorinterp: Sequence[str] | None = None,
) -> None:
    """Write ``array`` ``[bands, H, W]`` (or ``[H, W]``) as a GeoTIFF, atomically.

    - dtype is kept (uint8, uint16 for 11-16-bit data, int16, float32...).
    - ``tiled``: internal ``blocksize`` x ``blocksize`` tiles; otherwise strips (GDAL default
      rows per strip). ``compress``: "deflate" (predictor 2 for integers), "lzw", None...
    - ``overviews``: decimation factors built with average resampling; factors that would
      make an overview smaller than 1 px are skipped; ``()`` for none.
    - ``tags``: dataset tags, e.g. ``{"TIFFTAG_DATETIME": "2023:09:02 02:12:00",
      "ACQUISITION_TIME": "2023-09-02T02:12:00Z"}`` (values stringified).
    - ``alpha``: the last band is an alpha band (0 = transparent); ``mask``: bool ``[H, W]``
      written as an internal per-dataset mask (True = valid).
    - ``photometric``: e.g. "RGB" (3+ bands, uint8) or "MINISBLACK"; ``colorinterp``: names
      per band ("red", "green", "blue", "nir"→"undefined", "alpha", "gray").
    - ``crs`` None writes an ungeoreferenced file (transform still written if given).
    """
    import rasterio
    from rasterio.enums import ColorInterp, Resampling
    from rasterio.errors import NotGeoreferencedWarning

    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or min(arr.shape) < 1:
        raise ConfigError(
            f"{path}: array must be [bands, H, W] with no empty axis, got {arr.shape}"
        )
    bands, height, width = arr.shape
    if tiled and (blocksize < 16 or blocksize % 16):
        raise ConfigError(f"{path}: blocksize {blocksize} must be a positive multiple of 16")
    if mask is not None and np.shape(mask) != (height, width):
        raise ConfigError(f"{path}: mask shape {np.shape(mask)} != raster shape {(height, width)}")
    profile: dict[str, object] = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": bands,
        "dtype": arr.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "interleave": "pixel",
        "BIGTIFF": "YES" if bigtiff else "NO",
    }
    if tiled:
        profile.update(tiled=True, blockxsize=blocksize, blockysize=blocksize)
    if compress:
        profile["compress"] = compress
        if compress.lower() in ("deflate", "lzw", "zstd"):
            profile["predictor"] = 3 if arr.dtype.kind == "f" else 2
    if photometric:
        profile["photometric"] = photometric
    if alpha:
        profile["alpha"] = "YES"  # GDAL creation option: last band gets ExtraSamples=alpha
    factors = [int(f) for f in overviews if int(f) > 1 and min(height, width) // int(f) >= 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with (
            atomic_path(path) as tmp,
            rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True),
            rasterio.open(tmp, "w", **profile) as dst,
        ):
            dst.write(arr)
            if mask is not None:
                dst.write_mask(np.where(np.asarray(mask, dtype=bool), 255, 0).astype(np.uint8))
            if colorinterp is not None:
                names = {"nir": "undefined"}
                dst.colorinterp = [ColorInterp[names.get(c, c)] for c in colorinterp]
            elif alpha:
                ci = list(dst.colorinterp)
                ci[-1] = ColorInterp.alpha
                dst.colorinterp = ci
            if tags:
                dst.update_tags(**{str(k): str(v) for k, v in tags.items()})
            if factors:
                dst.build_overviews(factors, Resampling.average)
                dst.update_tags(ns="rio_overview", resampling="average")
