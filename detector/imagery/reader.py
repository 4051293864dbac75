"""Model-frame reading of a scene: :class:`SceneReader` and AOI rasterisation.

Re-exported by :mod:`detector.imagery.raster`; import from there.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from affine import Affine

from ..errors import ConfigError, SceneReadError
from .scene import (
    CANONICAL_GSD_M,
    Grid,
    Scene,
    TileImage,
    _quiet,
    _read_valid,
    _sample_shape,
    _short,
    utm_epsg,
)
from .stretch import apply_stretch

__all__ = ["SceneReader", "rasterize_aoi"]


class SceneReader:
    """Reads model-frame windows of one scene; a context manager holding one dataset handle.

    ``grid``: the model frame. Projected (or local-metre) scenes: native grid scaled by
    ``s = target_gsd_m / scene.gsd_m`` (size ``round(native / s)``). Geographic scenes: a
    GDAL WarpedVRT to the local UTM zone at ``target_gsd_m`` (bilinear).

    Thread safety: reads are serialised by a lock, so one prefetch thread may read while
    another thread computes (or reads) with the same reader.
    """

    def __init__(self, scene: Scene, *, target_gsd_m: float = CANONICAL_GSD_M):
        import rasterio
        from rasterio.errors import RasterioError

        if not (math.isfinite(target_gsd_m) and target_gsd_m > 0):
            raise ConfigError(f"target GSD must be a positive number of metres, got {target_gsd_m}")
        self.scene = scene
        self.target_gsd_m = float(target_gsd_m)
        self._lock = threading.Lock()
        self._coarse: tuple[np.ndarray, float] | None = None
        self._vrt = None
        with _quiet():
            try:
                self._src = rasterio.open(scene.path)
            except RasterioError as e:
                raise SceneReadError(f"{scene.path}: not a readable raster ({_short(e)})") from None
        if scene.crs is not None and scene.crs.is_geographic:
            self._init_warped()
        else:
            s = self.target_gsd_m / scene.gsd_m
            self._ds, self._s, self._kind = self._src, s, scene.mask_kind
            self.grid = Grid(
                width=max(1, round(scene.width / s)),
                height=max(1, round(scene.height / s)),
                transform=scene.transform @ Affine.scale(s),
                crs=scene.crs,
            )

    def _init_warped(self) -> None:
        from rasterio.crs import CRS
        from rasterio.enums import Resampling
        from rasterio.vrt import WarpedVRT
        from rasterio.warp import calculate_default_transform

        c = self.scene.footprint.centroid
        utm = CRS.from_epsg(utm_epsg(c.x, c.y))
        src = self._src
        transform, width, height = calculate_default_transform(
            src.crs, utm, src.width, src.height, *src.bounds, resolution=self.target_gsd_m
        )
        with _quiet():
            self._vrt = WarpedVRT(
                src, crs=utm, transform=transform, width=width, height=height,
                resampling=Resampling.bilinear, add_alpha=True,
            )  # fmt: skip
        self._ds, self._s, self._kind = self._vrt, 1.0, "mask"
        self.grid = Grid(width=width, height=height, transform=transform, crs=utm)

    # -- context manager -------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._vrt is not None:
                self._vrt.close()
            self._src.close()

    def __enter__(self) -> SceneReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------
    def _native_window(self, r0: int, c0: int, r1: int, c1: int):
        """Model-frame pixel box (inside the grid) -> native float window, clamped."""
        from rasterio.windows import Window

        s, ds = self._s, self._ds
        x0, y0 = min(c0 * s, ds.width - 1e-6), min(r0 * s, ds.height - 1e-6)
        x1, y1 = min(c1 * s, ds.width), min(r1 * s, ds.height)
        return Window(x0, y0, x1 - x0, y1 - y0)

    def read(self, window) -> TileImage:
        """The model-frame ``window`` (``row_off, col_off, height, width`` attributes, e.g.
        :class:`detector.imagery.tiling.Window` or a rasterio Window); parts outside the scene come
        back invalid and zero. Image bilinear, mask nearest."""
        from rasterio.enums import Resampling
        from rasterio.errors import RasterioError

        r0, c0 = int(window.row_off), int(window.col_off)
        h, w = int(window.height), int(window.width)
        if h < 1 or w < 1:
            raise ConfigError(f"read window must be at least 1 x 1 px, got {w} x {h}")
        image = np.zeros((3, h, w), dtype=np.float32)
        valid = np.zeros((h, w), dtype=bool)
        ir0, ic0 = max(r0, 0), max(c0, 0)
        ir1, ic1 = min(r0 + h, self.grid.height), min(c0 + w, self.grid.width)
        if ir1 <= ir0 or ic1 <= ic0:
            return TileImage(image, valid)
        oh, ow = ir1 - ir0, ic1 - ic0
        sel = self.scene.bands
        uniq = list(dict.fromkeys(sel))
        nwin = self._native_window(ir0, ic0, ir1, ic1)
        with self._lock:  # no warning/log filters here: they are process-global
            try:
                data = self._ds.read(
                    uniq, window=nwin, out_shape=(len(uniq), oh, ow),
                    resampling=Resampling.bilinear, out_dtype="float32",
                )  # fmt: skip
                v = _read_valid(self._ds, self._kind, sel, window=nwin, out_shape=(oh, ow))
            except RasterioError as e:
                raise SceneReadError(f"{self.scene.path}: read failed ({_short(e)})") from None
        data = data[[uniq.index(b) for b in sel]]
        v &= np.isfinite(data).all(axis=0)
        img = apply_stretch(data, self.scene.stretch)
        img[:, ~v] = 0.0
        if img.shape[0] == 1:
            img = np.repeat(img, 3, axis=0)
        image[:, ir0 - r0 : ir1 - r0, ic0 - c0 : ic1 - c0] = img
        valid[ir0 - r0 : ir1 - r0, ic0 - c0 : ic1 - c0] = v
        return TileImage(image, valid)

    def coarse_valid(self) -> tuple[np.ndarray, float]:
        """Valid-pixel mask of the model frame at <= ~1024 px a side, and its scale (model-frame
        px per mask px): mask[i, j] covers model rows ``[i*scale, (i+1)*scale)``. Conservative:
        a pixel next to a valid sample pixel counts as valid (the sample is nearest-decimated).
        """
        from rasterio.errors import RasterioError
        from scipy.ndimage import binary_dilation

        with self._lock:
            if self._coarse is None:
                m = self.scene.coarse_native
                if self._vrt is not None or m is None:
                    mh, mw = _sample_shape(self.grid.height, self.grid.width)
                    try:
                        m = _read_valid(self._ds, self._kind, self.scene.bands, out_shape=(mh, mw))
                    except RasterioError as e:
                        raise SceneReadError(
                            f"{self.scene.path}: read failed ({_short(e)})"
                        ) from None
                    scale = self.grid.height / mh
                else:
                    scale = self.scene.height / m.shape[0] / self._s
                m = binary_dilation(m, structure=np.ones((3, 3), bool))
                m.setflags(write=False)
                self._coarse = (m, float(scale))
            return self._coarse


def rasterize_aoi(polygons_lonlat, grid: Grid, *, scale: float = 1.0) -> np.ndarray:
    """Bool mask ``[ceil(H/scale), ceil(W/scale)]`` of ``grid`` pixels (at ``scale`` grid px per
    mask px) touched by any of the lon/lat polygons (projected with :func:`detector.imagery.aoi.project`;
    ``all_touched``)."""
    from rasterio.features import rasterize

    from .aoi import project

    if grid.crs is None:
        raise ConfigError("the scene has no CRS, so AOI polygons cannot be placed on it")
    shape = (max(1, math.ceil(grid.height / scale)), max(1, math.ceil(grid.width / scale)))
    geoms = [project(p, grid.crs) for p in polygons_lonlat if not p.is_empty]
    if not geoms:
        return np.zeros(shape, dtype=bool)
    out = rasterize(
        [(g, 1) for g in geoms], out_shape=shape, transform=grid.transform @ Affine.scale(scale),
        fill=0, all_touched=True, dtype="uint8",
    )  # fmt: skip
    return out.astype(bool)
