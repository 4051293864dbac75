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

__all__ = ["GAP_FILL_MAX_PX", "SceneReader", "fill_gaps", "rasterize_aoi"]

#: invalid (nodata, NaN) patches of at most this many pixels (4-connected) inside a read
#: window are gaps, filled from their neighbours; larger ones are missing imagery
GAP_FILL_MAX_PX = 64


def fill_gaps(
    image: np.ndarray, valid: np.ndarray, *, max_px: int = GAP_FILL_MAX_PX
) -> tuple[np.ndarray, np.ndarray]:
    """Fill small gaps of a window: ``image`` float32 [C, h, w] (0 where invalid), ``valid``
    bool [h, w]. Each 4-connected invalid patch of at most ``max_px`` pixels that does not
    touch the window's edge (it may go on beyond it) takes the mean of the valid pixels in a
    5 x 5 box around each of its pixels (repeated for patches wider than that), and becomes
    valid. Scattered dropouts (NaN or nodata pixels, a few per cent to a third of a scene)
    otherwise leave the model a salt-and-pepper image in which it finds no container at all.
    Returns ``(image, valid)``, the inputs themselves when there is nothing to fill."""
    import cv2

    if valid.all() or not valid.any():
        return image, valid
    n, lab, stats, _ = cv2.connectedComponentsWithStats((~valid).astype(np.uint8), connectivity=4)
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    hh, ww = valid.shape
    small = (stats[:, cv2.CC_STAT_AREA] <= max_px) & (x > 0) & (y > 0)
    small &= (x + w < ww) & (y + h < hh)
    small[0] = False  # label 0: the valid pixels
    gap = small[lab]
    if not gap.any():
        return image, valid
    image, have = image.copy(), valid.copy()
    while True:
        todo = gap & ~have
        if not todo.any():
            break
        wgt = cv2.blur(have.astype(np.float32), (5, 5), borderType=cv2.BORDER_CONSTANT)
        take = todo & (wgt > 0)
        for c in range(image.shape[0]):
            num = cv2.blur(image[c] * have, (5, 5), borderType=cv2.BORDER_CONSTANT)
            image[c][take] = num[take] / wgt[take]
        have |= take
    return image, valid | gap


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
        self._raw: tuple[np.ndarray, float] | None = None
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
                if self._vrt is None and self._s != 1.0 and np.isnan(data).any():
                    data, v = self._read_nan_gaps(uniq, nwin, (oh, ow))
            except RasterioError as e:
                raise SceneReadError(f"{self.scene.path}: read failed ({_short(e)})") from None
        data = data[[uniq.index(b) for b in sel]]
        v &= np.isfinite(data).all(axis=0)
        img = apply_stretch(data, self.scene.stretch)
        img[:, ~v] = 0.0
        img, v = fill_gaps(img, v)
        if img.shape[0] == 1:
            img = np.repeat(img, 3, axis=0)
        image[:, ir0 - r0 : ir1 - r0, ic0 - c0 : ic1 - c0] = img
        valid[ir0 - r0 : ir1 - r0, ic0 - c0 : ic1 - c0] = v
        return TileImage(image, valid)

    def _read_nan_gaps(self, uniq, nwin, out_shape) -> tuple[np.ndarray, np.ndarray]:
        """A window of a scene with NaN pixels, resampled to ``out_shape`` after its gaps are
        filled at native resolution (:func:`fill_gaps`): GDAL's bilinear resampling spreads
        each NaN to its neighbours (it skips nodata, not NaN), turning scattered dropouts
        into a scene of holes. Bilinear (OpenCV) over the same window; mask nearest. Call
        with the lock held."""
        import cv2
        from rasterio.windows import Window

        ds = self._ds
        c0, r0 = math.floor(nwin.col_off), math.floor(nwin.row_off)
        c1 = min(math.ceil(nwin.col_off + nwin.width), ds.width)
        r1 = min(math.ceil(nwin.row_off + nwin.height), ds.height)
        win = Window(c0, r0, c1 - c0, r1 - r0)
        raw = ds.read(uniq, window=win, out_dtype="float32")
        vn = _read_valid(ds, self._kind, self.scene.bands, window=win, out_shape=raw.shape[1:])
        vn &= np.isfinite(raw).all(axis=0)
        raw[:, ~vn] = 0.0
        raw, vn = fill_gaps(raw, vn)
        oh, ow = out_shape
        sx, sy = nwin.width / ow, nwin.height / oh
        m = np.array([[sx, 0, nwin.col_off - c0 + 0.5 * sx - 0.5],
                      [0, sy, nwin.row_off - r0 + 0.5 * sy - 0.5]], np.float64)  # fmt: skip
        flags = cv2.WARP_INVERSE_MAP
        data = np.stack([
            cv2.warpAffine(b, m, (ow, oh), flags=cv2.INTER_LINEAR | flags,
                           borderMode=cv2.BORDER_REPLICATE)
            for b in raw
        ])  # fmt: skip
        v = cv2.warpAffine(vn.astype(np.uint8), m, (ow, oh), flags=cv2.INTER_NEAREST | flags,
                           borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        return data, v.astype(bool)

    def mask_scale(self) -> float:
        """Model-frame px per pixel of the :meth:`coverage` mask (known before reading it)."""
        m = self.scene.coarse_native
        if self._vrt is not None or m is None:
            return self.grid.height / _sample_shape(self.grid.height, self.grid.width)[0]
        return self.scene.height / m.shape[0] / self._s

    def coverage(self, within=None) -> tuple[np.ndarray, float]:
        """Valid-pixel mask of the model frame at <= ~1024 px a side (nearest-decimated, not
        widened: its mean is the scene's valid share), and its scale (model-frame px per mask
        px): mask[i, j] covers model rows ``[i*scale, (i+1)*scale)``.

        The open-time sample's mask when :func:`~detector.imagery.raster.open_scene` kept one;
        else read here, and, given ``within`` = ``(i0, i1, j0, j1)`` (mask cells), only over
        those cells (the rest count as valid): a large scene without overviews, whose whole
        mask would decode the whole file, reads only around its AOI. The first call's answer
        is kept."""
        from rasterio.errors import RasterioError

        with self._lock:
            if self._raw is None:
                m = self.scene.coarse_native
                if self._vrt is not None or m is None:
                    mh, mw = _sample_shape(self.grid.height, self.grid.width)
                    scale = self.grid.height / mh
                    try:
                        m = self._read_mask((mh, mw), scale, within)
                    except RasterioError as e:
                        raise SceneReadError(
                            f"{self.scene.path}: read failed ({_short(e)})"
                        ) from None
                else:
                    scale = self.scene.height / m.shape[0] / self._s
                m = np.array(m, dtype=bool)
                m.setflags(write=False)
                self._raw = (m, float(scale))
            return self._raw

    def _read_mask(self, shape: tuple[int, int], scale: float, within) -> np.ndarray:
        if within is None or self._vrt is not None:
            return _read_valid(self._ds, self._kind, self.scene.bands, out_shape=shape)
        m = np.ones(shape, dtype=bool)
        i0, i1, j0, j1 = within
        i0, j0 = max(0, int(i0)), max(0, int(j0))
        i1, j1 = min(shape[0], int(i1)), min(shape[1], int(j1))
        if i1 > i0 and j1 > j0:
            win = self._native_window(
                i0 * scale, j0 * scale,
                min(i1 * scale, self.grid.height), min(j1 * scale, self.grid.width),
            )  # fmt: skip
            m[i0:i1, j0:j1] = _read_valid(
                self._ds, self._kind, self.scene.bands, window=win, out_shape=(i1 - i0, j1 - j0)
            )
        return m

    def coarse_valid(self, within=None) -> tuple[np.ndarray, float]:
        """:meth:`coverage` (``within``: see there) widened by one mask pixel, for skipping
        tiles: conservative, as a pixel next to a valid sample pixel counts as valid (the
        sample is nearest-decimated).
        """
        from scipy.ndimage import binary_dilation

        raw, scale = self.coverage(within)
        with self._lock:
            if self._coarse is None:
                m = binary_dilation(raw, structure=np.ones((3, 3), bool))
                m.setflags(write=False)
                self._coarse = (m, scale)
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
